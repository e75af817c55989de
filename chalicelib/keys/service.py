"""The key lifecycle: create, list, get, edit, revoke. Knows nothing of HTTP or AWS.

It is handed a ``Store`` (``storage.key_store.DynamoStore`` in production, a fake in unit
tests), the vault targets, the settings it needs, a clock and ``Bodies``: the reading of request
bodies (``chalicelib.api.bodies``), which it calls once its own checks allow. It raises
``chalicelib.errors`` that the routes and the CLI turn into answers.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from itsdangerous import BadSignature, URLSafeSerializer

from chalicelib import params
from chalicelib.clock import utcnow
from chalicelib.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    LeftBehind,
    NotFound,
    OverLimit,
    ServiceError,
    StoreError,
    ValidationError,
    VaultFailure,
    VersionConflict,
)
from chalicelib.keys import format as key_format
from chalicelib.keys.records import ACTIVE, FAILED, PENDING, REVOKED, IdempotencyRecord, KeyRecord, Store, with_article
from chalicelib.plans.usage_plans import GatewayKey, UsagePlanFailure, UsagePlans
from chalicelib.roles.caller import Caller
from chalicelib.roles.catalog import (
    BUILTIN_ROLES,
    CHOOSE_PLANS,
    MANAGE_KEYS,
    Role,
    missing_permissions,
    permissions_of,
)
from chalicelib.trail import Event

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
EDIT_RETRIES = 5
# Revocation is the action that stops a leaked key: it must not give up to a burst of edits. Each
# lost round is a write that won (edits end once the key is revoked), so the bound is the number
# of writers that can overtake it, not a time.
REVOKE_RETRIES = 64
MAX_KEYS_PER_COMMUNITY = 1000
# How far a key in its rotation grace period is followed to its successors (each step one read).
MAX_SUCCESSORS = 16
# A pending key touched more recently than this may still have its vault write in flight (the
# Lambda timeout bounds a request), so a retry waits rather than racing it to the same path.
RESUME_AFTER_SECONDS = 60.0


@dataclass(frozen=True)
class CreateRequest:
    """A key to create, as a create body (``Bodies.create_request``) or a rotation asks for it."""

    name: str
    description: str
    roles: tuple[str, ...]
    expires_at: datetime | None
    vault_target: str | None
    vault_path: str | None
    reveal: bool
    plan: str | None = None
    allowed_cidrs: tuple[str, ...] = ()  # canonical networks; empty: any address


@dataclass(frozen=True)
class RotateRequest:
    """A rotation, as a rotate body asks for it: the grace period's name, and whether to show the secret."""

    grace: str
    reveal: bool


class Bodies(Protocol):
    """The request bodies the key services read, parsed: each refusal a ``ValidationError`` naming
    its field. Implemented by ``chalicelib.api.bodies`` (pydantic, loaded on the first body read);
    the services never import the API's contract, they are handed this."""

    def create_request(
        self, body: Any, *, known_roles: Mapping[str, Role], now: datetime, max_days: int
    ) -> CreateRequest: ...

    def edit_request(self, body: Any, *, known_roles: Mapping[str, Role]) -> dict[str, Any]:
        """The fields an edit body gives (the plan aside: the usage plans choose it)."""

    def revoke_request(self, body: Any) -> str | None:
        """The reason a revoke body gives, if any."""

    def rotate_request(self, body: Any) -> RotateRequest: ...

    def leak_report(self, raw_body: bytes) -> list[dict[str, str]]:
        """The tokens of a leak report, each ``{"token", "type", "url", "source"}``."""


class Vaults(Protocol):
    """Where one-time secrets can be written; implemented in ``chalicelib.vaults``."""

    def choices(self) -> list[dict[str, str]]: ...

    def resolve(self, target: str, path: str | None, community: str, key_id: str) -> dict[str, Any]:
        """Check the target and the path (ValidationError naming ``vault.*``); the planned location."""

    def put(self, location: Mapping[str, Any], secret: str, token: str) -> dict[str, Any]:
        """Write the secret; VaultFailure if the vault refused. The final location."""

    def on_revoke(self, location: Mapping[str, Any]) -> None: ...

    def discard(self, location: Mapping[str, Any]) -> None:
        """Delete whatever may have been written at ``location``; absent is fine."""


