"""A key whose secret goes to a vault, through retries, the sweeper and revocation.

Same in-memory vault stand-in as ``test_failed_vault_create`` (the faults are played on demand:
a Lambda stopped mid-write, a vault refusing a delete), with a clock the test moves.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.api.bodies import Bodies
from chalicelib.errors import Conflict, Forbidden, NotFound, ServiceError, VaultFailure
from chalicelib.keys import format as key_format
from chalicelib.keys.records import ACTIVE, FAILED, PENDING, REVOKED
from chalicelib.keys.service import KeyService
from chalicelib.roles.caller import Caller, Grant
from tests.fakes import InMemoryStore
from tests.unit.test_failed_vault_create import BODY, PEPPERS, Box

MANAGER = Caller("mgr0000000000000", "demo", ("community_admin",), Caller.operator("demo").permissions)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Stopped(Exception):
    """The Lambda running the create stopped (timeout) right after the vault write."""


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: InMemoryStore, box: Box, clock: Clock) -> KeyService:
    return KeyService(store, key_prefix="apk", peppers=PEPPERS, vaults=box, clock=clock, bodies=Bodies())


def stop_mid_write(box: Box) -> None:
    def stop() -> None:
        raise Stopped()

    box.on_put = stop


def test_a_retry_of_a_failed_vault_create_delivers_a_fresh_secret_to_the_same_key(service, store, box, clock):
    box.fail_after_write = True
    with pytest.raises(VaultFailure):
        service.create(MANAGER, "demo", BODY, "retry-1")
    [failed] = store.keys.values()
    assert failed.status == FAILED and box.secrets == {}

    box.fail_after_write = False
    clock.now += timedelta(seconds=5)
    again = service.create(MANAGER, "demo", BODY, "retry-1")

    key = store.keys[failed.key_id]
    assert again.key.key_id == failed.key_id and key.status == ACTIVE and again.secret is None
    secret = box.secrets[f"demo/{key.key_id}"]
    assert key_format.verify(secret, key.key_hash, key.pepper_id, PEPPERS)
    assert key.key_hash != failed.key_hash
    assert [e.action for e in store.events] == ["create", "fail", "resume", "activate"]
    assert {e.actor for e in store.events} == {f"key:{MANAGER.key_id}"}


def test_a_persons_failed_create_and_its_retry_are_recorded_under_their_name(service, store, box, clock):
    grant = Grant("demo", ("community_admin",), Caller.operator("demo").permissions)
    person = Caller.signed_in("sub-1", "alice", (grant,)).in_community("demo")
    box.fail_after_write = True
    with pytest.raises(VaultFailure):
        service.create(person, "demo", BODY, "retry-person")
    box.fail_after_write = False
    clock.now += timedelta(seconds=5)
    service.create(person, "demo", BODY, "retry-person")
    trail = [(e.action, e.actor, e.actor_name) for e in store.events]
    assert trail == [(action, "user:sub-1", "alice") for action in ("create", "fail", "resume", "activate")]


def test_a_retry_while_the_first_create_may_still_run_waits_then_completes(service, store, box, clock):
    stop_mid_write(box)
    with pytest.raises(Stopped):
        service.create(MANAGER, "demo", BODY, "retry-2")
    [pending] = store.keys.values()
    assert pending.status == PENDING

    box.on_put = None
    clock.now += timedelta(seconds=59)
    with pytest.raises(Conflict, match="after 60 seconds"):
        service.create(MANAGER, "demo", BODY, "retry-2")
    clock.now += timedelta(seconds=1)
    assert service.create(MANAGER, "demo", BODY, "retry-2").key.status == ACTIVE


def test_the_sweeper_fails_a_stuck_pending_key_and_takes_its_secret_back(service, store, box, clock):
    stop_mid_write(box)
    with pytest.raises(Stopped):
        service.create(MANAGER, "demo", BODY)
    [pending] = store.keys.values()
    assert box.secrets

    clock.now += timedelta(seconds=59)
    assert service.sweep(60) == []
    assert store.keys[pending.key_id].status == PENDING and box.secrets

    clock.now += timedelta(seconds=2)
    assert service.sweep(60) == [pending.key_id]
    assert store.keys[pending.key_id].status == FAILED and box.secrets == {}
    assert store.events[-1].action == "fail" and store.events[-1].actor == "sweeper"


def test_a_sweep_whose_vault_delete_fails_leaves_the_key_for_the_next_run(service, store, box, clock):
    stop_mid_write(box)
    with pytest.raises(Stopped):
        service.create(MANAGER, "demo", BODY)
    [pending] = store.keys.values()
    real_discard = box.discard

    def refuse(location):
        raise VaultFailure("box", "unavailable")

    box.discard = refuse  # type: ignore[method-assign]
    clock.now += timedelta(seconds=120)
    assert service.sweep(60) == []
    assert store.keys[pending.key_id].status == PENDING

    box.discard = real_discard  # type: ignore[method-assign]
    assert service.sweep(60) == [pending.key_id]
    assert box.secrets == {}


def test_revoking_a_vaulted_key_cleans_its_vaulted_copy_and_a_vault_error_does_not_undo_it(service, store, box, caplog):
    first = service.create(MANAGER, "demo", BODY).key
    revoked = service.revoke(MANAGER, "demo", first.key_id, {"reason": "leaked"})
    assert revoked.status == REVOKED and revoked.revoke_reason == "leaked"
    assert f"demo/{first.key_id}" not in box.secrets

    second = service.create(MANAGER, "demo", BODY).key

    def refuse(location):
        raise ServiceError("vault unavailable")

    box.on_revoke = refuse  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING):
        assert service.revoke(MANAGER, "demo", second.key_id).status == REVOKED
    assert store.keys[second.key_id].status == REVOKED
    assert f"revoked key {second.key_id} but its vaulted copy could not be cleaned" in caplog.text


@pytest.mark.parametrize("key_id", ["short", "0123456789ABCDE!", "0123456789ABCDEF0", "../../etc"])
def test_an_id_that_cannot_be_a_key_id_is_not_found_without_a_read(service, store, key_id):
    with pytest.raises(NotFound):
        service.get(MANAGER, "demo", key_id)
    assert store.gets == 0


def test_a_pending_key_can_be_neither_edited_nor_revoked(service, store, box):
    stop_mid_write(box)
    with pytest.raises(Stopped):
        service.create(MANAGER, "demo", BODY)
    [pending] = store.keys.values()
    with pytest.raises(Conflict, match="pending"):
        service.edit(MANAGER, "demo", pending.key_id, {"name": "x"})
    with pytest.raises(Conflict, match="pending"):
        service.revoke(MANAGER, "demo", pending.key_id)


def test_refusals_say_what_is_wrong_in_the_words_the_api_documents(service, store):
    key = service.create(MANAGER, "demo", BODY).key
    with pytest.raises(NotFound, match="^no such API key$"):
        service.get(MANAGER, "demo", "0123456789ABCDEF")
    with pytest.raises(NotFound, match="^no such API key$"):
        service.get(Caller.operator("other"), "demo", key.key_id)
    with pytest.raises(NotFound, match="^no such API key$"):
        service.get(Caller.operator("other"), "other", key.key_id)
    reader = Caller("rdr0000000000000", "demo", ("ic_viewer",), frozenset({"intelligence:read"}))
    with pytest.raises(Forbidden, match="^this key lacks the apikeys:manage permission$"):
        service.get(reader, "demo", key.key_id)
