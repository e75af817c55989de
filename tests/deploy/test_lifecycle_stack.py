"""What the packaged stack declares for lifecycle events, in both formats: the events table's
stream feeds ``publish_events`` with retries, partial-batch answers and a failure destination;
the bus the functions name exists; the expiry reminders run daily and are dead-lettered."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.deploy.packaging import packaged
from tests.deploy.test_package import CONFIG, ROOT, STAGES, _tf

pytestmark = pytest.mark.slow


def _cfn(stage: str) -> dict[str, Any]:
    return json.loads((packaged(stage, "cloudformation") / "sam.json").read_text())["Resources"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("stage", STAGES)
def test_cloudformation_streams_the_audit_table_to_the_publisher(stage):
    resources = _cfn(stage)
    table = resources["KeyEventTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    publisher = resources["PublishEvents"]["Properties"]
    [source] = publisher["Events"].values()
    assert source["Type"] == "DynamoDB"
    p = source["Properties"]
    assert p["Stream"] == {"Fn::GetAtt": ["KeyEventTable", "StreamArn"]}
    assert p["StartingPosition"] == "TRIM_HORIZON"
    assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert p["MaximumRetryAttempts"] > 0 and p["BisectBatchOnFunctionError"] is True
    assert p["DestinationConfig"] == {
        "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["FailedInvocations", "Arn"]}}
    }
    bus = resources["EventBus"]
    assert bus["Type"] == "AWS::Events::EventBus"
    assert bus["Properties"]["Name"] == publisher["Environment"]["Variables"]["APIKEYS_EVENT_BUS"] == f"apikeys-{stage}"
    reminders = resources["RemindExpiring"]["Properties"]
    assert [e["Properties"]["Schedule"] for e in reminders["Events"].values()] == ["rate(1 day)"]
    assert reminders["DeadLetterQueue"]["TargetArn"] == {"Fn::GetAtt": ["FailedInvocations", "Arn"]}


@pytest.mark.parametrize("stage", STAGES)
def test_terraform_streams_the_audit_table_to_the_publisher(stage):
    resources = _tf({(stage, "terraform"): packaged(stage, "terraform")}, stage)["resource"]
    table = resources["aws_dynamodb_table"]["key_event"]
    assert (table["stream_enabled"], table["stream_view_type"]) == (True, "NEW_IMAGE")
    [mapping] = resources["aws_lambda_event_source_mapping"].values()
    assert mapping["event_source_arn"] == "${aws_dynamodb_table.key_event.stream_arn}"
    assert mapping["function_name"] == "${aws_lambda_function.publish_events.arn}"
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["maximum_retry_attempts"] > 0 and mapping["bisect_batch_on_function_error"] is True
    assert mapping["destination_config"] == [
        {"on_failure": [{"destination_arn": "${aws_sqs_queue.failed_invocations.arn}"}]}
    ]
    bus = resources["aws_cloudwatch_event_bus"]["lifecycle"]["name"]
    functions = resources["aws_lambda_function"]
    assert bus == functions["publish_events"]["environment"]["variables"]["APIKEYS_EVENT_BUS"]
    assert functions["remind_expiring"]["dead_letter_config"] == [
        {"target_arn": "${aws_sqs_queue.failed_invocations.arn}"}
    ]
    [rule] = [r for name, r in resources["aws_cloudwatch_event_rule"].items() if name.startswith("remind_expiring")]
    assert rule["schedule_expression"] == "rate(1 day)"


@pytest.mark.parametrize("stage", STAGES)
def test_the_publisher_may_read_only_its_stream_and_put_only_on_its_bus(stage):
    policy = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())["Statement"]
    events_table = CONFIG["stages"][stage]["environment_variables"]["APIKEYS_EVENTS_TABLE"]
    stream = [s for s in policy if "dynamodb:GetRecords" in s["Action"]]
    assert [s["Resource"] for s in stream] == [f"arn:aws:dynamodb:*:*:table/{events_table}/stream/*"]
    puts = [s for s in policy if any(a.startswith("events:") for a in s["Action"])]
    assert [(s["Action"], s["Resource"]) for s in puts] == [
        (["events:PutEvents"], f"arn:aws:events:*:*:event-bus/apikeys-{stage}")
    ]
