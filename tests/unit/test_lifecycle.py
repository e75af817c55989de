"""Which audit events become lifecycle events, their shape, and how a partial failure is reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.keys.lifecycle import Publisher, detail_type, entry, from_stream_image
from chalicelib.trail import Event

AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def event(action: str, *, actor: str = "key:A", key_id: str = "K1", **details: Any) -> Event:
    return Event("demo", key_id, action, actor, AT, details, f"2026-12-06T12:00:00.000000Z#{key_id}#{action}")


@pytest.mark.parametrize(
    ("audit", "kind"),
    [
        (event("create", status="active"), "API key created"),
        (event("create", status="pending"), None),  # its secret is still on the way to a vault
        (event("activate"), "API key created"),
        (event("edit"), "API key edited"),
        (event("rotate"), "API key rotated"),
        (event("revoke"), "API key revoked"),
        (event("revoke", actor="rotation-scheduler"), "API key revoked"),
        (event("revoke", actor="leak-report"), "API key leaked"),
        (event("expiring"), "API key expiring"),
        (event("fail"), None),
        (event("resume"), None),
        (event("create", key_id="role:reader", status="active"), None),
    ],
)
def test_which_audit_events_are_published_and_as_what(audit, kind):
    assert detail_type(audit) == kind


def test_an_entry_carries_the_audit_id_the_view_and_no_secret_field():
    audit = event("edit", before={"name": "a"}, after={"name": "b"}, secret="apk_x", key_hash="h")
    view = {"id": "K1", "name": "b", "gateway_key_value": "gw"}
    made = entry(audit, "API key edited", view, bus="bus", source="apikeys")
    assert (made["Source"], made["DetailType"], made["EventBusName"], made["Time"]) == (
        "apikeys", "API key edited", "bus", AT,
    )  # fmt: skip
    detail = json.loads(made["Detail"])
    assert detail == {
        "id": audit.event_id, "community": "demo", "key_id": "K1", "action": "edit", "actor": "key:A",
        "actor_name": None, "at": "2026-12-06T12:00:00Z", "details": {"before": {"name": "a"}, "after": {"name": "b"}},
        "api_key": {"id": "K1", "name": "b"},
    }  # fmt: skip


def test_a_stream_image_reads_back_as_the_event_written():
    image = {
        "community": {"S": "demo"}, "event_id": {"S": "E1"}, "key_id": {"S": "K1"}, "action": {"S": "revoke"},
        "actor": {"S": "operator"}, "at": {"S": "2026-12-06T12:00:00.000000+0000"},
        "details": {"S": json.dumps({"reason": "r"})},
    }  # fmt: skip
    assert from_stream_image(image) == Event("demo", "K1", "revoke", "operator", AT, {"reason": "r"}, "E1")
    named = {**image, "actor": {"S": "user:abc"}, "actor_name": {"S": "Ada"}}
    assert from_stream_image(named).actor_name == "Ada"


class PartlyFailingEventBridge:
    """Stands in for EventBridge answering some entries with an error (moto never does): what
    PutEvents returns when a bus throttles or refuses one event of a batch."""

    def __init__(self, refuse: set[str]) -> None:
        self.refuse, self.calls = refuse, []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - botocore's name
        self.calls.append(len(Entries))
        results = [
            {"ErrorCode": "ThrottlingException"}
            if json.loads(e["Detail"])["key_id"] in self.refuse
            else {"EventId": "x"}
            for e in Entries
        ]
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def test_batches_of_ten_and_only_the_refused_positions_come_back():
    client = PartlyFailingEventBridge(refuse={"K3", "K17"})
    publisher = Publisher(lambda: client, lambda ids: {i: {"id": i} for i in ids}, "bus")
    records = [(f"seq{n}", event("edit", key_id=f"K{n}")) for n in range(25)]
    assert publisher.publish(records) == ["seq3", "seq17"]
    assert client.calls == [10, 10, 5]


def test_without_a_bus_nothing_is_called():
    client = PartlyFailingEventBridge(refuse=set())
    assert Publisher(lambda: client, lambda ids: {}, None).publish([("s", event("edit"))]) == []
    assert client.calls == []
