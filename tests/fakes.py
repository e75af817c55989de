"""An in-memory ``Store`` with the same guarantees as DynamoStore, for unit tests."""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.errors import AlreadyExists, OverLimit, VersionConflict
from chalicelib.keys.records import ACTIVE, LISTED_STATUSES, PENDING, REVOKED, IdempotencyRecord, KeyRecord, Page
from chalicelib.trail import Event


class InMemoryStore:
    def __init__(self) -> None:
        self.keys: dict[str, KeyRecord] = {}
        self.events: list[Event] = []
        self.idempotency: dict[str, IdempotencyRecord] = {}
        self.gets = 0
        self.batch_gets = 0
        self._lock = threading.Lock()

    def insert(
        self, key: KeyRecord, event: Event, idempotency: IdempotencyRecord | None, *, limit: int | None = None
    ) -> None:
        with self._lock:
            if key.key_id in self.keys or (idempotency and idempotency.scope in self.idempotency):
                raise AlreadyExists()
            if limit is not None and self._live_count(key.community) >= limit:
                raise OverLimit()
            key.version = 1
            self.keys[key.key_id] = copy.deepcopy(key)
            self.events.append(event)
            if idempotency:
                self.idempotency[idempotency.scope] = idempotency

    def get(self, key_id: str) -> KeyRecord | None:
        self.gets += 1
        key = self.keys.get(key_id)
        return copy.deepcopy(key) if key else None

    def get_many(self, key_ids: Sequence[str], *, last_use: bool = True) -> dict[str, KeyRecord]:
        self.batch_gets += 1
        return {key_id: copy.deepcopy(self.keys[key_id]) for key_id in key_ids if key_id in self.keys}

    def get_idempotency(self, scope: str) -> IdempotencyRecord | None:
        return self.idempotency.get(scope)

    def update(self, key: KeyRecord, changes: dict[str, Any], event: Event) -> KeyRecord:
        with self._lock:
            current = self.keys.get(key.key_id)
            if current is None or current.version != key.version or current.status == REVOKED:
                raise VersionConflict()
            updated = KeyRecord(**{**current.__dict__, **copy.deepcopy(changes)})
            updated.version = (current.version or 0) + 1
            self.keys[key.key_id] = updated
            self.events.append(event)
            return copy.deepcopy(updated)

    def rotate(
        self,
        old: KeyRecord,
        old_changes: dict[str, Any],
        old_event: Event,
        new: KeyRecord,
        new_event: Event,
        *,
        limit: int | None = None,
    ) -> KeyRecord:
        with self._lock:
            current = self.keys.get(old.key_id)
            if new.key_id in self.keys:
                raise AlreadyExists()
            if current is None or current.version != old.version or current.status == REVOKED:
                raise VersionConflict()
            updated = KeyRecord(**{**current.__dict__, **copy.deepcopy(old_changes)})
            added = _live(new) + _live(updated) - _live(current)
            if limit is not None and added > 0 and self._live_count(old.community) + added > limit:
                raise OverLimit()
            updated.version = (current.version or 0) + 1
            new.version = 1
            self.keys[new.key_id] = copy.deepcopy(new)
            self.keys[old.key_id] = updated
            self.events.extend([new_event, old_event])
            return copy.deepcopy(updated)

    def _live_count(self, community: str) -> int:
        return sum(k.community == community and _live(k) for k in self.keys.values())

    def list_keys(
        self, community: str, status: str, search: str, limit: int, after: tuple[str, datetime] | None, now: datetime
    ) -> Page:
        def visible(key: KeyRecord) -> bool:
            if key.community != community or key.status not in LISTED_STATUSES:
                return False
            shown = key.status_at(now)
            if status != "all" and shown != status:
                return False
            haystack = "\n".join((key.name, key.description, key.key_id)).casefold()
            return search.casefold() in haystack

        ordered = sorted(
            (k for k in self.keys.values() if visible(k)), key=lambda k: (k.created_at, k.key_id), reverse=True
        )
        if after is not None:
            ordered = [k for k in ordered if (k.created_at, k.key_id) < (after[1], after[0])]
        items = [copy.deepcopy(k) for k in ordered[: limit + 1]]
        if len(items) > limit:
            return Page(items[:limit], items[limit - 1])
        return Page(items, None)

    def touch_last_used(self, key_id: str, now: datetime, interval_seconds: float) -> None:
        key = self.keys.get(key_id)
        if key and key.status == ACTIVE:
            key.last_used_at = now

    def list_events(
        self, community: str, key_id: str | None, limit: int, after: str | None
    ) -> tuple[list[Event], str | None]:
        events = [e for e in reversed(self.events) if e.community == community and key_id in (None, e.key_id)]
        return events[:limit], None

    def list_stuck_pending(self, older_than: datetime) -> Sequence[KeyRecord]:
        return [copy.deepcopy(k) for k in self.keys.values() if k.status == PENDING and k.created_at < older_than]


def _live(key: KeyRecord) -> int:
    """1 for a key the live-key cap counts: active (in a rotation grace period or not) or pending."""
    return 1 if key.status in (ACTIVE, PENDING) else 0
