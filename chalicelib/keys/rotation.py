"""Rotation with a grace period. Knows nothing of HTTP or AWS.

Rotating a key makes a new key with the same name, description, roles, expiry and vault
target (the service's create path: a vaulted key is pending until its vault holds the secret).
The old key keeps working until its grace deadline (never past its own expiry); from then on the
authorizer refuses it (``grace_until <= now``), and ``finish_grace``, run on a schedule,
records its revocation. Both keys link to each other (``rotated_from`` / ``rotated_to``) and
each gets a ``rotate`` audit event.

Without a vault, the new key, the old key's link and deadline and both events are one
transaction. With a vault or a usage plan the new key is first inserted pending, then delivered, then the old key
is linked: a crash in between leaves the old key working and unlinked, so rotating again is safe.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.clock import iso
from chalicelib.errors import (
    AlreadyExists,
    Conflict,
    OverLimit,
    ServiceError,
    StoreError,
    ValidationError,
    VersionConflict,
)
from chalicelib.keys import format as key_format
from chalicelib.keys.records import ACTIVE, PENDING, REVOKED, KeyRecord, with_article
from chalicelib.keys.service import EDIT_RETRIES, CreateRequest, KeyService, RotateRequest, _audit_fields
from chalicelib.roles.caller import Caller
from chalicelib.trail import Event

log = logging.getLogger(__name__)

GRACE_PERIODS: dict[str, timedelta] = {
    "immediate": timedelta(0),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
SCHEDULER = "rotation-scheduler"
GRACE_ENDED = "rotated: grace period ended"


class RotationStore(Protocol):
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
        """The new key, the old key's changes and both events in one transaction. AlreadyExists
        if the new id is taken, VersionConflict if the old key changed meanwhile, OverLimit if the
        rotation adds a live key (the old one stays in grace) to a community holding ``limit``."""

    def list_grace_ended(self, now: datetime) -> Sequence[KeyRecord]: ...


@dataclass
class Rotated:
    new: KeyRecord
    old: KeyRecord
    secret: str | None


class Rotation:
    def __init__(self, service: KeyService, store: RotationStore) -> None:
        self.service = service
        self.store = store

    def rotate(self, caller: Caller, community: str, key_id: str, body: Any) -> Rotated:
        service = self.service
        service.authorize_manage(caller, community)
        request = service.bodies.rotate_request(body)
        for _ in range(EDIT_RETRIES):
            old = service.load_key(community, key_id)
            now = service.clock()
            self._may_rotate(old, now)
            service.authorize_change(caller, old)
            if not request.reveal and not old.vault:
                raise ValidationError("reveal", "false needs a key with a vault: the secret would be lost")
            grace_until = self._deadline(old, request.grace, now)
            secret = key_format.generate(service.key_prefix)
            location = None
            if old.vault:
                target = str(old.vault.get("target"))
                # The vault's default path for the new key id: the old key's secret stays where it
                # is until the old key is revoked, so consumers can move over during the grace.
                location = service.vaults.resolve(target, None, community, secret.key_id)
            create = CreateRequest(
                name=old.name,
                description=old.description,
                roles=tuple(old.roles),
                expires_at=old.expires_at,
                vault_target=location.get("target") if location else None,
                vault_path=None,
                reveal=request.reveal,
                plan=old.plan,  # the new key gets its own API Gateway key in the same plan
                allowed_cidrs=tuple(old.allowed_cidrs),  # a rotation never widens where the key works
            )
            new = service.new_record(caller, community, create, secret, now, location)
            new.rotated_from = old.key_id
            new_event = Event(
                community, new.key_id, "rotate", caller.actor, now,
                {**_audit_fields(new), "rotated_from": old.key_id, "grace": request.grace},
                actor_name=caller.name or None,
            )  # fmt: skip
            if new.status == PENDING:
                return self._rotate_vaulted(caller, old, new, new_event, secret.plaintext, request, grace_until)
            old_changes, old_event = self._old_changes(caller, old, new.key_id, request.grace, grace_until, now)
            try:
                # A key in its grace period is live: with grace the community has one live key more.
                old_after = self.store.rotate(old, old_changes, old_event, new, new_event, limit=service.max_keys)
            except (AlreadyExists, VersionConflict):
                continue  # a key id collision, or the old key changed meanwhile: read it again
            except OverLimit:
                raise self._over_limit() from None
            self._after_old_changed(old_after)
            return Rotated(new, old_after, secret.plaintext)
        raise Conflict("the key is being changed by other requests; try again")

    def _rotate_vaulted(
        self,
        caller: Caller,
        old: KeyRecord,
        new: KeyRecord,
        new_event: Event,
        plaintext: str,
        request: RotateRequest,
        grace_until: datetime,
    ) -> Rotated:
        service = self.service
        # Without grace the old key is revoked once the new one is delivered: only a rotation with
        # grace leaves the community a live key more.
        limit = service.max_keys if grace_until > new.created_at else None
        try:
            service.store.insert(new, new_event, None, limit=limit)
        except AlreadyExists as error:
            raise StoreError("could not allocate a key id") from error
        except OverLimit:
            raise self._over_limit() from None
        created = service.deliver(caller, new, plaintext, request.reveal)  # VaultFailure: old key untouched
        for _ in range(EDIT_RETRIES):
            now = service.clock()
            try:
                self._may_rotate(old, now)
            except Conflict:
                # Someone revoked or rotated the old key while the vault was written: this
                # rotation lost; its new key must not live on unlinked.
                self._abandon(caller, created.key)
                raise
            old_changes, old_event = self._old_changes(caller, old, new.key_id, request.grace, grace_until, now)
            try:
                old_after = service.store.update(old, old_changes, old_event)
            except VersionConflict:
                old = service.load_key(old.community, old.key_id)
                continue
            self._after_old_changed(old_after)
            return Rotated(created.key, old_after, created.secret)
        self._abandon(caller, created.key)
        raise Conflict("the key is being changed by other requests; try again")

    def _over_limit(self) -> Conflict:
        cap = self.service.max_keys
        return Conflict(
            f"this community already has {cap} live API keys, the most allowed, and a key in its grace period "
            f'counts until it stops working; rotate with grace "immediate", or revoke a key it no longer needs'
        )

    def _abandon(self, caller: Caller, new: KeyRecord) -> None:
        try:
            self.service.revoke(
                caller, new.community, new.key_id, {"reason": "rotation abandoned: the old key changed"}
            )
        except ServiceError:
            log.warning("could not revoke abandoned rotation key %s", new.key_id)

    def _may_rotate(self, old: KeyRecord, now: datetime) -> None:
        status = old.status_at(now)
        if status != ACTIVE:
            raise Conflict(f"{with_article(status)} key cannot be rotated")
        if old.rotated_to is not None:
            raise self._rotated_already(old)

    def _rotated_already(self, old: KeyRecord) -> Conflict:
        successor = self.service.store.get(str(old.rotated_to))
        if successor is not None and successor.status == REVOKED:
            # A key is rotated once: its successor's revocation does not make it rotatable again
            # (nor would a retiring key's holder get a fresh key by revoking the successor first).
            return Conflict(
                f"this key was already rotated to {old.rotated_to}, which was revoked; create a new key "
                f"instead (this one stops working when its grace period ends)"
            )
        return Conflict(f"this key was already rotated to {old.rotated_to}; rotate that key instead")

    @staticmethod
    def _deadline(old: KeyRecord, grace: str, now: datetime) -> datetime:
        deadline = now + GRACE_PERIODS[grace]
        if old.expires_at is not None and old.expires_at < deadline:
            return old.expires_at
        return deadline

    @staticmethod
    def _old_changes(
        caller: Caller, old: KeyRecord, new_id: str, grace: str, grace_until: datetime, now: datetime
    ) -> tuple[dict[str, Any], Event]:
        changes: dict[str, Any] = {"rotated_to": new_id, "grace_until": grace_until, "updated_at": now}
        if grace_until <= now:
            # No grace: the old key is revoked in the same write, not left for the scheduler.
            changes.update(status=REVOKED, revoked_at=now, revoked_by=caller.actor, revoke_reason="rotated")
            changes.update(revoked_by_name=caller.name or None)
        details = {"rotated_to": new_id, "grace": grace, "grace_until": iso(grace_until)}
        return changes, Event(
            old.community, old.key_id, "rotate", caller.actor, now, details, actor_name=caller.name or None
        )

    def _after_old_changed(self, old: KeyRecord) -> None:
        if old.status == REVOKED and old.vault:
            self.service.forget_vaulted_secret(old)
        if old.status == REVOKED:
            self.service.release_gateway_key(old)

    # -- the scheduled part -------------------------------------------------------------------

    def finish_grace(self) -> list[str]:
        """Record the revocation of every key whose grace ended; the authorizer already refuses them."""
        service = self.service
        now = service.clock()
        finished = []
        for key in self.store.list_grace_ended(now):
            assert key.grace_until is not None
            changes = {
                "status": REVOKED,
                "revoked_at": key.grace_until,
                "revoked_by": SCHEDULER,
                "revoke_reason": GRACE_ENDED,
                "updated_at": now,
            }
            details = {"reason": GRACE_ENDED, "rotated_to": key.rotated_to, "grace_until": iso(key.grace_until)}
            event = Event(key.community, key.key_id, "revoke", SCHEDULER, now, details)
            try:
                service.store.update(key, changes, event)
            except VersionConflict:
                continue  # changed meanwhile (revoked by hand, say): the next run looks again
            if key.vault:
                service.forget_vaulted_secret(key)
            service.release_gateway_key(key)
            finished.append(key.key_id)
        return finished
