"""A community's own roles, built from the permission catalog. Knows nothing of HTTP or AWS.

The key service and the authorizer read roles through ``catalog(community)``: the built-in
roles, then the community's custom roles, loaded only when a name that is not built in is
looked up (a key holding only built-in roles costs no extra read). Custom roles may be cached
per container for ``cache_ttl_seconds`` (``APIKEYS_ROLES_CACHE_TTL``, default 0: every
verification of a key holding a custom role reads the roles table once, strongly consistent).
A role edit therefore reaches a key's permissions within the same bound as a revocation, plus
that TTL when one is set.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from chalicelib.clock import iso, utcnow
from chalicelib.errors import AlreadyExists, Conflict, Forbidden, NotFound, OverLimit, VersionConflict
from chalicelib.roles.caller import Caller
from chalicelib.roles.catalog import BUILTIN_ROLES, MANAGE_KEYS, Role
from chalicelib.trail import Event

ROLE_NAME = re.compile(r"[a-z][a-z0-9_]{1,47}")
MAX_CUSTOM_ROLES = 100
EDIT_RETRIES = 5
_HELD_CACHE_LIMIT = 10_000


class KeyHolder(Protocol):
    """What the roles need of a key that holds one (a key record is one): the roles sit below the
    keys, and name no key type of theirs."""

    @property
    def key_id(self) -> str: ...

    @property
    def name(self) -> str: ...


Holder = TypeVar("Holder", bound=KeyHolder)
Holder_co = TypeVar("Holder_co", bound=KeyHolder, covariant=True)


@dataclass(frozen=True)
class RoleRequest:
    """A role to create, as a create body asks for it."""

    name: str
    description: str
    permissions: list[str]


class RoleBodies(Protocol):
    """The role bodies, parsed: each refusal a ``ValidationError`` naming its field. Implemented by
    ``chalicelib.api.bodies`` (pydantic, loaded on the first body read), handed in by wiring."""

    def role_request(self, body: Any) -> RoleRequest: ...

    def role_edit(self, body: Any) -> dict[str, Any]:
        """The fields a role edit body gives."""


@dataclass
class CustomRole:
    community: str
    name: str
    description: str
    permissions: list[str]
    created_at: datetime
    created_by: str
    updated_at: datetime | None = None
    updated_by: str | None = None
    version: int | None = None

    def to_role(self) -> Role:
        return Role(self.name, self.description, tuple(self.permissions), builtin=False)

    def view(self) -> dict[str, Any]:
        return {
            **self.to_role().to_view(),
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "updated_at": iso(self.updated_at),
            "updated_by": self.updated_by,
        }


class RoleStore(Protocol[Holder_co]):
    def list(self, community: str) -> Sequence[CustomRole]:
        """Every custom role of the community, strongly consistent."""

    def insert(self, role: CustomRole, event: Event, *, limit: int | None = None) -> None:
        """Role, audit event and the community's role count in one transaction; AlreadyExists if
        the name is taken, OverLimit if the community already has ``limit`` custom roles."""

    def permissions_of(self, community: str, names: Sequence[str]) -> Mapping[str, Role]:
        """The named custom roles that exist (permissions only), read by key."""

    def update(self, role: CustomRole, changes: dict[str, Any], event: Event) -> CustomRole:
        """VersionConflict if the role changed or vanished since it was read."""

    def delete(self, role: CustomRole, event: Event) -> None:
        """VersionConflict if the role changed or vanished since it was read."""

    def keys_granted(self, community: str, name: str) -> Sequence[Holder_co]:
        """The community's keys that hold the role: active (in a rotation grace period or not,
        expired or not) and pending (about to be active); revoked and failed keys hold nothing."""


class CommunityCatalog(Mapping[str, Role]):
    """Built-in roles first; the custom ones loaded on first need, once per catalog."""

    def __init__(self, load: Callable[[], Mapping[str, Role]]) -> None:
        self._load = load
        self._custom: Mapping[str, Role] | None = None

    def _customs(self) -> Mapping[str, Role]:
        if self._custom is None:
            self._custom = self._load()
        return self._custom

    def __getitem__(self, name: str) -> Role:
        if name in BUILTIN_ROLES:
            return BUILTIN_ROLES[name]
        return self._customs()[name]

    def __contains__(self, name: object) -> bool:
        return name in BUILTIN_ROLES or name in self._customs()

    def __iter__(self) -> Iterator[str]:
        yield from BUILTIN_ROLES
        yield from self._customs()

    def __len__(self) -> int:
        return len(BUILTIN_ROLES) + len(self._customs())


# What changing keys needs (``KeyService.authorize_changes``): Forbidden naming a key the caller
# may not change. Editing or deleting a role is changing every key that holds it.
AuthorizeChanges = Callable[[Caller, Sequence[Holder]], None]


def _no_key_may_change(caller: Caller, keys: Sequence[KeyHolder]) -> None:
    # Without the key rules nothing can tell which holders a caller may change: none.
    if keys:
        raise Forbidden(f"the key {keys[0].key_id} holds the role, and no rule for changing keys is set here")


class CustomRoles(Generic[Holder]):
    def __init__(
        self,
        store: RoleStore[Holder],
        *,
        authorize_changes: AuthorizeChanges[Holder] = _no_key_may_change,
        bodies: RoleBodies | None = None,
        clock: Callable[[], datetime] = utcnow,
        cache_ttl_seconds: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.authorize_changes = authorize_changes
        self._bodies = bodies
        self.clock = clock
        self.cache_ttl_seconds = cache_ttl_seconds
        self.monotonic = monotonic
        self._cache: dict[str, tuple[float, dict[str, Role]]] = {}
        self._held_cache: dict[tuple[str, str], tuple[float, Role | None]] = {}
        self._lock = threading.Lock()

    @property
    def bodies(self) -> RoleBodies:
        if self._bodies is None:
            raise RuntimeError("no reader of request bodies was handed to the custom roles (bodies=)")
        return self._bodies

    # -- the catalog the key service and the authorizer read ----------------------------------

    def catalog(self, community: str) -> Mapping[str, Role]:
        return CommunityCatalog(lambda: self.custom(community))

    def custom(self, community: str) -> dict[str, Role]:
        if self.cache_ttl_seconds > 0:
            cached = self._cache.get(community)
            if cached is not None and cached[0] > self.monotonic():
                return cached[1]
        roles = {role.name: role.to_role() for role in self.store.list(community)}
        if self.cache_ttl_seconds > 0:
            with self._lock:
                self._cache[community] = (self.monotonic() + self.cache_ttl_seconds, roles)
        return roles

    def held(self, community: str, names: Sequence[str]) -> Mapping[str, Role]:
        """The roles among ``names`` that exist, for the authorizer: built-in ones cost nothing, the
        community's own are read by key (one batched read), so a verification's cost follows the
        roles the key holds, never how many roles its community has. Custom roles come with their
        permissions only."""
        found = {name: BUILTIN_ROLES[name] for name in names if name in BUILTIN_ROLES}
        wanted = [name for name in names if name not in BUILTIN_ROLES]
        if not wanted:
            return found
        moment = self.monotonic()
        if self.cache_ttl_seconds > 0:
            cached = {name: self._held_cache.get((community, name)) for name in wanted}
            if all(entry is not None and entry[0] > moment for entry in cached.values()):
                found.update({name: entry[1] for name, entry in cached.items() if entry and entry[1]})
                return found
        read = self.store.permissions_of(community, wanted)
        if self.cache_ttl_seconds > 0:
            with self._lock:
                if len(self._held_cache) >= _HELD_CACHE_LIMIT:
                    self._held_cache.clear()
                for name in wanted:
                    self._held_cache[(community, name)] = (moment + self.cache_ttl_seconds, read.get(name))
        found.update(read)
        return found

    def forget(self, community: str) -> None:
        """Drop this container's cached roles of a community (called after each change here)."""
        with self._lock:
            self._cache.pop(community, None)
            for entry in [entry for entry in self._held_cache if entry[0] == community]:
                del self._held_cache[entry]

    # -- management -------------------------------------------------------------------------

    def list(self, caller: Caller, community: str) -> dict[str, Any]:
        _may_manage(caller, community)
        builtins = [role.to_view() for role in BUILTIN_ROLES.values()]
        customs = [role.view() for role in sorted(self.store.list(community), key=lambda r: r.name)]
        return {"items": builtins + customs}

    def create(self, caller: Caller, community: str, body: Any) -> CustomRole:
        _may_manage(caller, community)
        asked = self.bodies.role_request(body)
        name, description, permissions = asked.name, asked.description, asked.permissions
        _may_hold(caller, permissions)
        if name in BUILTIN_ROLES:
            raise Conflict(f"{name!r} is a built-in role", field="name")
        now = self.clock()
        role = CustomRole(community, name, description, permissions, now, caller.actor)
        details = {"name": name, "description": description, "permissions": permissions}
        try:
            # The cap is a conditional count in the role's own transaction: concurrent creates
            # cannot pass it, whatever they read before.
            self.store.insert(role, _event(role, "role_create", caller, now, details), limit=MAX_CUSTOM_ROLES)
        except AlreadyExists as error:
            raise Conflict(f"a role named {name!r} already exists", field="name") from error
        except OverLimit:
            raise Conflict(f"a community has at most {MAX_CUSTOM_ROLES} custom roles") from None
        self.forget(community)
        return role

    def edit(self, caller: Caller, community: str, name: str, body: Any) -> CustomRole:
        _may_manage(caller, community)
        changes = self.bodies.role_edit(body)
        for _ in range(EDIT_RETRIES):
            role = self._load(community, name)
            # Both sides: narrowing a role takes permissions away from every key holding it, so
            # only a caller holding all the role grants may change it, and never beyond itself.
            _may_change(caller, role)
            if "permissions" in changes:
                _may_hold(caller, changes["permissions"])
            before = {field: getattr(role, field) for field in changes}
            if before == changes:
                return role
            self.authorize_changes(caller, self.store.keys_granted(community, name))
            now = self.clock()
            event = _event(role, "role_edit", caller, now, {"before": before, "after": dict(changes)})
            try:
                updated = self.store.update(role, {**changes, "updated_at": now, "updated_by": caller.actor}, event)
            except VersionConflict:
                continue
            self.forget(community)
            return updated
        raise Conflict("the role is being changed by other requests; try again")

    def delete(self, caller: Caller, community: str, name: str) -> None:
        """Deletes the role, or raises ``RoleInUse`` listing the keys that still hold it."""
        _may_manage(caller, community)
        for _ in range(EDIT_RETRIES):
            role = self._load(community, name)
            _may_change(caller, role)
            holders = self.store.keys_granted(community, name)
            self.authorize_changes(caller, holders)  # deleting is changing each holder: 403 before 409
            if holders:
                raise RoleInUse(name, [{"id": key.key_id, "name": key.name} for key in holders])
            now = self.clock()
            before = {"description": role.description, "permissions": role.permissions}
            try:
                self.store.delete(role, _event(role, "role_delete", caller, now, {"before": before}))
            except VersionConflict:
                continue
            self.forget(community)
            return
        raise Conflict("the role is being changed by other requests; try again")

    def _load(self, community: str, name: str) -> CustomRole:
        if name in BUILTIN_ROLES:
            raise Conflict(f"{name!r} is a built-in role and cannot be changed", field="name")  # the path's name
        for role in self.store.list(community):
            if role.name == name:
                return role
        raise NotFound("no such role")


