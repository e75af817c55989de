"""A create whose secret cannot be stored in the vault leaves nothing behind in the vault.

The vault here is an in-memory stand-in: the faults it plays (a write that lands but is reported
as failed, a key changed by the sweeper while its secret was being written) cannot be provoked
on demand from moto or OpenBao. It keeps what was written by location, as a real vault would.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.api.bodies import Bodies
from chalicelib.errors import Conflict, LeftBehind, StoreError, VaultFailure
from chalicelib.keys import format as key_format
from chalicelib.keys.records import ACTIVE, FAILED, PENDING
from chalicelib.keys.service import KeyService
from chalicelib.roles.caller import Caller
from chalicelib.trail import Event
from tests.fakes import InMemoryStore

PEPPERS = (key_format.Pepper("p1", b"n" * 32),)
ADMIN = Caller.operator("demo")
MOMENT = datetime(2026, 1, 1, tzinfo=UTC)
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
def service(store: InMemoryStore, box: Box) -> KeyService:
    return KeyService(store, key_prefix="apk", peppers=PEPPERS, vaults=box, clock=lambda: MOMENT, bodies=Bodies())


def test_a_vault_write_reported_failed_is_taken_back_and_the_key_failed(service, store, box):
    box.fail_after_write = True

    with pytest.raises(VaultFailure):
        service.create(ADMIN, "demo", BODY)

    assert box.secrets == {}
    [key] = store.keys.values()
    assert key.status == FAILED and key.updated_at == MOMENT
    assert [event.action for event in store.events] == ["create", "fail"]
    fail = store.events[-1]
    assert (fail.key_id, fail.actor, fail.at, fail.details) == (key.key_id, "operator", MOMENT,
                                                                {"reason": "vault write failed"})  # fmt: skip


def sweeper_fails_the_key(store: InMemoryStore) -> None:
    [key] = store.keys.values()
    store.update(key, {"status": FAILED}, Event("demo", key.key_id, "fail", "sweeper", key.created_at, {}))


def test_a_failed_write_on_a_key_the_sweeper_already_failed_still_leaves_the_vault_clean(service, store, box, caplog):
    box.fail_after_write = True
    box.on_put = lambda: sweeper_fails_the_key(store)

    with caplog.at_level(logging.WARNING), pytest.raises(VaultFailure):
        service.create(ADMIN, "demo", BODY)

    assert box.secrets == {}
    [key] = store.keys.values()
    assert key.status == FAILED
    assert f"could not mark key {key.key_id} failed" in caplog.text


def test_a_key_resumed_by_a_retry_during_the_write_keeps_the_secret_at_its_path(service, store, box):
    def retry_resumes_the_key() -> None:
        [key] = store.keys.values()
        event = Event("demo", key.key_id, "resume", "operator", MOMENT, {})
        store.update(key, {"key_hash": "another secret's hash"}, event)

    box.on_put = retry_resumes_the_key

    with pytest.raises(Conflict):
        service.create(ADMIN, "demo", BODY)

    # The retry owns the path now and writes its own secret there: ours must not delete it.
    [key] = store.keys.values()
    assert list(box.secrets) == [f"demo/{key.key_id}"]


def test_a_lost_race_whose_discard_fails_is_logged_for_the_sweeper(service, store, box, caplog):
    box.on_put = lambda: sweeper_fails_the_key(store)

    def refuse(location: Mapping[str, Any]) -> None:
        raise VaultFailure("box", "unavailable")

    box.discard = refuse  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING), pytest.raises(Conflict):
        service.create(ADMIN, "demo", BODY)

    [key] = store.keys.values()
    assert f"could not discard the vaulted secret of key {key.key_id}" in caplog.text


def test_a_key_failed_by_the_sweeper_during_the_write_gets_its_secret_taken_back(service, store, box):
    box.on_put = lambda: sweeper_fails_the_key(store)

    with pytest.raises(Conflict):
        service.create(ADMIN, "demo", BODY)

    assert box.secrets == {}
    assert [key.status for key in store.keys.values()] == [FAILED]


def test_a_successful_vault_create_keeps_the_secret_at_the_location_on_the_key(service, store, box):
    created = service.create(ADMIN, "demo", BODY)

    assert created.secret is None
    key = store.keys[created.key.key_id]
    assert key.status == ACTIVE and key.vault == {"target": "box", "path": f"demo/{key.key_id}", "version": 1}
    assert key_format.verify(box.secrets[f"demo/{key.key_id}"], key.key_hash, key.pepper_id, PEPPERS)


# -- the activation write fails after the secret reached the vault ----------------------------------
# A store fault on cue (the table failing one write, or one write and the read after it) is played
# by wrapping ``InMemoryStore``: a real table cannot be made to fail a chosen write.

LEFT_PENDING = (
    "the key store failed while activating key {id}: {state} (a pending key does not work) with its secret in "
    "vault target 'box'; the sweeper removes both (within the deployment's pending timeout, 15 minutes by "
    "default), or a retry with the same Idempotency-Key completes the key"
)


def fail_writes(store: InMemoryStore, *, activations: int = 1, fails: int = 0, reads: int = 0, land: bool = False):
    """The next ``activations`` activation writes fail with StoreError (after landing, with ``land``:
    their answer is lost), then ``fails`` writes marking a key failed, then ``reads`` reads."""
    real_update, real_get = store.update, store.get
    left = {"activate": activations, "fail": fails, "read": 0}

    def update(key: Any, changes: Any, event: Event) -> Any:
        if left.get(event.action, 0) > 0:
            left[event.action] -= 1
            if land:
                real_update(key, changes, event)
            left["read"] = reads
            raise StoreError("the keys table refused the write")
        return real_update(key, changes, event)

    def get(key_id: str) -> Any:
        if left["read"] > 0:
            left["read"] -= 1
            raise StoreError("the keys table could not be read")
        return real_get(key_id)

    store.update = update  # type: ignore[method-assign]
    store.get = get  # type: ignore[method-assign]


def test_a_failed_activation_takes_the_secret_back_and_fails_the_key(service, store, box):
    fail_writes(store)

    with pytest.raises(StoreError) as refused:
        service.create(ADMIN, "demo", BODY)

    assert type(refused.value) is StoreError  # the plain answer: nothing of the create is left
    assert box.secrets == {}
    [key] = store.keys.values()
    assert (
        str(refused.value)
        == f"the activation of key {key.key_id} failed; the key is failed and nothing made for it is left"
    )
    assert key.status == FAILED and key.updated_at == MOMENT
    assert [(e.action, e.actor, e.details) for e in store.events] == [
        ("create", "operator", store.events[0].details),
        ("fail", "operator", {"reason": "activation write failed"}),
    ]


def test_a_failed_activation_whose_secret_cannot_be_taken_back_says_what_is_left(service, store, box):
    fail_writes(store)

    def refuse(location: Mapping[str, Any]) -> None:
        raise VaultFailure("box", "unavailable")

    box.discard = refuse  # type: ignore[method-assign]
    with pytest.raises(LeftBehind) as refused:
        service.create(ADMIN, "demo", BODY)

    [key] = store.keys.values()
    assert str(refused.value) == LEFT_PENDING.format(id=key.key_id, state="the key is left pending")
    assert key.status == PENDING and list(box.secrets) == [f"demo/{key.key_id}"]


def test_a_failed_activation_that_cannot_fail_the_key_says_it_still_counts(service, store, box):
    fail_writes(store, fails=1)

    with pytest.raises(LeftBehind) as refused:
        service.create(ADMIN, "demo", BODY)

    [key] = store.keys.values()
    assert str(refused.value) == (
        f"the key store failed while activating key {key.key_id}: the key does not work and its secret is deleted, "
        f"but it counts toward the community's live keys until the sweeper fails it (within the deployment's "
        f"pending timeout, 15 minutes by default)"
    )
    assert key.status == PENDING and box.secrets == {}


def test_a_failed_activation_that_cannot_be_read_back_leaves_everything_for_the_key_or_the_sweeper(service, store, box):
    fail_writes(store, reads=1)

    with pytest.raises(LeftBehind) as refused:
        service.create(ADMIN, "demo", BODY)

    [key] = store.keys.values()
    state = "unless it is listed as active, it is left pending"
    assert str(refused.value) == LEFT_PENDING.format(id=key.key_id, state=state)
    assert key.status == PENDING and list(box.secrets) == [f"demo/{key.key_id}"]
    # The sweeper finds it and takes both back.
    assert service.sweep(-1) == [key.key_id] and box.secrets == {}


def test_an_activation_whose_answer_was_lost_and_the_secret_only_in_the_vault_answers_no_secret(service, store, box):
    fail_writes(store, land=True)

    created = service.create(ADMIN, "demo", BODY)  # "reveal": false

    [key] = store.keys.values()
    assert created.key.key_id == key.key_id and key.status == ACTIVE and created.secret is None
    assert key_format.verify(box.secrets[f"demo/{key.key_id}"], key.key_hash, key.pepper_id, PEPPERS)


def test_a_failed_activation_of_a_key_the_sweeper_failed_meanwhile_is_the_lost_race(service, store, box):
    """Not ours to take back whole any more: the sweeper failed the key while its secret was
    written, so the answer is the lost race's, the secret is taken back, and the key stays failed."""
    box.on_put = lambda: sweeper_fails_the_key(store)
    fail_writes(store)

    with pytest.raises(Conflict, match="^the key changed while its secret was stored"):
        service.create(ADMIN, "demo", BODY)

    assert box.secrets == {}
    [key] = store.keys.values()
    assert key.status == FAILED
    assert [event.action for event in store.events] == ["create", "fail"]


def test_an_activation_whose_answer_was_lost_is_the_key_created(service, store, box):
    fail_writes(store, land=True)

    created = service.create(ADMIN, "demo", {**BODY, "reveal": True})

    [key] = store.keys.values()
    assert created.key.key_id == key.key_id and key.status == ACTIVE and created.key.status == ACTIVE
    assert key_format.verify(created.secret or "", key.key_hash, key.pepper_id, PEPPERS)
    assert box.secrets[f"demo/{key.key_id}"] == created.secret
    assert [event.action for event in store.events] == ["create", "activate"]


def test_a_failed_activation_of_a_key_a_retry_resumed_leaves_its_path_to_the_retry(service, store, box):
    fail_writes(store)

    def retry_resumes_the_key() -> None:
        [key] = store.keys.values()
        store.keys[key.key_id].key_hash = "another secret's hash"

    box.on_put = retry_resumes_the_key
    with pytest.raises(Conflict, match="^the key changed while its secret was stored; retry with the same Idem"):
        service.create(ADMIN, "demo", BODY)

    [key] = store.keys.values()
    assert key.status == PENDING and list(box.secrets) == [f"demo/{key.key_id}"]
