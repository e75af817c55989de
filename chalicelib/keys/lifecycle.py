"""Lifecycle events: every new audit event, published to EventBridge for other systems to act on.

The audit table is the outbox. Each change writes its audit event in the key's own transaction;
the table's DynamoDB stream hands each new item to ``publish`` (a Chalice stream handler on
Lambda, a poller in the local run), which sends it to the bus named by ``APIKEYS_EVENT_BUS``. So
no event is lost when a request dies after its write, and none is sent for a change that did not
happen. Delivery is at least once: each event carries the audit event's id for consumers to drop
duplicates.

An event (``detail-type`` one of ``DETAIL_TYPES``'s values, or ``API key leaked``):

    {"id": audit event id, "community": ..., "key_id": ..., "action": ..., "actor": ...,
     "actor_name": a person's name or null, "at": ISO-8601,
     "details": the audit event's details, "api_key": the key's view}

``api_key`` is the key's view when the event is published (never the secret or its hash).
Internal steps (``fail``, ``resume``, the ``create`` of a key whose secret is still on its way to
a vault) and custom-role changes are not published.

``remind_expiring`` (a daily schedule) records an ``expiring`` audit event once per key at 7 days
and at 1 day before its expiry, so the stream publishes it like any other.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.clock import iso
from chalicelib.keys.records import ACTIVE, KeyRecord
from chalicelib.trail import Event

log = logging.getLogger("apikeys")

DETAIL_TYPES = {
    "create": "API key created",
    "activate": "API key created",  # a vaulted key is created when its secret reached the vault
    "edit": "API key edited",
    "rotate": "API key rotated",
    "revoke": "API key revoked",
    "expiring": "API key expiring",
}
LEAKED = "API key leaked"
LEAK_ACTOR = "leak-report"  # chalicelib/keys/leaks.py's actor
REMINDER_ACTOR = "expiry-reminder"
REMINDERS = (("7d", timedelta(days=7)), ("1d", timedelta(days=1)))
PUT_EVENTS_BATCH = 10  # EventBridge's limit of entries per PutEvents
_SECRET_FIELDS = frozenset({"secret", "plaintext", "key_hash", "hash", "pepper_id", "token", "gateway_key_value"})


def detail_type(event: Event) -> str | None:
    """The ``detail-type`` an audit event is published under, or None for what is not published."""
    if event.key_id.startswith("role:"):
        return None
    if event.action == "create" and event.details.get("status") != ACTIVE:
        return None
    if event.action == "revoke" and event.actor == LEAK_ACTOR:
        return LEAKED
    return DETAIL_TYPES.get(event.action)


def from_stream_image(image: dict[str, Any]) -> Event:
    """A stream record's ``NewImage`` of the events table, as PynamoDB wrote it."""
    from chalicelib.keys.reader import parse_datetime

    def text(name: str) -> str:
        return str(image[name]["S"])

    details = json.loads(image["details"]["S"]) if "S" in image.get("details", {}) else {}
    actor_name = image.get("actor_name", {}).get("S")
    return Event(
        text("community"), text("key_id"), text("action"), text("actor"), parse_datetime(text("at")),
        details, text("event_id"), actor_name,
    )  # fmt: skip


def scrub(value: Any) -> Any:
    """No field named like a secret leaves, however a writer filled the details."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if str(k).lower() not in _SECRET_FIELDS}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


def entry(event: Event, kind: str, key_view: dict[str, Any] | None, *, bus: str, source: str) -> dict[str, Any]:
    """One PutEvents entry."""
    detail = {
        "id": event.event_id,
        "community": event.community,
        "key_id": event.key_id,
        "action": event.action,
        "actor": event.actor,
        "actor_name": event.actor_name,
        "at": iso(event.at),
        "details": scrub(event.details),
        "api_key": scrub(key_view),
    }
    return {
        "Source": source,
        "DetailType": kind,
        "Detail": json.dumps(detail, sort_keys=True),
        "EventBusName": bus,
        "Time": event.at,
    }


@dataclass(frozen=True)
class Publisher:
    """Sends audit events to the bus. ``views`` reads the keys' views by id (one BatchGetItem)."""

    client: Callable[[], Any]  # an EventBridge client, made on first use
    views: Callable[[Sequence[str]], dict[str, dict[str, Any]]]
    bus: str | None
    source: str = "apikeys"

    def publish(self, records: Iterable[tuple[str, Event]]) -> list[str]:
        """``(position, audit event)`` pairs in stream order; returns the positions not published
        (Lambda retries from the first of them). Nothing to send without a bus."""
        chosen = [(position, event, kind) for position, event in records if (kind := detail_type(event))]
        if self.bus is None or not chosen:
            return []
        views = self.views(sorted({event.key_id for _, event, _ in chosen}))
        failed: list[str] = []
        for start in range(0, len(chosen), PUT_EVENTS_BATCH):
            batch = chosen[start : start + PUT_EVENTS_BATCH]
            entries = [entry(e, kind, views.get(e.key_id), bus=self.bus, source=self.source) for _, e, kind in batch]
            try:
                answer = self.client().put_events(Entries=entries)
            except Exception as error:  # noqa: BLE001 - botocore's errors, whatever their class
                log.warning("PutEvents failed: %s", type(error).__name__)
                failed += [position for position, _, _ in batch]
                continue
            for (position, event, _), result in zip(batch, answer.get("Entries", []), strict=False):
                if "ErrorCode" in result:
                    log.warning("PutEvents refused event %s: %s", event.event_id, result["ErrorCode"])
                    failed.append(position)
        return failed


class ReminderStore(Protocol):
    """What the expiry reminders read and write (``storage.key_store.DynamoStore`` is one)."""

    def list_expiring(self, start: datetime, end: datetime) -> Sequence[KeyRecord]:
        """Active keys whose expiry falls in ``(start, end]``."""

    def record_once(self, event: Event) -> bool:
        """Write an audit event whose id says what it is once; False if it was written before."""


def remind_expiring(store: ReminderStore, now: datetime) -> list[str]:
    """Record one ``expiring`` audit event per key and reminder (7 days, 1 day before its expiry)
    for the active keys expiring within 7 days; returns the audit event ids written. Each
    reminder's id is fixed by the key and the reminder, so a second run writes nothing again."""
    written = []
    horizon = max(ahead for _, ahead in REMINDERS)
    for key in store.list_expiring(now, now + horizon):
        assert key.expires_at is not None
        left = key.expires_at - now
        name, ahead = min(((n, a) for n, a in REMINDERS if left <= a), key=lambda reminder: reminder[1])
        due = key.expires_at - ahead
        event = Event(
            key.community, key.key_id, "expiring", REMINDER_ACTOR, now,
            {"expires_at": iso(key.expires_at), "reminder": name},
            f"{due.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{key.key_id}#expiring-{name}",
        )  # fmt: skip
        if store.record_once(event):
            written.append(event.event_id)
    return written
