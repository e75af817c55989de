"""What a decision costs in DynamoDB capacity, as DynamoDB Local reports it
(``ReturnConsumedCapacity=INDEXES``): one strongly consistent read of the key, and, once per key
and interval, the last-use write, which no index holds (1 WRU whatever the key's size). The list
still shows that last use.

moto answers every call with one capacity unit whatever the indexes, so these tests run on
DynamoDB Local whichever backend ``DDB_BACKEND`` names.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from chalicelib import wiring
from chalicelib.clock import iso
from chalicelib.roles.caller import Caller
from tests.conftest import make_key
from tests.deploy.dynamodb_local import CapacityLog

pytestmark = pytest.mark.slow

LONGEST = {"name": "n" * 100, "description": "d" * 1000}  # the key item at its largest: over 1 KB


@pytest.fixture
def capacity(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[CapacityLog]:
    """The suite's AWS (``moto_aws``) with DynamoDB on DynamoDB Local, and the capacity the
    authorizer's client consumes from here on."""
    monkeypatch.setenv("DDB_BACKEND", "dynamodb-local")
    monkeypatch.setenv("APIKEYS_LAST_USED_INTERVAL", "60")
    request.getfixturevalue("moto_aws")
    yield CapacityLog().attach(wiring.key_reader().client)


def test_a_decision_reads_one_unit_and_records_its_use_in_one(capacity: CapacityLog) -> None:
    key_id, secret = make_key(roles=("ic_viewer",), **LONGEST)
    capacity.clear()
    wiring.verifier().authorize(f"Bearer {secret}", face="gateway", method="GET", path="/intelligence/reports/1")
    assert [name for name, _ in capacity.calls] == ["GetItem", "UpdateItem"]
    assert capacity.units("GetItem") == 1  # strongly consistent, under 4 KB
    assert capacity.units("UpdateItem") <= 1
    assert capacity.index_units() == {}, "no index is written for a use"
    capacity.clear()
    wiring.verifier().authorize(f"Bearer {secret}", face="gateway", method="GET", path="/intelligence/reports/1")
    assert [name for name, _ in capacity.calls] == ["GetItem"], "within the interval: no write"


def test_the_instrument_counts_index_writes(capacity: CapacityLog) -> None:
    """The same attribute set on the key's own item, as before last-use items: the key is
    written again into both listing indexes, which project every attribute, and each write is
    rounded up to 1 KB. What the test above would see if a use were recorded there."""
    key_id, _ = make_key(roles=("ic_viewer",), **LONGEST)
    settings_table = wiring.key_reader().table
    capacity.clear()
    wiring.key_reader().client.update_item(
        TableName=settings_table,
        Key={"key_id": {"S": key_id}},
        UpdateExpression="SET last_used_at = :now",
        ExpressionAttributeValues={":now": {"S": "2030-01-01T00:00:00.000000+0000"}},
    )
    assert set(capacity.index_units()) == {"community-created", "community-status-created"}
    assert capacity.units("UpdateItem") >= 3


def test_the_list_and_the_key_show_the_last_use(capacity: CapacityLog) -> None:
    key_id, secret = make_key(roles=("ic_viewer",))
    other_id, _ = make_key(roles=("ic_viewer",))
    before = datetime.now(UTC)
    wiring.verifier().authorize(f"Bearer {secret}", face="gateway")
    service, operator = wiring.service(), Caller.operator("demo")
    listed = {key["id"]: key for key in service.list(operator, "demo", {})["items"]}
    assert listed[key_id]["last_used_at"] is not None and listed[other_id]["last_used_at"] is None
    shown = service.get(operator, "demo", key_id).last_used_at
    assert shown is not None and shown >= before
    assert listed[key_id]["last_used_at"] == iso(shown)
    searched = service.list(operator, "demo", {"search": key_id})["items"]
    assert [key["last_used_at"] for key in searched] == [listed[key_id]["last_used_at"]]