class Plans(Protocol):
    """API Gateway usage plans and the keys in them; implemented in ``chalicelib.plans.usage_plans``."""

    def choose(self, body: Mapping[str, Any]) -> str | None:
        """The plan a body asks for (ValidationError naming ``plan``)."""

    def provision(self, key_id: str, plan: str) -> GatewayKey:
        """A new API Gateway key in ``plan``; UsagePlanFailure and nothing left otherwise."""

    def move(self, gateway_key_id: str, old_plan: str | None, new_plan: str) -> None: ...

    def release_quietly(self, gateway_key_id: str, plan: str | None = None) -> None: ...

    def discard(self, key_id: str, plan: str | None = None) -> builtins.list[str]:
        """Delete whatever API Gateway key was made for ``key_id``, found by name."""


class NoVaults:
    def choices(self) -> list[dict[str, str]]:
        return []

    def resolve(self, target: str, path: str | None, community: str, key_id: str) -> dict[str, Any]:
        raise ValidationError("vault.target", f"unknown vault target {target!r}")

    def put(self, location: Mapping[str, Any], secret: str, token: str) -> dict[str, Any]:
        raise VaultFailure(str(location.get("target")), "no vault is configured")

    def on_revoke(self, location: Mapping[str, Any]) -> None:
        return None

    def discard(self, location: Mapping[str, Any]) -> None:
        return None


@dataclass
class Created:
    key: KeyRecord
    secret: str | None
    replayed: bool = False


@dataclass
class Edited:
    key: KeyRecord
    changed: list[str]  # the fields whose value the edit changed; empty: nothing written


