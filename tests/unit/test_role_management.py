"""Managing a community's custom roles: what a list shows, what the audit trail records, how a
change survives a concurrent one, and what each refusal says (the HTTP side is
tests/functional/test_custom_roles.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.api.bodies import Bodies
from chalicelib.errors import AlreadyExists, Conflict, NotFound, OverLimit, VersionConflict
from chalicelib.roles.caller import Caller
from chalicelib.roles.catalog import BUILTIN_ROLES, MANAGE_KEYS, PERMISSIONS, Role
from chalicelib.roles.custom import EDIT_RETRIES, MAX_CUSTOM_ROLES, CustomRole, CustomRoles, RoleInUse, with_changes
from chalicelib.trail import Event

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ADMIN = Caller(
    "admin0000000000", "demo", ("apikeys_admin",), frozenset({MANAGE_KEYS, "intelligence:read", "playbooks:run"})
)


class Roles:
    """An in-memory role store: it counts reads and can lose the next writes to a concurrent one."""

    def __init__(self) -> None:
        self.roles: dict[tuple[str, str], CustomRole] = {}
        self.events: list[Event] = []
        self.holders: dict[tuple[str, str], list[Any]] = {}
        self.limits: list[int | None] = []
        self.lost_writes = 0
        self.reads = 0
        self.now = NOW  # the service's clock

    def list(self, community: str) -> list[CustomRole]:
        self.reads += 1
        return [role for (where, _), role in self.roles.items() if where == community]

    def insert(self, role: CustomRole, event: Event, *, limit: int | None = None) -> None:
        self.limits.append(limit)
        if (role.community, role.name) in self.roles:
            raise AlreadyExists(role.name)
        if limit is not None and len(self.list(role.community)) >= limit:
            raise OverLimit(role.community)
        self.roles[(role.community, role.name)] = role
        self.events.append(event)

    def permissions_of(self, community: str, names: Sequence[str]) -> dict[str, Role]:
        self.reads += 1
        return {name: self.roles[(community, name)].to_role() for name in names if (community, name) in self.roles}

    def _lose(self) -> None:
        if self.lost_writes:
            self.lost_writes -= 1
            raise VersionConflict("changed meanwhile")

    def update(self, role: CustomRole, changes: dict[str, Any], event: Event) -> CustomRole:
        self._lose()
        updated = with_changes(role, changes)
        self.roles[(role.community, role.name)] = updated
        self.events.append(event)
        return updated

    def delete(self, role: CustomRole, event: Event) -> None:
        self._lose()
        del self.roles[(role.community, role.name)]
        self.events.append(event)

    def keys_granted(self, community: str, name: str) -> list[Any]:
        return self.holders.get((community, name), [])


def service(store: Roles, **options: Any) -> CustomRoles:
    return CustomRoles(store, clock=lambda: store.now, **options, bodies=Bodies())  # type: ignore[arg-type]


@pytest.fixture
def store() -> Roles:
    return Roles()


def test_a_list_shows_the_builtin_roles_then_the_communitys_by_name_with_who_made_and_changed_them(store):
    roles = service(store)
    roles.create(ADMIN, "demo", {"name": "zeta", "description": "Z team", "permissions": ["playbooks:run"]})
    roles.create(ADMIN, "demo", {"name": "alpha", "permissions": ["intelligence:read"]})
    store.now = LATER
    roles.edit(ADMIN, "demo", "alpha", {"description": "A team"})

    items = roles.list(ADMIN, "demo")["items"]
    assert [item["name"] for item in items] == [*BUILTIN_ROLES, "alpha", "zeta"]
    assert items[len(BUILTIN_ROLES) :] == [
        {"name": "alpha", "description": "A team", "permissions": ["intelligence:read"], "builtin": False,
         "created_at": "2026-01-01T00:00:00Z", "created_by": "key:admin0000000000",
         "updated_at": "2026-01-02T03:04:05Z", "updated_by": "key:admin0000000000"},
        {"name": "zeta", "description": "Z team", "permissions": ["playbooks:run"], "builtin": False,
         "created_at": "2026-01-01T00:00:00Z", "created_by": "key:admin0000000000",
         "updated_at": None, "updated_by": None},
    ]  # fmt: skip


def test_the_audit_trail_records_each_change_with_what_it_granted_before(store):
    roles = service(store)
    roles.create(ADMIN, "demo", {"name": "hunter", "description": "d", "permissions": ["intelligence:read"]})
    store.now = LATER
    roles.edit(ADMIN, "demo", "hunter", {"permissions": ["intelligence:read", "playbooks:run"]})
    roles.delete(ADMIN, "demo", "hunter")

    actor, subject = "key:admin0000000000", "role:hunter"
    assert store.events == [
        Event("demo", subject, "role_create", actor, NOW,
              {"name": "hunter", "description": "d", "permissions": ["intelligence:read"]}),
        Event("demo", subject, "role_edit", actor, LATER,
              {"before": {"permissions": ["intelligence:read"]},
               "after": {"permissions": ["intelligence:read", "playbooks:run"]}}),
        Event("demo", subject, "role_delete", actor, LATER,
              {"before": {"description": "d", "permissions": ["intelligence:read", "playbooks:run"]}}),
    ]  # fmt: skip
    assert store.limits == [MAX_CUSTOM_ROLES], "the cap is checked in the role's own write"


def test_a_builtin_name_is_refused_in_words_and_a_builtin_role_cannot_be_changed(store):
    roles = service(store)
    with pytest.raises(Conflict, match=r"^name: 'ic_viewer' is a built-in role$"):
        roles.create(ADMIN, "demo", {"name": "ic_viewer", "permissions": ["intelligence:read"]})
    for change in (lambda: roles.edit(ADMIN, "demo", "ic_viewer", {"description": "x"}),
                   lambda: roles.delete(ADMIN, "demo", "ic_viewer")):  # fmt: skip
        with pytest.raises(Conflict, match=r"^name: 'ic_viewer' is a built-in role and cannot be changed$"):
            change()
    for change in (lambda: roles.edit(ADMIN, "demo", "ghost", {"description": "x"}),
                   lambda: roles.delete(ADMIN, "demo", "ghost")):  # fmt: skip
        with pytest.raises(NotFound, match=r"^no such role$"):
            change()
    assert store.roles == {} and store.events == []


@pytest.mark.parametrize("change", ["edit", "delete"])
def test_a_change_lost_to_a_concurrent_one_is_tried_again_then_refused(store, change):
    def attempt(roles: CustomRoles) -> None:
        if change == "edit":
            roles.edit(ADMIN, "demo", "hunter", {"description": "new"})
        else:
            roles.delete(ADMIN, "demo", "hunter")

    roles = service(store)
    roles.create(ADMIN, "demo", {"name": "hunter", "permissions": ["intelligence:read"]})
    store.lost_writes = EDIT_RETRIES
    with pytest.raises(Conflict, match=r"^the role is being changed by other requests; try again$"):
        attempt(roles)
    assert len(store.events) == 1 and ("demo", "hunter") in store.roles

    store.lost_writes = EDIT_RETRIES - 1
    attempt(roles)
    assert len(store.events) == 2


def test_a_role_still_granted_is_not_deleted_and_its_holders_are_named(store):
    # The key rules (tests/unit/test_role_holders.py) let this caller change both holders.
    checked: list[tuple[Caller, list[Any]]] = []
    roles = service(store, authorize_changes=lambda caller, keys: checked.append((caller, list(keys))))
    roles.create(ADMIN, "demo", {"name": "hunter", "permissions": ["intelligence:read"]})
    holders = [SimpleNamespace(key_id="k1", name="CI"), SimpleNamespace(key_id="k2", name="")]
    store.holders[("demo", "hunter")] = holders
    with pytest.raises(RoleInUse, match=r"^role 'hunter' is still granted to 2 key\(s\): k1, k2$") as refused:
        roles.delete(ADMIN, "demo", "hunter")
    assert refused.value.holders == [{"id": "k1", "name": "CI"}, {"id": "k2", "name": ""}]
    assert ("demo", "hunter") in store.roles and len(store.events) == 1
    assert checked == [(ADMIN, holders)], "deleting a role is changing each key holding it"


@pytest.mark.parametrize("change", ["edit", "delete"])
def test_a_change_here_is_seen_at_once_through_this_containers_cache(store, change):
    moment = [0.0]
    roles = service(store, cache_ttl_seconds=300, monotonic=lambda: moment[0])
    roles.create(ADMIN, "demo", {"name": "hunter", "permissions": ["intelligence:read", "playbooks:run"]})
    assert "hunter" in roles.custom("demo") and "hunter" in roles.held("demo", ["hunter"])

    if change == "edit":
        roles.edit(ADMIN, "demo", "hunter", {"permissions": ["intelligence:read"]})
        assert roles.custom("demo")["hunter"].permissions == ("intelligence:read",)
        assert roles.held("demo", ["hunter"])["hunter"].permissions == ("intelligence:read",)
    else:
        roles.delete(ADMIN, "demo", "hunter")
        assert "hunter" not in roles.custom("demo") and "hunter" not in roles.held("demo", ["hunter"])


def test_forgetting_one_community_keeps_the_others_cached(store):
    moment = [0.0]
    roles = service(store, cache_ttl_seconds=300, monotonic=lambda: moment[0])
    for community in ("demo", "other"):
        store.roles[(community, "hunter")] = CustomRole(community, "hunter", "", ["intelligence:read"], NOW, "operator")
        roles.held(community, ["hunter"])
    reads = store.reads
    roles.forget("demo")
    roles.held("other", ["hunter"])
    assert store.reads == reads
    roles.held("demo", ["hunter"])
    assert store.reads == reads + 1


def test_the_catalog_cache_lasts_its_ttl_and_no_cache_means_a_read_each_time(store):
    moment = [0.0]
    cached = service(store, cache_ttl_seconds=1, monotonic=lambda: moment[0])
    cached.custom("demo")
    moment[0] = 0.999
    cached.custom("demo")
    assert store.reads == 1
    moment[0] = 1.0  # expired at its ttl, not after
    cached.custom("demo")
    assert store.reads == 2

    uncached = service(store)  # the default: read on every request
    uncached.custom("demo")
    uncached.custom("demo")
    assert store.reads == 4


def test_a_communitys_catalog_counts_built_in_and_custom_roles(store):
    store.roles[("demo", "hunter")] = CustomRole("demo", "hunter", "", ["intelligence:read"], NOW, "operator")
    catalog = service(store).catalog("demo")
    assert len(catalog) == len(BUILTIN_ROLES) + 1 == len(list(catalog))


def test_a_duplicate_name_and_a_role_past_the_cap_are_refused_in_words(store):
    roles = service(store)
    roles.create(ADMIN, "demo", {"name": "hunter", "permissions": ["intelligence:read"]})
    with pytest.raises(Conflict, match=r"^name: a role named 'hunter' already exists$"):
        roles.create(ADMIN, "demo", {"name": "hunter", "permissions": ["playbooks:run"]})
    for number in range(MAX_CUSTOM_ROLES - 1):
        store.roles[("demo", f"r{number}")] = CustomRole("demo", f"r{number}", "", [], NOW, "operator")
    with pytest.raises(Conflict, match=rf"^a community has at most {MAX_CUSTOM_ROLES} custom roles$"):
        roles.create(ADMIN, "demo", {"name": "late", "permissions": ["intelligence:read"]})
    assert ("demo", "late") not in store.roles and len(store.events) == 1


def test_a_role_created_here_is_seen_at_once_through_this_containers_cache(store):
    roles = service(store, cache_ttl_seconds=300, monotonic=lambda: 0.0)
    assert roles.custom("demo") == {} and roles.held("demo", ["hunter"]) == {}  # both cached, empty
    roles.create(ADMIN, "demo", {"name": "hunter", "permissions": ["intelligence:read"]})
    assert roles.custom("demo")["hunter"].permissions == ("intelligence:read",)
    assert roles.held("demo", ["hunter"])["hunter"].permissions == ("intelligence:read",)


def test_the_authorizers_roles_are_cached_for_their_ttl_missing_ones_included(store):
    store.roles[("demo", "hunter")] = CustomRole("demo", "hunter", "", ["intelligence:read"], NOW, "operator")
    moment = [0.0]
    roles = service(store, cache_ttl_seconds=1, monotonic=lambda: moment[0])
    asked = ["hunter", "ghost", "ic_viewer"]
    first = roles.held("demo", asked)
    moment[0] = 0.999
    assert roles.held("demo", asked) == first and set(first) == {"hunter", "ic_viewer"}  # no entry for a ghost
    assert store.reads == 1
    moment[0] = 1.0  # expired at its ttl, not after
    roles.held("demo", asked)
    assert store.reads == 2


# -- who is asking ------------------------------------------------------------------------------


def test_the_operator_at_the_cli_holds_every_permission_and_is_named_operator():
    operator = Caller.operator("demo")
    assert operator.permissions == frozenset(PERMISSIONS) and operator.roles == ()
    assert (operator.community, operator.key_id, operator.actor) == ("demo", "operator", "operator")
    assert ADMIN.actor == "key:admin0000000000"


def test_whoami_shows_the_key_its_community_roles_and_sorted_permissions_never_its_gateway_key():
    caller = Caller("k" * 16, "demo", ("soc_analyst", "ic_viewer"), frozenset({"playbooks:run", "intelligence:read"}),
                    usage_identifier_key="gateway-key-value")  # fmt: skip
    assert caller.view() == {
        "id": "k" * 16,
        "community": "demo",
        "roles": ["soc_analyst", "ic_viewer"],
        "permissions": ["intelligence:read", "playbooks:run"],
    }
    assert "gateway-key-value" not in repr(caller)
