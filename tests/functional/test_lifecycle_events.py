"""Lifecycle events on moto: the audit table's own stream records, fed to the stream handler as
Lambda's event source mapping feeds them, published to an EventBridge bus whose rule sends them
to an SQS queue the test reads. Daily expiry reminders go the same way."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from scripts.stream_poller import lambda_record
from tests.conftest import as_json, bearer

BUS = "apikeys-test"


@pytest.fixture
def bus(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The bus, a rule for every event of source ``apikeys`` and an SQS queue as its target."""
    from chalicelib import wiring
    from chalicelib.settings import get_settings

    monkeypatch.setenv("APIKEYS_EVENT_BUS", BUS)
    wiring.reset()
    get_settings()  # now, not inside a request: chalice.test's Client patches in the dev stage's settings
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=BUS)
    queue_url = sqs.create_queue(QueueName="key-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all-key-events", EventBusName=BUS, EventPattern=json.dumps({"source": ["apikeys"]}))
    events.put_targets(Rule="all-key-events", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


class Stream:
    """The events table's DynamoDB stream from the moment it is opened (LATEST: DynamoDB Local's
    stream keeps the records of earlier tests), read as Lambda's event source mapping reads it."""

    def __init__(self) -> None:
        from chalicelib.settings import get_settings

        table = boto3.client("dynamodb").describe_table(TableName=get_settings().events_table)["Table"]
        self.arn = table["LatestStreamArn"]
        # The streams of whichever DynamoDB holds the tables (DynamoDB Local under
        # DDB_BACKEND=dynamodb-local serves them at its own endpoint). For moto, the classic
        # endpoint: botocore derives an account-based one from the stream ARN, which moto does not serve.
        endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or "https://streams.dynamodb.us-east-1.amazonaws.com"
        self.client = boto3.client("dynamodbstreams", endpoint_url=endpoint)
        [shard] = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        self.iterator = self.client.get_shard_iterator(
            StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
        )["ShardIterator"]

    def next_batch(self) -> dict[str, Any]:
        """Lambda's event for the records written since the last batch."""
        records: list[dict[str, Any]] = []
        for _ in range(10):  # pages until one comes back empty: a stream may split its records
            answer = self.client.get_records(ShardIterator=self.iterator)
            self.iterator = answer["NextShardIterator"]
            if not answer["Records"]:
                break
            records += [lambda_record(record, self.arn) for record in answer["Records"]]
        return {"Records": records}


def publish(batch: dict[str, Any]) -> dict[str, Any]:
    from chalicelib.routes.lifecycle import publish_events

    answer: dict[str, Any] = publish_events(batch, None)
    return answer


def received(queue_url: str) -> list[dict[str, Any]]:
    sqs, messages = boto3.client("sqs"), []
    while True:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        if not answer.get("Messages"):
            return messages
        for message in answer["Messages"]:
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_a_keys_life_reaches_the_bus_once_each_never_its_secret(client, admin, bus):
    admin_id, admin_secret = admin
    stream = Stream()
    created = client.http.post("/communities/demo/apikeys", headers=bearer(admin_secret),
                               body=as_json({"name": "CTI", "roles": ["ic_viewer"]})).json_body  # fmt: skip
    key_id = created["api_key"]["id"]
    client.http.patch(f"/communities/demo/apikeys/{key_id}", headers=bearer(admin_secret),
                      body=as_json({"description": "feed"}))  # fmt: skip
    rotated = client.http.post(f"/communities/demo/apikeys/{key_id}/rotate", headers=bearer(admin_secret),
                               body=as_json({"grace": "immediate"})).json_body  # fmt: skip
    new_id = rotated["api_key"]["id"]
    client.http.post(f"/communities/demo/apikeys/{new_id}/revoke", headers=bearer(admin_secret))

    batch = stream.next_batch()
    assert publish(batch) == {"batchItemFailures": []}
    # Only this test's keys: DynamoDB Local's stream still holds the records of earlier tests,
    # whose tables were emptied since (moto starts afresh).
    events = [e for e in received(bus) if e["detail"]["key_id"] in {admin_id, key_id, new_id}]

    of_key = [(e["detail-type"], e["detail"]["action"]) for e in events if e["detail"]["key_id"] == key_id]
    assert of_key[:2] == [("API key created", "create"), ("API key edited", "edit")]
    assert ("API key rotated", "rotate") in of_key
    of_new = [e["detail-type"] for e in events if e["detail"]["key_id"] == new_id]
    assert of_new == ["API key rotated", "API key revoked"]
    for event in events:
        assert event["source"] == "apikeys"
        detail = event["detail"]
        assert detail["community"] == "demo" and detail["actor"] in (f"key:{admin_id}", "operator")
        assert detail["api_key"]["id"] == detail["key_id"]
        assert "key_hash" not in json.dumps(detail["api_key"])
    ids = [e["detail"]["id"] for e in events]
    assert len(ids) == len(set(ids)), "each audit event once, with its own id"
    text = json.dumps(events)
    for secret in (admin_secret, created["secret"], rotated["secret"]):
        assert secret not in text and secret.split("_", 1)[1] not in text
    # The audit trail says the same: every published id is an audit event of the community.
    trail = client.http.get("/communities/demo/events?limit=100", headers=bearer(admin_secret)).json_body["items"]
    assert set(ids) <= {e["id"] for e in trail}


def test_a_failed_put_events_is_reported_and_a_retry_publishes_it(client, admin, moto_aws, monkeypatch):
    """No bus yet: every record is reported back, so Lambda retries the batch (and, past its
    retries, hands it to the failure destination the stack declares); once the bus exists the
    same batch goes through."""
    from chalicelib import wiring
    from chalicelib.settings import get_settings

    monkeypatch.setenv("APIKEYS_EVENT_BUS", BUS)
    wiring.reset()
    get_settings()
    _, admin_secret = admin
    stream = Stream()
    client.http.post("/communities/demo/apikeys", headers=bearer(admin_secret),
                     body=as_json({"name": "CTI", "roles": ["ic_viewer"]}))  # fmt: skip
    batch = stream.next_batch()
    positions = [r["dynamodb"]["SequenceNumber"] for r in batch["Records"]]

    failures = publish(batch)["batchItemFailures"]
    assert failures and {f["itemIdentifier"] for f in failures} <= set(positions)

    boto3.client("events").create_event_bus(Name=BUS)
    assert publish(batch) == {"batchItemFailures": []}


def test_without_a_bus_nothing_is_sent_and_nothing_fails(client, admin):
    _, admin_secret = admin
    stream = Stream()
    client.http.post("/communities/demo/apikeys", headers=bearer(admin_secret),
                     body=as_json({"name": "CTI", "roles": ["ic_viewer"]}))  # fmt: skip
    assert publish(stream.next_batch()) == {"batchItemFailures": []}


def test_expiry_reminders_once_at_seven_days_and_at_one_day(client, admin, bus):
    from chalicelib.clock import iso, utcnow
    from chalicelib.routes.lifecycle import remind_expiring

    _, admin_secret = admin
    now = utcnow()

    def create(name: str, expires_in: timedelta) -> str:
        body = {"name": name, "roles": ["ic_viewer"], "expires_at": iso(now + expires_in)}
        answer = client.http.post("/communities/demo/apikeys", headers=bearer(admin_secret), body=as_json(body))
        assert answer.status_code == 201, answer.body
        return str(answer.json_body["api_key"]["id"])

    soon, tomorrow = create("soon", timedelta(days=3)), create("tomorrow", timedelta(hours=12))
    later = create("later", timedelta(days=20))
    revoked = create("revoked", timedelta(days=2))
    client.http.post(f"/communities/demo/apikeys/{revoked}/revoke", headers=bearer(admin_secret))
    stream = Stream()
    stream.next_batch()  # what came before the reminders

    scheduled = json.loads((Path(__file__).parents[1] / "events" / "scheduled.json").read_text())
    assert remind_expiring(scheduled, None) == {"reminders": 2}
    assert remind_expiring(scheduled, None) == {"reminders": 0}, "once per key and reminder"
    assert publish(stream.next_batch()) == {"batchItemFailures": []}

    reminders = {e["detail"]["key_id"]: e for e in received(bus) if e["detail-type"] == "API key expiring"}
    assert set(reminders) == {soon, tomorrow}
    assert reminders[soon]["detail"]["details"]["reminder"] == "7d"
    assert reminders[tomorrow]["detail"]["details"]["reminder"] == "1d"
    assert later not in reminders and revoked not in reminders
    assert reminders[soon]["detail"]["api_key"]["name"] == "soon"
