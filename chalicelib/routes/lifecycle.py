"""Lifecycle events: the audit table's stream published to EventBridge, and the daily expiry
reminders (chalicelib/keys/lifecycle.py)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from chalice import Blueprint, Rate
from chalice.app import DynamoDBEvent

from chalicelib import wiring

bp = Blueprint(__name__)
log = logging.getLogger("apikeys")

# Chalice writes this ARN into the package; the stack's merge template (CloudFormation) and
# override file (Terraform) replace it with the events table's own stream. `chalice deploy`,
# which creates no table, needs it set in the shell that deploys.
EVENTS_STREAM_ARN = os.environ.get(
    "APIKEYS_EVENTS_STREAM_ARN", "arn:aws:dynamodb:us-east-1:000000000000:table/apikeys-events/stream/from-the-stack"
)


@bp.on_dynamodb_record(stream_arn=EVENTS_STREAM_ARN, name="publish_events", batch_size=100,
                       starting_position="TRIM_HORIZON")  # fmt: skip
def publish_events(event: DynamoDBEvent) -> dict[str, Any]:
    """New audit events to the bus. A record that could not be sent is reported back (Lambda's
    ``ReportBatchItemFailures``): Lambda retries from it, then hands it to the failure destination."""
    from chalicelib.keys.lifecycle import from_stream_image

    records = [
        (record.sequence_number, from_stream_image(record.new_image))
        for record in event
        if record.event_name == "INSERT" and record.new_image
    ]
    failed = wiring.publisher().publish(records)
    log.info(json.dumps({"event": "lifecycle.publish", "records": len(records), "failed": len(failed)}))
    return {"batchItemFailures": [{"itemIdentifier": position} for position in failed]}


@bp.schedule(Rate(1, unit=Rate.DAYS), name="remind_expiring")
def remind_expiring(event: Any) -> dict[str, Any]:
    from chalicelib.clock import utcnow
    from chalicelib.keys.lifecycle import remind_expiring as remind

    written = remind(wiring.store(), utcnow())
    log.info(json.dumps({"event": "lifecycle.remind", "reminders": len(written)}))
    return {"reminders": len(written)}
