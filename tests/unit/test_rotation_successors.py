"""A key in its rotation grace period cannot change, rotate or revoke its successors (the keys it
was rotated into, and theirs in turn); it can still be revoked, and still changes other keys.
Rotating at the live-key cap: with grace it is refused (the old key stays live), without grace it
always works. Run on the in-memory store; tests/functional/test_rotate.py runs them over HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.api.bodies import Bodies
from chalicelib.errors import Conflict, Forbidden
from chalicelib.keys.records import ACTIVE, REVOKED, KeyRecord
from chalicelib.keys.rotation import Rotation
from chalicelib.keys.service import MAX_SUCCESSORS, KeyService
from chalicelib.roles.caller import Caller
from tests.fakes import InMemoryStore
from tests.unit.test_failed_vault_create import PEPPERS

NOW = datetime(2026, 1, 1, tzinfo=UTC)
OPERATOR = Caller.operator("demo")
MANAGER = ("apikeys_admin", "ic_viewer")


def service_of(store: InMemoryStore, **options: object) -> KeyService:
    return KeyService(store, key_prefix="apk", peppers=PEPPERS, clock=lambda: NOW, **options, bodies=Bodies())  # type: ignore[arg-type]


@pytest.fixture
def service(store: InMemoryStore) -> KeyService:
    return service_of(store)


@pytest.fixture
def rotation(service: KeyService, store: InMemoryStore) -> Rotation:
    return Rotation(service, store)


def make(service: KeyService, roles: tuple[str, ...] = MANAGER, name: str = "k") -> KeyRecord:
    return service.create(OPERATOR, "demo", {"name": name, "roles": list(roles)}).key


def caller_of(key: KeyRecord) -> Caller:
    return Caller(key.key_id, "demo", tuple(key.roles), frozenset({"apikeys:manage", "intelligence:read"}))


def successor_refusal(key_id: str) -> str:
    return f"^this key is in its rotation grace period and cannot change its successor {key_id}$"


def test_a_key_in_its_grace_period_cannot_touch_its_successor(service, rotation, store):
    """The reported attack: L, leaked, is rotated by its owner with 7 days' grace into N; L then
    rotates N away (leaving itself the only fresh key) or revokes it."""
    leaked = make(service, name="L")
    successor = rotation.rotate(OPERATOR, "demo", leaked.key_id, {"grace": "7d"}).new
    attacker = caller_of(leaked)
    events = len(store.events)

    with pytest.raises(Forbidden, match=successor_refusal(successor.key_id)):
        rotation.rotate(attacker, "demo", successor.key_id, {"grace": "immediate"})
    with pytest.raises(Forbidden, match=successor_refusal(successor.key_id)):
        service.revoke(attacker, "demo", successor.key_id)
    with pytest.raises(Forbidden, match=successor_refusal(successor.key_id)):
        service.edit(attacker, "demo", successor.key_id, {"name": "mine now"})

    assert store.keys[successor.key_id].status == ACTIVE and store.keys[successor.key_id].rotated_to is None
    assert store.keys[successor.key_id].name == "L"
    assert len(store.events) == events


def test_the_successors_successors_are_out_of_reach_too(service, rotation):
    leaked = make(service)
    first = rotation.rotate(OPERATOR, "demo", leaked.key_id, {"grace": "7d"}).new
    second = rotation.rotate(OPERATOR, "demo", first.key_id, {"grace": "7d"}).new
    assert service.successors(caller_of(leaked)) == {first.key_id, second.key_id}
    assert service.successors(caller_of(first)) == {second.key_id}
    assert service.successors(caller_of(second)) == frozenset()
    with pytest.raises(Forbidden, match=successor_refusal(second.key_id)):
        service.revoke(caller_of(leaked), "demo", second.key_id)


def test_a_key_in_its_grace_period_can_still_be_revoked_and_changes_other_keys(service, rotation, store):
    leaked = make(service)
    rotation.rotate(OPERATOR, "demo", leaked.key_id, {"grace": "7d"})
    # Another rotated key (a successor of someone else) is no successor of this one.
    other = make(service, name="other")
    others_successor = rotation.rotate(OPERATOR, "demo", other.key_id, {"grace": "1h"}).new

    edited = service.edit(caller_of(leaked), "demo", others_successor.key_id, {"name": "renamed"})
    assert edited.name == "renamed"
    assert service.revoke(caller_of(leaked), "demo", leaked.key_id).status == REVOKED


def test_a_successor_changes_its_predecessor_and_the_operator_changes_both(service, rotation):
    old = make(service)
    new = rotation.rotate(OPERATOR, "demo", old.key_id, {"grace": "7d"}).new
    assert service.successors(caller_of(new)) == frozenset()
    assert service.revoke(caller_of(new), "demo", old.key_id).status == REVOKED
    assert service.successors(OPERATOR) == frozenset()
    assert service.edit(OPERATOR, "demo", new.key_id, {"name": "n"}).name == "n"


def test_a_key_never_rotated_costs_no_read_of_the_caller(service, store):
    key = make(service)
    caller = caller_of(make(service))
    reads = store.gets
    service.authorize_changes(caller, [store.keys[key.key_id]])
    service.authorize_changes(caller, [])
    assert store.gets == reads


def test_a_chain_of_successors_is_followed_to_its_bound_then_refused(service, store):
    keys = [make(service, name=f"k{n}") for n in range(MAX_SUCCESSORS + 2)]

    def link(upto: int) -> None:
        for before, after in zip(keys[:upto], keys[1 : upto + 1], strict=True):
            store.keys[before.key_id].rotated_to = after.key_id
            store.keys[after.key_id].rotated_from = before.key_id

    link(MAX_SUCCESSORS)
    assert service.successors(caller_of(keys[0])) == {key.key_id for key in keys[1 : MAX_SUCCESSORS + 1]}
    with pytest.raises(Forbidden, match=successor_refusal(keys[MAX_SUCCESSORS].key_id)):
        service.authorize_change(caller_of(keys[0]), store.keys[keys[MAX_SUCCESSORS].key_id])

    link(MAX_SUCCESSORS + 1)
    with pytest.raises(Forbidden) as refused:
        service.successors(caller_of(keys[0]))
    assert str(refused.value) == (
        f"this key is in its rotation grace period and has more than {MAX_SUCCESSORS} successors; "
        "use its newest successor"
    )


def test_rotating_a_key_whose_successor_was_revoked_says_so(service, rotation, store):
    old = make(service)
    new = rotation.rotate(OPERATOR, "demo", old.key_id, {"grace": "7d"}).new

    with pytest.raises(Conflict) as again:
        rotation.rotate(OPERATOR, "demo", old.key_id, {"grace": "7d"})
    assert str(again.value) == f"this key was already rotated to {new.key_id}; rotate that key instead"

    service.revoke(OPERATOR, "demo", new.key_id)
    with pytest.raises(Conflict) as refused:
        rotation.rotate(OPERATOR, "demo", old.key_id, {"grace": "immediate"})
    assert str(refused.value) == (
        f"this key was already rotated to {new.key_id}, which was revoked; create a new key instead "
        "(this one stops working when its grace period ends)"
    )
    assert store.keys[old.key_id].status == ACTIVE


AT_CAP = (
    "this community already has 3 live API keys, the most allowed, and a key in its grace period counts until "
    'it stops working; rotate with grace "immediate", or revoke a key it no longer needs'
)


def test_at_the_cap_a_rotation_with_grace_is_refused_and_an_immediate_one_works(store):
    service = service_of(store, max_keys=3)
    rotation = Rotation(service, store)
    keys = [make(service, name=f"k{n}") for n in range(3)]

    with pytest.raises(Conflict) as refused:
        rotation.rotate(OPERATOR, "demo", keys[0].key_id, {"grace": "1h"})
    assert str(refused.value) == AT_CAP
    assert len(store.keys) == 3 and store.keys[keys[0].key_id].rotated_to is None

    # Without grace the old key leaves as the new one comes: always possible, and the chain goes on.
    newest = keys[0]
    for _ in range(3):
        newest = rotation.rotate(OPERATOR, "demo", newest.key_id, {"grace": "immediate"}).new
    live = [key for key in store.keys.values() if key.status == ACTIVE]
    assert len(live) == 3 and newest.key_id in {key.key_id for key in live}


def test_below_the_cap_a_rotation_with_grace_takes_the_last_place(store):
    service = service_of(store, max_keys=3)
    rotation = Rotation(service, store)
    first = make(service)
    make(service)
    successor = rotation.rotate(OPERATOR, "demo", first.key_id, {"grace": "1h"}).new
    # The key in grace and its successor both count: the chain stops at the cap.
    with pytest.raises(Conflict, match="^this community already has 3 live API keys"):
        rotation.rotate(OPERATOR, "demo", successor.key_id, {"grace": "1h"})
    with pytest.raises(Conflict, match="^this community already has 3 live"):
        service.create(OPERATOR, "demo", {"name": "one more", "roles": ["ic_viewer"]})
