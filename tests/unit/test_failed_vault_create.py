"""A create whose secret cannot be stored in the vault leaves nothing behind in the vault.

The vault here is an in-memory stand-in: the faults it plays (a write that lands but is reported
as failed, a key changed by the sweeper while its secret was being written) cannot be provoked
on demand from moto or OpenBao. It keeps what was written by location, as a real vault would.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import keys
from chalicelib.domain import ACTIVE, FAILED, Conflict, Event, VaultFailure
from chalicelib.service import Caller, KeyService
from tests.fakes import InMemoryStore

PEPPERS = (keys.Pepper("p1", b"n" * 32),)
ADMIN = Caller.operator("demo")
BODY = {"name": "CI", "roles": ["ic_viewer"], "vault": {"target": "box"}, "reveal": False}


class Box:
    """A vault holding secrets by path; ``on_put`` lets a test act while the write is in flight."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.fail_after_write = False
        self.on_put: Any = None

    def choices(self) -> list[dict[str, str]]:
        return [{"name": "box", "kind": "box"}]

    def resolve(self, target: str, path: str | None, community: str, key_id: str) -> dict[str, Any]:
        return {"target": target, "path": f"{community}/{path or key_id}"}

    def put(self, location: Mapping[str, Any], secret: str, token: str) -> dict[str, Any]:
        self.secrets[location["path"]] = secret
        if self.on_put is not None:
            self.on_put()
        if self.fail_after_write:
            raise VaultFailure(location["target"], "timed out")
        return {**location, "version": 1}

    def on_revoke(self, location: Mapping[str, Any]) -> None:
        self.secrets.pop(location["path"], None)

    def discard(self, location: Mapping[str, Any]) -> None:
        if "path" in location:
            self.secrets.pop(location["path"], None)


@pytest.fixture
def box() -> Box:
    return Box()


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def service(store: InMemoryStore, box: Box) -> KeyService:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return KeyService(store, key_prefix="apk", peppers=PEPPERS, vaults=box, clock=lambda: moment)


def test_a_vault_write_reported_failed_is_taken_back_and_the_key_failed(service, store, box):
    box.fail_after_write = True

    with pytest.raises(VaultFailure):
        service.create(ADMIN, "demo", BODY)

    assert box.secrets == {}
    [key] = store.keys.values()
    assert key.status == FAILED
    assert [event.action for event in store.events] == ["create", "fail"]


def test_a_key_failed_by_the_sweeper_during_the_write_gets_its_secret_taken_back(service, store, box):
    def sweeper_fails_the_key() -> None:
        [key] = store.keys.values()
        store.update(key, {"status": FAILED}, Event("demo", key.key_id, "fail", "sweeper", key.created_at, {}))

    box.on_put = sweeper_fails_the_key

    with pytest.raises(Conflict):
        service.create(ADMIN, "demo", BODY)

    assert box.secrets == {}
    assert [key.status for key in store.keys.values()] == [FAILED]


def test_a_successful_vault_create_keeps_the_secret_at_the_location_on_the_key(service, store, box):
    created = service.create(ADMIN, "demo", BODY)

    assert created.secret is None
    key = store.keys[created.key.key_id]
    assert key.status == ACTIVE and key.vault == {"target": "box", "path": f"demo/{key.key_id}", "version": 1}
    assert keys.verify(box.secrets[f"demo/{key.key_id}"], key.key_hash, key.pepper_id, PEPPERS)
