"""Rotate a key with a grace period, and the schedule that records the end of each grace."""

from __future__ import annotations

import json
import logging
from typing import Any

from chalice import Blueprint, Rate, Response

from chalicelib import metrics, wiring
from chalicelib.routes.auth import app_authorizer
from chalicelib.routes.common import caller_of, json_body, service_errors

bp = Blueprint(__name__)
log = logging.getLogger("apikeys.rotation")


@bp.route("/communities/{community}/apikeys/{key_id}/rotate", methods=["POST"], authorizer=app_authorizer)
def rotate_key(community: str, key_id: str) -> Response:
    request = bp.current_request
    with service_errors():
        rotated = wiring.rotation().rotate(caller_of(request), community, key_id, json_body(request))
        now = wiring.service().clock()
    # This container sees the old key's deadline at once, whatever its cache TTL.
    wiring.verifier().forget(key_id)
    metrics.count("api", "KeysRotated")
    body: dict[str, Any] = {"api_key": rotated.new.view(now), "previous": rotated.old.view(now)}
    if rotated.secret is not None:
        body["secret"] = rotated.secret
    return Response(body=body, status_code=201, headers={"Cache-Control": "no-store"})


@bp.schedule(Rate(5, unit=Rate.MINUTES), name="finish_grace")
def finish_grace(event: Any) -> dict[str, Any]:
    """The authorizer refuses a key from its grace deadline on; this records the revocation."""
    finished = wiring.rotation().finish_grace()
    log.info(json.dumps({"event": "rotation.grace_finished", "revoked": finished}))
    metrics.count("grace", "GraceFinished", len(finished))
    return {"revoked": finished}