class KeyService:
    resume_after_seconds = RESUME_AFTER_SECONDS

    def __init__(
        self,
        store: Store,
        *,
        key_prefix: str,
        peppers: tuple[key_format.Pepper, ...],
        max_expiry_days: int = 365,
        vaults: Vaults | None = None,
        clock: Clock = utcnow,
        catalog: Callable[[str], Mapping[str, Role]] | None = None,
        max_keys: int = MAX_KEYS_PER_COMMUNITY,
        plans: Plans | None = None,
        bodies: Bodies | None = None,
    ) -> None:
        self.store = store
        self._bodies = bodies
        self.max_keys = max_keys
        # Without configured plans every plan name is unknown and no API Gateway call is made.
        self.plans: Plans = plans if plans is not None else UsagePlans(())
        self.key_prefix = key_prefix
        self.peppers = peppers
        self.max_expiry_days = max_expiry_days
        self.vaults: Vaults = vaults or NoVaults()
        self.clock = clock
        self._catalog = catalog
        # Cursors are signed so that they cannot be edited to read elsewhere; every pepper
        # verifies, the newest signs (itsdangerous signs with the last key of the list).
        cursor_keys = [hmac.new(p.value, b"list-cursor", hashlib.sha256).digest() for p in reversed(peppers)]
        self._cursors = URLSafeSerializer(cursor_keys, salt="apikeys.list")

    @property
    def bodies(self) -> Bodies:
        if self._bodies is None:
            raise RuntimeError("no reader of request bodies was handed to the key service (bodies=)")
        return self._bodies

    # -- catalog ------------------------------------------------------------------------------

    def catalog(self, community: str) -> Mapping[str, Role]:
        """The built-in roles, plus the community's custom roles when a source of them is wired in."""
        return self._catalog(community) if self._catalog is not None else BUILTIN_ROLES

    def roles(self, caller: Caller) -> list[dict[str, object]]:
        # A person outside any route's community sees the built-in catalog (their communities'
        # own roles are at /communities/{community}/roles).
        catalog = self.catalog(caller.community) if caller.community else BUILTIN_ROLES
        return [role.to_view() for role in catalog.values()]

    # -- reads ----------------------------------------------------------------------------------

    def get(self, caller: Caller, community: str, key_id: str) -> KeyRecord:
        self.authorize_manage(caller, community)
        return self.load_key(community, key_id)

    def list(self, caller: Caller, community: str, query: Mapping[str, str] | None) -> dict[str, Any]:
        self.authorize_manage(caller, community)
        request = params.list_request(query)
        after = self._read_cursor(request.cursor, community, request.status, request.search)
        now = self.clock()
        page = self.store.list_keys(community, request.status, request.search, request.limit, after, now)
        next_cursor = None
        if page.last is not None:
            next_cursor = self._cursors.dumps(
                {
                    "c": community,
                    "s": request.status,
                    "q": request.search,
                    "k": page.last.key_id,
                    "t": page.last.created_at.isoformat(),
                }
            )
        return {"items": [key.view(now) for key in page.items], "next_cursor": next_cursor}

    # -- create ---------------------------------------------------------------------------------

    def create(self, caller: Caller, community: str, body: Any, idempotency_key: str | None = None) -> Created:
        self.authorize_manage(caller, community)
        now = self.clock()
        request = self.bodies.create_request(
            body, known_roles=self.catalog(community), now=now, max_days=self.max_expiry_days
        )
        self.authorize_plan(caller, body)
        request = dataclasses.replace(request, plan=self.plans.choose(body))
        idempotency_key = params.idempotency_key(idempotency_key)
        self.authorize_grant(caller, community, request.roles)
        scope = fingerprint = None
        if idempotency_key is not None:
            scope = f"{community}#{caller.principal}#{idempotency_key}"
            fingerprint = _fingerprint(body)
            replay = self._replay(caller, scope, fingerprint, community, request)
            if replay is not None:
                return replay
        for _ in range(3):
            secret = key_format.generate(self.key_prefix)
            location = None
            if request.vault_target is not None:
                location = self.vaults.resolve(request.vault_target, request.vault_path, community, secret.key_id)
            key = self.new_record(caller, community, request, secret, now, location)
            event = Event(
                community, key.key_id, "create", caller.actor, now, _audit_fields(key), actor_name=caller.name or None
            )
            idem = IdempotencyRecord(scope, key.key_id, fingerprint, now) if scope and fingerprint else None
            try:
                self.store.insert(key, event, idem, limit=self.max_keys)
            except OverLimit:
                raise Conflict(
                    f"this community already has {self.max_keys} live (active or pending) API keys, the most "
                    f"allowed; revoke keys it no longer needs (expired ones count until revoked)"
                ) from None
            except AlreadyExists:
                if scope is not None and fingerprint is not None:
                    replay = self._replay(caller, scope, fingerprint, community, request)
                    if replay is not None:
                        return replay
                continue  # a key id collision: draw again
            if key.status == PENDING:
                return self.deliver(caller, key, secret.plaintext, request.reveal)
            return Created(key, secret.plaintext)
        raise StoreError("could not allocate a key id")

    def new_record(
        self,
        caller: Caller,
        community: str,
        request: CreateRequest,
        secret: key_format.ParsedKey,
        now: datetime,
        location: dict[str, Any] | None,
    ) -> KeyRecord:
        pepper = self.peppers[0]
        return KeyRecord(
            key_id=secret.key_id,
            community=community,
            name=request.name,
            description=request.description,
            roles=list(request.roles),
            # A key whose secret goes to a vault, or that goes on a usage plan, stays pending until
            # the vault has the secret and its API Gateway key is in the plan.
            status=PENDING if location is not None or request.plan else ACTIVE,
            key_hash=key_format.hash_key(secret.plaintext, pepper),
            pepper_id=pepper.id,
            hint=key_format.hint(secret.plaintext, self.key_prefix),
            created_at=now,
            created_by=caller.actor,
            created_by_name=caller.name or None,
            expires_at=request.expires_at,
            vault=location,
            plan=request.plan,
            allowed_cidrs=list(request.allowed_cidrs),
        )

    def deliver(self, caller: Caller, key: KeyRecord, plaintext: str, reveal: bool) -> Created:
        """Pending → API Gateway key in its plan, secret in the vault → active. A failure of
        either leaves the key failed and nothing behind."""
        gateway = None
        try:
            if key.plan:
                gateway = self.plans.provision(key.key_id, key.plan)
            location = self.vaults.put(key.vault, plaintext, _vault_token(key)) if key.vault else None
        except (VaultFailure, UsagePlanFailure):
            if gateway is not None:
                self.plans.release_quietly(gateway.id, key.plan)
            self._fail(caller, key)
            raise
        now = self.clock()
        changes: dict[str, Any] = {"status": ACTIVE, "updated_at": now}
        details: dict[str, Any] = {}
        if location is not None:
            changes["vault"], details["vault"] = location, _public(location)
        if gateway is not None:
            changes.update(gateway_key_id=gateway.id, gateway_key_value=gateway.value)
            details["plan"] = key.plan
        event = Event(key.community, key.key_id, "activate", caller.actor, now, details, actor_name=caller.name or None)
        try:
            active = self.store.update(key, changes, event)
        except (VersionConflict, StoreError) as error:
            try:
                current = self.store.get(key.key_id)
            except StoreError:
                # Whether the activation landed is unknown: what it needs stays, for the key or
                # for the sweeper (which takes a key still pending, its secret and its plan key).
                left = _left_pending(key, "unless it is listed as active, it is left pending")
                raise LeftBehind(f"{_ACTIVATION_FAILED} {key.key_id}: {left}") from error
            if current is not None and current.status == ACTIVE and _same_hash(current, key):
                return Created(current, plaintext if reveal else None)  # it landed; its answer was lost
            if gateway is not None:
                self.plans.release_quietly(gateway.id, key.plan)  # made by this request: nobody else's
            if isinstance(error, StoreError) and current is not None and current.status == PENDING:
                if _same_hash(current, key):  # not activated, still ours: take it all back
                    raise self._abandon(caller, current) from error
            self._lost_race(key, current)
            raise Conflict(
                "the key changed while its secret was stored; retry with the same Idempotency-Key"
            ) from error
        return Created(active, plaintext if reveal else None)

    def _abandon(self, caller: Caller, key: KeyRecord) -> StoreError:
        """The activation write failed and the key is still pending: take back its secret, then
        fail it, so nothing of the create is left. The answer says what is left, if anything."""
        if key.vault:
            try:
                self.vaults.discard(key.vault)
            except ServiceError:
                return LeftBehind(f"{_ACTIVATION_FAILED} {key.key_id}: {_left_pending(key, 'the key is left pending')}")
        now = self.clock()
        event = Event(key.community, key.key_id, "fail", caller.actor, now, {"reason": "activation write failed"})
        try:
            self.store.update(key, {"status": FAILED, "updated_at": now}, event)
        except (StoreError, VersionConflict):
            return LeftBehind(
                f"{_ACTIVATION_FAILED} {key.key_id}: the key does not work and its secret is deleted, but it "
                f"counts toward the community's live keys until the sweeper fails it ({_SWEEPER_BOUND})"
            )
        return StoreError(
            f"the activation of key {key.key_id} failed; the key is failed and nothing made for it is left"
        )

    def _lost_race(self, key: KeyRecord, current: KeyRecord | None) -> None:
        """The key changed between our vault write and its activation (the sweeper failed it).
        The secret just written opens nothing: take it back unless another request now owns
        the key's path (a different hash means a retry wrote, or will write, its own secret)."""
        if current is not None and _same_hash(current, key) and current.status != ACTIVE and key.vault:
            try:
                self.vaults.discard(key.vault or {})
            except ServiceError:
                log.warning("could not discard the vaulted secret of key %s; the sweeper will", key.key_id)

    def _fail(self, caller: Caller, key: KeyRecord) -> None:
        try:
            self.vaults.discard(key.vault or {})
            now = self.clock()
            event = Event(
                key.community,
                key.key_id,
                "fail",
                caller.actor,
                now,
                {"reason": "vault write failed"},
                actor_name=caller.name or None,
            )
            self.store.update(key, {"status": FAILED, "updated_at": now}, event)
        except (ServiceError, VersionConflict):
            log.warning("could not mark key %s failed; the sweeper will", key.key_id)

    def _replay(
        self, caller: Caller, scope: str, fingerprint: str, community: str, request: CreateRequest
    ) -> Created | None:
        record = self.store.get_idempotency(scope)
        if record is None:
            return None
        # The IETF draft's answers (draft-ietf-httpapi-idempotency-key-header, Error Scenarios):
        # another body under a used key is 422; a retry while the first request runs is 409.
        if not hmac.compare_digest(record.fingerprint, fingerprint):
            raise IdempotencyKeyReused(
                "Idempotency-Key was already used with a different body; send that body again, "
                "or use a new Idempotency-Key for this one"
            )
        key = self.store.get(record.key_id)
        if key is None or key.community != community:
            raise Conflict("Idempotency-Key refers to a key that no longer exists")
        if key.status in (PENDING, FAILED) and (key.vault is not None or key.plan):
            return self._complete_pending(caller, key, request.reveal)
        return Created(key, None, replayed=True)

    def _complete_pending(self, caller: Caller, key: KeyRecord, reveal: bool) -> Created:
        """A retry of a create that stopped half-way (pending) or whose vault write failed
        (failed): the same key, a fresh secret, delivered again. The first secret was never
        shown to anyone who kept it, so replacing it loses nothing."""
        now = self.clock()
        touched = key.updated_at or key.created_at
        if key.status == PENDING and (now - touched).total_seconds() < self.resume_after_seconds:
            raise Conflict(
                f"the first request with this Idempotency-Key is still being processed; retry with the same "
                f"Idempotency-Key after {int(self.resume_after_seconds)} seconds"
            )
        secret = key_format.generate(self.key_prefix, key_id=key.key_id)
        pepper = self.peppers[0]
        changes = {
            "status": PENDING,
            "key_hash": key_format.hash_key(secret.plaintext, pepper),
            "pepper_id": pepper.id,
            "updated_at": now,
        }
        event = Event(
            key.community, key.key_id, "resume", caller.actor, now, {"from": key.status}, actor_name=caller.name or None
        )
        try:
            key = self.store.update(key, changes, event)
        except VersionConflict as error:
            raise Conflict(
                "another request with this Idempotency-Key is still being processed (it is completing the key)"
            ) from error
        if key.plan:
            self.plans.discard(key.key_id, key.plan)  # whatever the stopped attempt made: this one makes its own
        return self.deliver(caller, key, secret.plaintext, reveal)

    # -- edit and revoke ------------------------------------------------------------------------

    def edit(self, caller: Caller, community: str, key_id: str, body: Any) -> KeyRecord:
        return self.edit_changes(caller, community, key_id, body).key

    def edit_changes(self, caller: Caller, community: str, key_id: str, body: Any) -> Edited:
        """The edit, and which fields it changed: only those are written and audited."""
        self.authorize_manage(caller, community)
        changes = self.bodies.edit_request(body, known_roles=self.catalog(community))
        if "plan" in body:
            self.authorize_plan(caller, body)
            changes["plan"] = self.plans.choose(body)
        for _ in range(EDIT_RETRIES):
            key = self.load_key(community, key_id)
            if key.status == REVOKED:
                raise Conflict("a revoked key cannot be edited")
            if key.status != ACTIVE:
                raise Conflict(f"{with_article(key.status)} key cannot be edited")
            self.authorize_change(caller, key)
            if "roles" in changes:
                added = [role for role in changes["roles"] if role not in key.roles]
                self.authorize_grant(caller, community, added)
            now = self.clock()
            changed = [name for name, value in changes.items() if not _same_value(name, getattr(key, name), value)]
            if not changed:
                return Edited(key, [])  # nothing to write, so nothing to audit
            before = {name: getattr(key, name) for name in changed}
            after = {name: changes[name] for name in changed}
            event = Event(
                community,
                key_id,
                "edit",
                caller.actor,
                now,
                {"before": before, "after": after},
                actor_name=caller.name or None,
            )
            moving = "plan" in changes and changes["plan"] != key.plan
            gateway_changes = self._enter_plan(key, changes["plan"]) if moving else {}
            try:
                edited = self.store.update(key, {**after, **gateway_changes, "updated_at": now}, event)
            except (VersionConflict, StoreError) as error:
                if moving:
                    self._undo_plan(key, changes["plan"], gateway_changes)
                if isinstance(error, StoreError):
                    raise
                continue  # changed meanwhile: apply the edit to the new version
            if moving and changes["plan"] is None and key.gateway_key_id:
                self.plans.release_quietly(key.gateway_key_id, key.plan)
            return Edited(edited, changed)
        raise Conflict("the key is being changed by other requests; try again")

    def revoke(self, caller: Caller, community: str, key_id: str, body: Any = None) -> KeyRecord:
        self.authorize_manage(caller, community)
        reason = self.bodies.revoke_request(body)
        for _ in range(REVOKE_RETRIES):
            key = self.load_key(community, key_id)
            if key.status == REVOKED:
                return key
            if key.status not in (ACTIVE,):
                raise Conflict(f"{with_article(key.status)} key cannot be revoked")
            self.authorize_change(caller, key)
            now = self.clock()
            changes = {"status": REVOKED, "revoked_at": now, "revoked_by": caller.actor, "revoke_reason": reason}
            changes["revoked_by_name"] = caller.name or None
            event = Event(
                community, key_id, "revoke", caller.actor, now, {"reason": reason}, actor_name=caller.name or None
            )
            try:
                revoked = self.store.update(key, {**changes, "updated_at": now}, event)
            except VersionConflict:
                continue
            if key.vault:
                self.forget_vaulted_secret(key)
            self.release_gateway_key(key)
            return revoked
        raise Conflict("the key is being changed by other requests; try again")

    def release_gateway_key(self, key: KeyRecord) -> None:
        """A revoked key's API Gateway key goes; were it to stay, the authorizer refuses the key anyway."""
        if key.gateway_key_id:
            self.plans.release_quietly(key.gateway_key_id, key.plan)

    def _enter_plan(self, key: KeyRecord, plan: str | None) -> dict[str, Any]:
        """The API Gateway side of a plan change, before the record says so: the record's changes."""
        if plan is None:
            return {"gateway_key_id": None, "gateway_key_value": None}  # deleted once the record is written
        if key.gateway_key_id:
            self.plans.move(key.gateway_key_id, key.plan, plan)
            return {}
        gateway = self.plans.provision(key.key_id, plan)
        return {"gateway_key_id": gateway.id, "gateway_key_value": gateway.value}

    def _undo_plan(self, key: KeyRecord, plan: str | None, gateway_changes: Mapping[str, Any]) -> None:
        """The record was not written: put API Gateway back the way the record says."""
        try:
            if gateway_changes.get("gateway_key_id"):
                self.plans.release_quietly(str(gateway_changes["gateway_key_id"]), plan)
            elif plan is not None and key.gateway_key_id and key.plan:
                self.plans.move(key.gateway_key_id, plan, key.plan)
        except ServiceError:
            log.warning("key %s: its API Gateway key could not be put back in plan %s", key.key_id, key.plan)

    def forget_vaulted_secret(self, key: KeyRecord) -> None:
        try:
            self.vaults.on_revoke(key.vault or {})
        except ServiceError:
            # The key is revoked whatever the vault says; the vaulted copy no longer opens anything.
            log.warning("revoked key %s but its vaulted copy could not be cleaned", key.key_id)

    # -- sweeping -------------------------------------------------------------------------------

    def sweep(self, older_than_seconds: float) -> builtins.list[str]:
        """Pending keys older than the bound become failed and lose their vaulted secret."""
        from datetime import timedelta

        now = self.clock()
        bound = now - timedelta(seconds=older_than_seconds)
        swept = []
        for key in self.store.list_stuck_pending(bound):
            if (key.updated_at or key.created_at) > bound:
                continue  # created long ago but resumed by a retry just now
            try:
                self.vaults.discard(key.vault or {})
                if key.plan:
                    self.plans.discard(key.key_id, key.plan)
            except ServiceError:
                log.warning(
                    "sweeper: could not discard the vaulted secret or API Gateway key of key %s; next run retries",
                    key.key_id,
                )
                continue
            event = Event(key.community, key.key_id, "fail", "sweeper", now, {"reason": "pending past timeout"})
            try:
                self.store.update(key, {"status": FAILED, "updated_at": now}, event)
            except VersionConflict:
                continue
            swept.append(key.key_id)
        return swept

    # -- helpers --------------------------------------------------------------------------------

    def authorize_manage(self, caller: Caller, community: str) -> None:
        # Another community's keys are not there at all for this caller: 404, never 403.
        if caller.community != community:
            raise NotFound("no such API key")
        if MANAGE_KEYS not in caller.permissions:
            raise Forbidden(f"this key lacks the {MANAGE_KEYS} permission")

    def authorize_plan(self, caller: Caller, body: Mapping[str, Any]) -> None:
        """A body naming ``plan`` (null included: no plan is off metering) needs the permission to
        choose plans; without it a create gets the deployment's default plan."""
        if "plan" in body and CHOOSE_PLANS not in caller.permissions:
            raise Forbidden(
                f"choosing or changing a usage plan needs the {CHOOSE_PLANS} permission, which this key lacks",
                field="plan",
            )

    def authorize_grant(self, caller: Caller, community: str, role_names: Any) -> None:
        missing = missing_permissions(caller.permissions, role_names, self.catalog(community))
        if missing:
            raise Forbidden(
                f"granting them needs permissions this key lacks: {', '.join(sorted(missing))}", field="roles"
            )

    def authorize_change(self, caller: Caller, key: KeyRecord) -> None:
        self.authorize_changes(caller, [key])

    def authorize_changes(self, caller: Caller, keys: Sequence[KeyRecord]) -> None:
        """A caller changes (edits, rotates, revokes) only keys holding no permission it lacks
        itself, so a weaker key can never disarm a stronger one; and a key in its rotation grace
        never changes its successors, so a retiring (perhaps leaked) key cannot turn on the key
        that replaces it. The operator and a verified leak report hold every permission and are
        no key, so this never stops them. Editing or deleting a custom role is changing every key
        that holds it: its holders are checked here together (one catalog, one successor walk)."""
        if not keys:
            return
        # Only a key rotated from another can be anybody's successor: most changes read nothing more.
        successors = self.successors(caller) if any(key.rotated_from for key in keys) else frozenset()
        catalog = self.catalog(keys[0].community)
        for key in keys:
            if key.key_id in successors:
                raise Forbidden(
                    f"this key is in its rotation grace period and cannot change its successor {key.key_id}"
                )
            missing = missing_permissions(caller.permissions, key.roles, catalog)
            if missing:
                raise Forbidden(f"this key lacks permissions the key {key.key_id} holds: {', '.join(sorted(missing))}")

    def successors(self, caller: Caller) -> frozenset[str]:
        """The keys the caller's key was rotated into, and theirs in turn. Only a key in its grace
        period has any (a rotated key stops working when its grace ends), and a grace lasts 7 days
        at most, so the walk is short; past ``MAX_SUCCESSORS`` it refuses rather than guess."""
        if not key_format.is_key_id(caller.key_id):
            return frozenset()  # the operator, a leak report: no key, no successor
        found: builtins.list[str] = []
        key = self.store.get(caller.key_id)
        while key is not None and key.rotated_to is not None:
            if len(found) == MAX_SUCCESSORS:
                raise Forbidden(
                    f"this key is in its rotation grace period and has more than {MAX_SUCCESSORS} successors; "
                    f"use its newest successor"
                )
            found.append(key.rotated_to)
            key = self.store.get(key.rotated_to)
        return frozenset(found)

    def load_key(self, community: str, key_id: str) -> KeyRecord:
        key = self.store.get(key_id) if key_format.is_key_id(key_id) else None
        if key is None or key.community != community:
            raise NotFound("no such API key")
        return key

    def _read_cursor(self, cursor: str | None, community: str, status: str, search: str) -> tuple[str, datetime] | None:
        if cursor is None:
            return None
        try:
            data = self._cursors.loads(cursor)
            if (data["c"], data["s"], data["q"]) != (community, status, search):
                raise ValueError("cursor for another listing")
            return str(data["k"]), datetime.fromisoformat(data["t"])
        except (BadSignature, KeyError, TypeError, ValueError) as error:
            raise ValidationError("cursor", "is not a cursor of this listing") from error

    def permissions(self, community: str, role_names: Any) -> frozenset[str]:
        return permissions_of(role_names, self.catalog(community))


