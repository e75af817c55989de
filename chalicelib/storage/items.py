"""The tables' items: a key record as the keys table holds it (its attributes, those the sparse
indexes are keyed on, and back), and an audit event as the events table holds it."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from chalicelib.keys.records import ACTIVE, LISTED_STATUSES, PENDING, KeyRecord
from chalicelib.storage.models import Models
from chalicelib.trail import Event

PENDING_BUCKET = "pending"
GRACE_BUCKET = "grace"
EXPIRY_BUCKET = "expiry"


def sort_key(created_at: datetime, key_id: str) -> str:
    return f"{created_at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{key_id}"


RECORD_FIELDS = (
    "key_id", "community", "name", "description", "status", "key_hash", "pepper_id", "hint",
    "created_at", "created_by", "expires_at", "revoked_at", "revoked_by", "revoke_reason",
    "last_used_at", "updated_at", "vault", "rotated_from", "rotated_to", "grace_until", "version",
    "plan", "gateway_key_id", "gateway_key_value", "created_by_name", "revoked_by_name",
)  # fmt: skip


def to_record(item: Any) -> KeyRecord:
    values = {name: getattr(item, name) for name in RECORD_FIELDS}
    return KeyRecord(roles=list(item.roles or []), allowed_cidrs=list(item.allowed_cidrs or []), **values)


def derived(key: KeyRecord) -> dict[str, Any]:
    """The attributes the indexes read, computed from the record (search reads ``search_entry``)."""
    listed = key.status in LISTED_STATUSES
    return {
        "created_sort": sort_key(key.created_at, key.key_id),
        "listed_in": key.community if listed else None,
        "listed_status": f"{key.community}#{key.status}" if listed else None,
        "pending_bucket": PENDING_BUCKET if key.status == PENDING else None,
        "grace_bucket": GRACE_BUCKET if key.status == ACTIVE and key.grace_until is not None else None,
        "expiry_bucket": EXPIRY_BUCKET if key.status == ACTIVE and key.expires_at is not None else None,
    }


def attributes(key: KeyRecord) -> dict[str, Any]:
    attributes = {name: getattr(key, name) for name in RECORD_FIELDS if name not in ("key_id", "version")}
    # An unrestricted key's item has no allowed_cidrs at all, as before the attribute existed.
    return {**attributes, "allowed_cidrs": key.allowed_cidrs or None}


def event_item(models: Models, event: Event) -> Any:
    if not event.event_id:
        event.event_id = f"{event.at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{event.key_id}#{secrets.token_hex(4)}"
    return models.KeyEvent(
        event.community,
        event.event_id,
        key_id=event.key_id,
        action=event.action,
        actor=event.actor,
        actor_name=event.actor_name,
        at=event.at,
        details=event.details,
    )
