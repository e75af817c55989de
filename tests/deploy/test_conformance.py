"""Where moto and DynamoDB Local disagree, pinned down: each case states what each backend does
and why the code does not depend on the difference. Runs on whichever backend DDB_BACKEND picks
(`make test` runs it on both)."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.deploy.dynamodb_local import DYNAMODB_LOCAL, backend

REFUSED = "ValidationException"


@pytest.fixture
def table(moto_aws):
    client = boto3.client("dynamodb")
    name = f"conformance-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("k", "g", "s")],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "g-s", "Projection": {"ProjectionType": "ALL"},
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "s", "KeyType": "RANGE"}],
        }],
    )  # fmt: skip
    for i in range(10):
        client.put_item(TableName=name, Item={"k": {"S": f"k{i}"}, "g": {"S": "x"}, "s": {"S": f"{i:02d}"},
                                              "odd": {"BOOL": i % 2 == 1}})  # fmt: skip
    yield client, name
    client.delete_table(TableName=name)


def _outcome(call) -> str:
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    except TypeError:
        return "crash"  # moto's own bug, raised inside the in-process mock
    return "ok"


def _expect(moto: str, dynamodb_local: str) -> str:
    return dynamodb_local if backend() == DYNAMODB_LOCAL else moto


def test_limit_applies_before_the_filter_on_both(table):
    """Agreed (as on AWS): list_keys asks for limit+1 and pages on, so a sparse search still fills pages."""
    client, name = table
    page = client.query(TableName=name, IndexName="g-s", KeyConditionExpression="g = :g", FilterExpression="odd = :t",
                        ExpressionAttributeValues={":g": {"S": "x"}, ":t": {"BOOL": True}}, Limit=4)  # fmt: skip
    assert (page["ScannedCount"], page["Count"], "LastEvaluatedKey" in page) == (4, 2, True)


def test_enabling_ttl_twice(table):
    """DynamoDB Local (like AWS) refuses to enable TTL that is on; moto accepts. create_tables runs
    update_ttl with ignore_update_ttl_errors, so `init` may run again on any backend."""
    client, name = table
    spec = {"AttributeName": "expires", "Enabled": True}
    client.update_time_to_live(TableName=name, TimeToLiveSpecification=spec)
    assert _outcome(lambda: client.update_time_to_live(TableName=name, TimeToLiveSpecification=spec)) == _expect(
        "ok", REFUSED
    )


def test_create_tables_is_repeatable(moto_aws):
    from chalicelib.settings import get_settings
    from chalicelib.storage.models import create_tables, models_for

    create_tables(models_for(get_settings()))
    create_tables(models_for(get_settings()))


def test_filter_on_an_index_key_attribute(table):
    """DynamoDB Local (like AWS) refuses a filter on the queried index's key; moto filters. The store
    filters only on non-key attributes (a search entry's text, expires_at, community on the key-events index)."""
    client, name = table
    outcome = _outcome(lambda: client.query(
        TableName=name, IndexName="g-s", KeyConditionExpression="g = :g", FilterExpression="contains(s, :v)",
        ExpressionAttributeValues={":g": {"S": "x"}, ":v": {"S": "0"}},
    ))  # fmt: skip
    assert outcome == _expect("ok", REFUSED)


def test_start_key_from_another_partition(table):
    """DynamoDB Local refuses it; moto returns an empty page. Cursors are signed and the store builds
    the start key from the request's own partition, so neither answer is reachable from outside."""
    client, name = table
    outcome = _outcome(lambda: client.query(
        TableName=name, IndexName="g-s", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "x"}},
        ExclusiveStartKey={"k": {"S": "k3"}, "g": {"S": "other"}, "s": {"S": "03"}},
    ))  # fmt: skip
    assert outcome == _expect("ok", REFUSED)


def test_start_key_without_the_index_keys(table):
    """DynamoDB Local refuses it; moto fails inside its mock (TypeError). The store always sends the
    table key and the index keys together."""
    client, name = table
    outcome = _outcome(lambda: client.query(
        TableName=name, IndexName="g-s", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "x"}},
        ExclusiveStartKey={"k": {"S": "k3"}},
    ))  # fmt: skip
    assert outcome == _expect("crash", REFUSED)


def test_wrong_type_for_an_index_key(table):
    """DynamoDB Local (like AWS) refuses a number where the index key is a string; moto stores it.
    Every index key in the models is a UnicodeAttribute or a UTCDateTimeAttribute (a string)."""
    client, name = table
    outcome = _outcome(lambda: client.put_item(TableName=name, Item={"k": {"S": "w"}, "g": {"N": "1"}}))
    assert outcome == _expect("ok", REFUSED)
