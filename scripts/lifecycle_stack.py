"""What the stack declares for lifecycle events (chalicelib/keys/lifecycle.py): the EventBridge
bus, the events table's stream wired to the ``publish_events`` function with retries and a
failure destination, and the API policy's rights to read that stream and put events on that bus.

Chalice writes a placeholder stream ARN into its package (it cannot name a table it does not
create); the merge template (CloudFormation) and the override file (Terraform) put the table's
own stream there.
"""

from __future__ import annotations

from typing import Any

PUBLISHER = "publish_events"
PUBLISHER_CFN = "PublishEvents"
EVENT_SOURCE_MAPPING = f"{PUBLISHER}-dynamodb-event-source"
# Lambda retries a batch that reported failures this many times, halving it each time to find
# the record at fault, then sends what still fails to the failed-invocations queue.
STREAM_RETRIES = 10
STREAM_MAX_AGE_SECONDS = 24 * 3600
FAILED_QUEUE_ARN = {"Fn::GetAtt": ["FailedInvocations", "Arn"]}  # observability.py's queue


def bus_name(config: dict[str, Any], stage: str) -> str:
    return f"{config['app_name']}-{stage}"


def cloudformation(config: dict[str, Any], stage: str) -> dict[str, Any]:
    return {
        "EventBus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": bus_name(config, stage)}},
        PUBLISHER_CFN: {
            "Properties": {
                "Events": {
                    "PublishEventsDynamodbEventSource": {
                        "Properties": {
                            "Stream": {"Fn::GetAtt": ["KeyEventTable", "StreamArn"]},
                            "MaximumRetryAttempts": STREAM_RETRIES,
                            "MaximumRecordAgeInSeconds": STREAM_MAX_AGE_SECONDS,
                            "BisectBatchOnFunctionError": True,
                            "FunctionResponseTypes": ["ReportBatchItemFailures"],
                            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": FAILED_QUEUE_ARN}},
                        }
                    }
                }
            }
        },
    }


def terraform(config: dict[str, Any], stage: str) -> dict[str, Any]:
    return {"aws_cloudwatch_event_bus": {"lifecycle": {"name": bus_name(config, stage)}}}


def terraform_overrides() -> dict[str, Any]:
    return {
        "aws_lambda_event_source_mapping": {
            EVENT_SOURCE_MAPPING: {
                "event_source_arn": "${aws_dynamodb_table.key_event.stream_arn}",
                "maximum_retry_attempts": STREAM_RETRIES,
                "maximum_record_age_in_seconds": STREAM_MAX_AGE_SECONDS,
                "bisect_batch_on_function_error": True,
                "function_response_types": ["ReportBatchItemFailures"],
                "destination_config": [
                    {"on_failure": [{"destination_arn": "${aws_sqs_queue.failed_invocations.arn}"}]}
                ],
            }
        }
    }


def policy_statements(config: dict[str, Any], stage: str, events_table: str) -> list[dict[str, Any]]:
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
            "Resource": f"arn:aws:dynamodb:*:*:table/{events_table}/stream/*",
        },
        {
            "Sid": "EventBus",
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Resource": f"arn:aws:events:*:*:event-bus/{bus_name(config, stage)}",
        },
    ]