class RoleInUse(Conflict):
    def __init__(self, name: str, holders: list[dict[str, str]]) -> None:
        ids = ", ".join(holder["id"] for holder in holders)
        super().__init__(f"role {name!r} is still granted to {len(holders)} key(s): {ids}")
        self.holders = holders


def _may_manage(caller: Caller, community: str) -> None:
    # The same rule as the key routes: another community is not there at all for this caller.
    if caller.community != community:
        raise NotFound("no such community")
    if MANAGE_KEYS not in caller.permissions:
        raise Forbidden(f"this key lacks the {MANAGE_KEYS} permission")


def _may_hold(caller: Caller, permissions: Sequence[str]) -> None:
    missing = sorted(set(permissions) - caller.permissions)
    if missing:
        raise Forbidden(f"granting them needs permissions this key lacks: {', '.join(missing)}", field="permissions")


def _may_change(caller: Caller, role: CustomRole) -> None:
    missing = sorted(set(role.permissions) - caller.permissions)
    if missing:
        raise Forbidden(f"this key lacks permissions the role {role.name!r} grants: {', '.join(missing)}")


def _event(role: CustomRole, action: str, caller: Caller, now: datetime, details: dict[str, Any]) -> Event:
    # Role events share the community's audit trail; their subject is ``role:<name>``.
    return Event(
        role.community, f"role:{role.name}", action, caller.actor, now, details, actor_name=caller.name or None
    )


def with_changes(role: CustomRole, changes: Mapping[str, Any]) -> CustomRole:
    return replace(role, **changes)
