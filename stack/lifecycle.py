"""Lifecycle events (chalicelib/keys/lifecycle.py): the EventBridge bus, the events table's stream
wired to the ``publish_events`` function with retries and a failure destination, and the API
policy's rights to read that stream and put events on that bus.

Chalice writes a placeholder stream ARN into its package (it cannot name a table it does not
create); the merge template (CloudFormation) and the override file (Terraform) put the table's
own stream there.
"""

from __future__ import annotations

from typing import Any

from stack import tables
from stack.config import Stage
from stack.functions import cfn_function_id
from stack.observability import FAILED_QUEUE_CFN, FAILED_QUEUE_TF

PUBLISHER = "publish_events"
EVENT_SOURCE_MAPPING = f"{PUBLISHER}-dynamodb-event-source"  # Chalice's Terraform name for it
# Lambda retries a batch that reported failures this many times, halving it each time to find
# the record at fault, then sends what still fails to the failed-invocations queue.
STREAM_RETRIES = 10
STREAM_MAX_AGE_SECONDS = 24 * 3600


def bus_name(stage: Stage) -> str:
    return stage.prefix


def cloudformation(stage: Stage) -> dict[str, Any]:
    publisher = cfn_function_id(PUBLISHER)
    return {
        "EventBus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": bus_name(stage)}},
        publisher: {
            "Properties": {
                "Events": {
                    f"{publisher}DynamodbEventSource": {
                        "Properties": {
                            "Stream": {"Fn::GetAtt": [tables.cfn_logical_id(stage.models.KeyEvent), "StreamArn"]},
                            "MaximumRetryAttempts": STREAM_RETRIES,
                            "MaximumRecordAgeInSeconds": STREAM_MAX_AGE_SECONDS,
                            "BisectBatchOnFunctionError": True,
                            "FunctionResponseTypes": ["ReportBatchItemFailures"],
                            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": FAILED_QUEUE_CFN}},
                        }
                    }
                }
            }
        },
    }


def terraform(stage: Stage) -> dict[str, Any]:
    return {"aws_cloudwatch_event_bus": {"lifecycle": {"name": bus_name(stage)}}}


def terraform_overrides(stage: Stage) -> dict[str, Any]:
    events_table = tables.tf_name(stage.models.KeyEvent)
    return {
        "aws_lambda_event_source_mapping": {
            EVENT_SOURCE_MAPPING: {
                "event_source_arn": f"${{aws_dynamodb_table.{events_table}.stream_arn}}",
                "maximum_retry_attempts": STREAM_RETRIES,
                "maximum_record_age_in_seconds": STREAM_MAX_AGE_SECONDS,
                "bisect_batch_on_function_error": True,
                "function_response_types": ["ReportBatchItemFailures"],
                "destination_config": [{"on_failure": [{"destination_arn": FAILED_QUEUE_TF}]}],
            }
        }
    }


def policy_statements(stage: Stage) -> list[dict[str, Any]]:
    """``publish_events`` runs on the API policy: read the events table's stream, put events on
    this stage's bus and no other."""
    return [
        {
            "Sid": "EventsStream",
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            "Resource": tables.arn(stage.settings.events_table) + "/stream/*",
        },
        {
            "Sid": "EventBus",
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Resource": f"arn:aws:events:*:*:event-bus/{bus_name(stage)}",
        },
    ]
