"""Editing or deleting a custom role is changing every key that holds it, so it needs what changing
each of those keys needs: a key weaker than a holder, or a key in its rotation grace period whose
successor holds the role, is refused, and the refusal names the key (tests/security/test_access.py
runs the same rules over HTTP; tests/functional/test_custom_roles.py finds the holders in DynamoDB).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from chalicelib.api.bodies import Bodies
from chalicelib.errors import Forbidden
from chalicelib.keys.records import ACTIVE, PENDING, KeyRecord
from chalicelib.keys.rotation import Rotation
from chalicelib.keys.service import KeyService
from chalicelib.roles.caller import Caller
from chalicelib.roles.custom import CustomRole, CustomRoles, RoleInUse
from tests.fakes import InMemoryStore
from tests.unit.test_failed_vault_create import PEPPERS
from tests.unit.test_role_management import Roles

NOW = datetime(2026, 1, 1, tzinfo=UTC)
OPERATOR = Caller.operator("demo")


class HeldRoles(Roles):
    """The role store over the key store's keys: a role's holders are the community's active and
    pending keys naming it, as ``DynamoRoleStore.keys_granted`` finds them."""

    def __init__(self, keys: InMemoryStore) -> None:
        super().__init__()
        self.keys = keys

    def keys_granted(self, community: str, name: str) -> list[KeyRecord]:  # type: ignore[override]
        return [
            copy.deepcopy(key)
            for key in self.keys.keys.values()
            if key.community == community and key.status in (ACTIVE, PENDING) and name in key.roles
        ]


class World:
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.role_store = HeldRoles(store)
        self.keys = KeyService(
            store,
            key_prefix="apk",
            peppers=PEPPERS,
            clock=lambda: NOW,
            catalog=lambda c: self.roles.catalog(c),
            bodies=Bodies(),
        )
        self.roles = CustomRoles(
            self.role_store, authorize_changes=self.keys.authorize_changes, clock=lambda: NOW, bodies=Bodies()
        )
        self.rotation = Rotation(self.keys, store)

    def role(self, name: str, *permissions: str) -> None:
        self.roles.create(OPERATOR, "demo", {"name": name, "permissions": list(permissions)})

    def key(self, *roles: str, name: str = "k") -> tuple[KeyRecord, Caller]:
        key = self.keys.create(OPERATOR, "demo", {"name": name, "roles": list(roles)}).key
        return key, self.caller_of(key)

    def caller_of(self, key: KeyRecord) -> Caller:
        return Caller(key.key_id, "demo", tuple(key.roles), self.keys.permissions("demo", key.roles))

    def permissions_of(self, key: KeyRecord) -> frozenset[str]:
        return self.keys.permissions("demo", self.store.keys[key.key_id].roles)

    def role_now(self, name: str) -> CustomRole:
        return self.role_store.roles[("demo", name)]


@pytest.fixture
def world(store: InMemoryStore) -> World:
    return World(store)


def test_a_weaker_key_cannot_narrow_a_role_a_stronger_key_holds(world):
    """The reported hole: S holds keymgr and soc_analyst; H, weaker than S, narrows keymgr."""
    world.role("keymgr", "apikeys:manage")
    strong, _ = world.key("keymgr", "soc_analyst", name="S")
    _, weak = world.key("apikeys_admin", "ic_viewer", name="H")
    events = len(world.role_store.events)

    with pytest.raises(Forbidden) as refused:
        world.roles.edit(weak, "demo", "keymgr", {"permissions": ["intelligence:read"]})

    assert str(refused.value) == (
        f"this key lacks permissions the key {strong.key_id} holds: operations:read, operations:write"
    )
    assert world.role_now("keymgr").permissions == ["apikeys:manage"]
    assert "apikeys:manage" in world.permissions_of(strong)
    assert len(world.role_store.events) == events


def test_a_weaker_key_cannot_widen_a_role_a_stronger_key_holds(world):
    """The other way round: H adds what it holds to a role held by T, which H may not change."""
    world.role("reader", "intelligence:read")
    strong, _ = world.key("reader", "soc_analyst", name="T")
    _, weak = world.key("apikeys_admin", "ic_viewer", name="H")

    for change in ({"permissions": ["intelligence:read", "apikeys:manage"]}, {"description": "renamed"}):
        with pytest.raises(Forbidden, match=f"^this key lacks permissions the key {strong.key_id} holds: "):
            world.roles.edit(weak, "demo", "reader", change)
    assert "apikeys:manage" not in world.permissions_of(strong)
    assert world.role_now("reader").description == ""


def test_a_role_is_changed_by_a_caller_that_may_change_every_holder(world):
    world.role("reader", "intelligence:read")
    equal, _ = world.key("reader", "apikeys_admin", name="equal")
    weaker, _ = world.key("reader", name="weaker")
    _, caller = world.key("apikeys_admin", "ic_viewer", name="H")

    world.roles.edit(caller, "demo", "reader", {"permissions": ["apikeys:manage"]})

    assert world.role_now("reader").permissions == ["apikeys:manage"]
    assert world.permissions_of(weaker) == {"apikeys:manage"}
    assert world.permissions_of(equal) == {"apikeys:manage"}


def test_a_role_nobody_holds_is_changed_and_deleted_by_any_caller_holding_its_permissions(world):
    world.role("reader", "intelligence:read")
    _, caller = world.key("apikeys_admin", "ic_viewer")
    world.roles.edit(caller, "demo", "reader", {"description": "d"})
    world.roles.delete(caller, "demo", "reader")
    assert ("demo", "reader") not in world.role_store.roles


def test_a_pending_holder_counts_as_a_holder(world):
    world.role("reader", "intelligence:read")
    strong, _ = world.key("reader", "soc_analyst", name="pending")
    world.store.keys[strong.key_id].status = PENDING
    _, weak = world.key("apikeys_admin", "ic_viewer")
    with pytest.raises(Forbidden, match=f"the key {strong.key_id} holds"):
        world.roles.edit(weak, "demo", "reader", {"description": "x"})


def test_deleting_a_role_a_stronger_key_holds_is_refused_before_it_is_called_in_use(world):
    world.role("reader", "intelligence:read")
    strong, _ = world.key("reader", "soc_analyst", name="S")
    held_by_weaker, _ = world.key("reader", name="W")
    _, weak = world.key("apikeys_admin", "ic_viewer")

    with pytest.raises(Forbidden, match=f"^this key lacks permissions the key {strong.key_id} holds: operations:read"):
        world.roles.delete(weak, "demo", "reader")

    world.keys.revoke(OPERATOR, "demo", strong.key_id)
    with pytest.raises(RoleInUse, match=rf"^role 'reader' is still granted to 1 key\(s\): {held_by_weaker.key_id}$"):
        world.roles.delete(weak, "demo", "reader")
    assert ("demo", "reader") in world.role_store.roles


def test_a_key_in_its_grace_period_cannot_change_a_role_its_successor_holds(world):
    world.role("reader", "intelligence:read")
    world.role("other", "intelligence:read")
    leaked, leaked_caller = world.key("reader", "apikeys_admin", name="L")
    _, unrelated_caller = world.key("apikeys_admin", "ic_viewer")
    successor = world.rotation.rotate(OPERATOR, "demo", leaked.key_id, {"grace": "7d"}).new

    with pytest.raises(Forbidden) as refused:
        world.roles.edit(leaked_caller, "demo", "reader", {"permissions": ["apikeys:manage"]})
    # Both L and its successor hold the role: the successor is the one named.
    assert str(refused.value) == (
        f"this key is in its rotation grace period and cannot change its successor {successor.key_id}"
    )
    # A role only the retiring key's unrelated peers hold, it still changes; so does any other key.
    world.roles.edit(leaked_caller, "demo", "other", {"description": "still mine"})
    world.roles.edit(unrelated_caller, "demo", "reader", {"description": "changed"})
    assert world.role_now("reader").description == "changed"


def test_without_the_key_rules_a_role_held_by_any_key_is_not_changed(world):
    world.role("reader", "intelligence:read")
    world.role("free", "intelligence:read")
    held, _ = world.key("reader")
    world.key("reader")
    bare = CustomRoles(world.role_store, clock=lambda: NOW, bodies=Bodies())

    for change in (lambda: bare.edit(OPERATOR, "demo", "reader", {"description": "x"}),
                   lambda: bare.delete(OPERATOR, "demo", "reader")):  # fmt: skip
        with pytest.raises(Forbidden) as refused:
            change()
        assert str(refused.value) == (
            f"the key {held.key_id} holds the role, and no rule for changing keys is set here"
        )
    bare.edit(OPERATOR, "demo", "free", {"description": "x"})
    bare.delete(OPERATOR, "demo", "free")
    assert ("demo", "free") not in world.role_store.roles


def test_a_holders_strength_counts_its_custom_roles_as_they_are_now(world):
    """A key whose strength comes from a custom role alone: the community's own roles are read."""
    world.role("power", "apikeys:manage", "operations:write")
    world.role("reader", "intelligence:read")
    strong, _ = world.key("power", "reader", name="P")
    _, weak = world.key("apikeys_admin", "ic_viewer")
    with pytest.raises(Forbidden) as refused:
        world.roles.edit(weak, "demo", "reader", {"description": "x"})
    assert str(refused.value) == f"this key lacks permissions the key {strong.key_id} holds: operations:write"
    with pytest.raises(
        Forbidden, match=f"^this key lacks permissions the key {strong.key_id} holds: operations:write$"
    ):
        world.keys.revoke(weak, "demo", strong.key_id)