def _fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _same_value(field: str, current: Any, wanted: Any) -> bool:
    # A key's roles and networks are sets: naming the same ones in another order changes nothing.
    if field in ("roles", "allowed_cidrs"):
        return sorted(current) == sorted(wanted)
    return bool(current == wanted)


_ACTIVATION_FAILED = "the key store failed while activating key"
_SWEEPER_BOUND = "within the deployment's pending timeout, 15 minutes by default"


def _left_pending(key: KeyRecord, state: str) -> str:
    """What a create that stopped at its activation leaves, and what removes it."""
    secret = f" with its secret in vault target {key.vault.get('target')!r}" if key.vault else ""
    return (
        f"{state} (a pending key does not work){secret}; the sweeper removes {'both' if secret else 'it'} "
        f"({_SWEEPER_BOUND}), or a retry with the same Idempotency-Key completes the key"
    )


def _same_hash(stored: KeyRecord, key: KeyRecord) -> bool:
    """Whether ``stored`` still holds ``key``'s secret: a hash of a fresh secret is nobody else's."""
    return hmac.compare_digest(stored.key_hash, key.key_hash)


def _vault_token(key: KeyRecord) -> str:
    """Idempotency token for the vault write: same key and secret → same token."""
    return hashlib.sha256(f"{key.key_id}:{key.key_hash}".encode()).hexdigest()[:64]


def _public(location: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in location.items() if k != "token"}


def _audit_fields(key: KeyRecord) -> dict[str, Any]:
    return {
        "name": key.name,
        "description": key.description,
        "roles": list(key.roles),
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "status": key.status,
        "plan": key.plan,
        "allowed_cidrs": list(key.allowed_cidrs),
    }
