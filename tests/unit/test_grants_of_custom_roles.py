"""Granting a role needs every permission the role holds, custom roles included.

A community's custom role is as real as a built-in one: a key limited to managing keys must not
hand out a custom role that holds more (on create or on edit), or it could mint a stronger key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from chalicelib.api.bodies import Bodies
from chalicelib.errors import Forbidden
from chalicelib.keys import format as key_format
from chalicelib.keys.service import KeyService
from chalicelib.roles.caller import Caller
from chalicelib.roles.catalog import BUILTIN_ROLES, Role
from tests.fakes import InMemoryStore

PEPPERS = (key_format.Pepper("p1", b"n" * 32),)
POWER = Role("power", "Keys and operations", ("apikeys:manage", "operations:write"), builtin=False)
READER = Role("reader", "Reads intelligence", ("intelligence:read",), builtin=False)
LIMITED = Caller("k1", "demo", ("apikeys_admin",), frozenset({"apikeys:manage"}))
ADMIN = Caller.operator("demo")


def catalog(community: str) -> Mapping[str, Role]:
    return {**BUILTIN_ROLES, "power": POWER, "reader": READER} if community == "demo" else BUILTIN_ROLES


@pytest.fixture
def service(store: InMemoryStore) -> KeyService:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return KeyService(store, key_prefix="apk", peppers=PEPPERS, clock=lambda: moment, catalog=catalog, bodies=Bodies())


def test_a_limited_key_cannot_create_a_key_holding_an_existing_custom_role_beyond_it(service, store):
    with pytest.raises(Forbidden, match="operations:write"):
        service.create(LIMITED, "demo", {"name": "escalate", "roles": ["power"]})
    assert store.keys == {} and store.events == []


def test_a_limited_key_cannot_add_an_existing_custom_role_beyond_it_to_a_key(service, store):
    key = service.create(LIMITED, "demo", {"name": "mine", "roles": ["apikeys_admin"]}).key

    with pytest.raises(Forbidden, match="operations:write"):
        service.edit(LIMITED, "demo", key.key_id, {"roles": ["apikeys_admin", "power"]})
    with pytest.raises(Forbidden, match="intelligence:read"):
        service.edit(LIMITED, "demo", key.key_id, {"roles": ["reader"]})
    assert store.keys[key.key_id].roles == ["apikeys_admin"]
    assert [event.action for event in store.events] == ["create"]


def test_a_caller_holding_every_permission_of_a_custom_role_may_grant_it(service, store):
    created = service.create(ADMIN, "demo", {"name": "ops", "roles": ["power"]})
    assert store.keys[created.key.key_id].roles == ["power"]
    assert service.permissions("demo", ["power"]) == frozenset({"apikeys:manage", "operations:write"})
    # Another community has no such role: the name grants nothing there.
    assert service.permissions("other", ["power"]) == frozenset()
