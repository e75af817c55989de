"""The key records (key, idempotency record, page), their statuses, and the storage
interface the key service is handed. No AWS here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from chalicelib.clock import iso
from chalicelib.trail import Event

PENDING = "pending"  # secret not yet delivered: never listed as active, never authorized
ACTIVE = "active"
REVOKED = "revoked"  # final
FAILED = "failed"  # a pending key the sweeper gave up on: never listed, never authorized
EXPIRED = "expired"  # derived from expires_at, never stored

LISTED_STATUSES = (ACTIVE, REVOKED)


def with_article(status: str) -> str:
    """A status as a sentence names it: "a revoked", "an expired", "an active"."""
    return f"{'an' if status[:1] in tuple('aeiou') else 'a'} {status}"


@dataclass
class KeyRecord:
    key_id: str
    community: str
    name: str
    description: str
    roles: list[str]
    status: str
    key_hash: str
    pepper_id: str
    hint: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    # The name of a person who created or revoked the key (``user:<sub>`` in *_by), as they signed in.
    created_by_name: str | None = None
    revoked_by_name: str | None = None
    revoke_reason: str | None = None
    last_used_at: datetime | None = None
    updated_at: datetime | None = None
    vault: dict[str, Any] | None = None
    rotated_from: str | None = None
    rotated_to: str | None = None
    grace_until: datetime | None = None
    # The usage plan and the API Gateway key that carries it (chalicelib.plans.usage_plans). The value
    # is a metering identifier for the authorizer's usageIdentifierKey, never shown to callers.
    plan: str | None = None
    gateway_key_id: str | None = None
    gateway_key_value: str | None = None
    version: int | None = None
    # The networks the key may be used from (chalicelib.authorizer.addresses); empty: any address.
    allowed_cidrs: list[str] = field(default_factory=list)

    def status_at(self, now: datetime) -> str:
        if self.status == ACTIVE and self.expires_at is not None and self.expires_at <= now:
            return EXPIRED
        return self.status

    def view(self, now: datetime) -> dict[str, Any]:
        """What callers see: never the hash, never the pepper id."""
        view: dict[str, Any] = {
            "id": self.key_id,
            "community": self.community,
            "name": self.name,
            "description": self.description,
            "roles": list(self.roles),
            "status": self.status_at(now),
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "revoked_at": iso(self.revoked_at),
            "revoked_by": self.revoked_by,
            "expires_at": iso(self.expires_at),
            "last_used_at": iso(self.last_used_at),
            "hint": self.hint,
            "plan": self.plan,
            "allowed_cidrs": list(self.allowed_cidrs),
        }
        for name in ("created_by_name", "revoked_by_name"):
            if getattr(self, name):
                view[name] = getattr(self, name)
        if self.vault:
            view["vault"] = {k: v for k, v in self.vault.items() if k != "token"}
        if self.rotated_from or self.rotated_to:
            view["rotated_from"] = self.rotated_from
            view["rotated_to"] = self.rotated_to
            view["grace_until"] = iso(self.grace_until)
        return view


@dataclass
class IdempotencyRecord:
    scope: str
    key_id: str
    fingerprint: str
    created_at: datetime


@dataclass
class Page:
    items: list[KeyRecord]
    last: KeyRecord | None  # the item to resume after, when more may follow


class Store(Protocol):
    def insert(
        self, key: KeyRecord, event: Event, idempotency: IdempotencyRecord | None, *, limit: int | None = None
    ) -> None:
        """Key, audit event and idempotency record in one transaction. AlreadyExists if taken
        (a retry that finds its own first attempt applied is a success); OverLimit if ``limit``
        is given and the community already holds that many live keys."""

    def get(self, key_id: str) -> KeyRecord | None:
        """One strongly consistent read by table key."""

    def get_many(self, key_ids: Sequence[str], *, last_use: bool = True) -> dict[str, KeyRecord]:
        """The keys that exist among ``key_ids``, by id: batched, strongly consistent reads
        (``last_use=False``: without reading their last use)."""

    def get_idempotency(self, scope: str) -> IdempotencyRecord | None: ...

    def update(self, key: KeyRecord, changes: dict[str, Any], event: Event) -> KeyRecord:
        """Apply ``changes`` if ``key.version`` is still current and the key is not revoked,
        together with ``event``. VersionConflict otherwise. Returns the new record."""

    def list_keys(
        self,
        community: str,
        status: str,
        search: str,
        limit: int,
        after: tuple[str, datetime] | None,
        now: datetime,
    ) -> Page:
        """Newest first; ``after`` is the (key id, created_at) to resume after."""

    def touch_last_used(self, key_id: str, now: datetime, interval_seconds: float) -> None:
        """Record a use of a key just verified active, unless one within the interval is recorded."""

    def list_events(
        self, community: str, key_id: str | None, limit: int, after: str | None
    ) -> tuple[list[Event], str | None]: ...

    def list_stuck_pending(self, older_than: datetime) -> Sequence[KeyRecord]: ...
