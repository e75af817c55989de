"""The key service's create, delivery, retry and revoke paths, as what a user or an operator sees:
the audit trail's entries, the secret shown or not, the refusals' words, the limit, a key id
drawn twice, two requests racing on one Idempotency-Key.

The vault is the in-memory ``Box`` of ``test_failed_vault_create`` (its faults cannot be
provoked on demand from moto or OpenBao); a store fault (a write that loses its version race)
is played by wrapping ``InMemoryStore.update``, which a real table cannot be made to do on cue.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.api.bodies import Bodies
from chalicelib.errors import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    LeftBehind,
    StoreError,
    VaultFailure,
    VersionConflict,
)
from chalicelib.keys import format as key_format
from chalicelib.keys.records import ACTIVE, FAILED, REVOKED
from chalicelib.keys.service import KeyService
from chalicelib.roles.caller import Caller
from tests.fakes import InMemoryStore
from tests.unit.test_failed_vault_create import BODY, PEPPERS, Box, fail_writes
from tests.unit.test_vaulted_key_lifecycle import Clock

OPERATOR = Caller.operator("demo")
KEYS_ONLY = Caller("kad0000000000000", "demo", ("apikeys_admin",), frozenset({"apikeys:manage"}))
START = Clock().now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: InMemoryStore, box: Box, clock: Clock) -> KeyService:
    return KeyService(store, key_prefix="apk", peppers=PEPPERS, vaults=box, clock=clock, max_keys=3, bodies=Bodies())


def plain(name: str = "Feed", **extra: Any) -> dict[str, Any]:
    return {"name": name, "roles": ["ic_viewer"], **extra}


def lose_races(store: InMemoryStore, times: int) -> list[int]:
    """The next ``times`` updates find the key changed by another request (a version conflict)."""
    real, lost = store.update, [0]

    def update(key: Any, changes: Any, event: Any) -> Any:
        if lost[0] < times:
            lost[0] += 1
            raise VersionConflict()
        return real(key, changes, event)

    store.update = update  # type: ignore[method-assign]
    return lost


# -- audit trail ---------------------------------------------------------------------------------


def test_each_step_of_a_vaulted_create_is_in_the_audit_trail_with_what_it_did(service, store, box, clock):
    box.fail_after_write = True
    with pytest.raises(VaultFailure):
        service.create(OPERATOR, "demo", {**BODY, "description": "to the box"}, "idem-audit")
    [key_id] = store.keys
    box.fail_after_write = False
    clock.now = START + timedelta(minutes=5)
    service.create(OPERATOR, "demo", {**BODY, "description": "to the box"}, "idem-audit")

    create, fail, resume, activate = store.events
    assert [(e.community, e.key_id, e.action, e.actor) for e in store.events] == [
        ("demo", key_id, action, "operator") for action in ("create", "fail", "resume", "activate")
    ]
    assert create.at == fail.at == START and resume.at == activate.at == START + timedelta(minutes=5)
    assert create.details == {
        "name": "CI", "description": "to the box", "roles": ["ic_viewer"], "expires_at": None,
        "status": "pending", "plan": None, "allowed_cidrs": [],
    }  # fmt: skip
    assert fail.details == {"reason": "vault write failed"}
    assert resume.details == {"from": FAILED}
    assert activate.details == {"vault": {"target": "box", "path": f"demo/{key_id}", "version": 1}}
    key = store.keys[key_id]
    assert key.status == ACTIVE and key.updated_at == START + timedelta(minutes=5)


def test_a_revoke_records_its_reason_and_who(service, store):
    key = service.create(OPERATOR, "demo", plain()).key
    service.revoke(OPERATOR, "demo", key.key_id, {"reason": "left the team"})
    revoke = store.events[-1]
    assert (revoke.community, revoke.key_id, revoke.action, revoke.actor) == ("demo", key.key_id, "revoke", "operator")
    assert revoke.details == {"reason": "left the team"}


def test_the_idempotency_record_is_dated_when_the_key_was_created(service, store, clock):
    created = service.create(OPERATOR, "demo", plain(), "idem-dated").key
    [record] = store.idempotency.values()
    assert (record.key_id, record.created_at) == (created.key_id, START)


# -- the secret: where it goes and whether it is shown --------------------------------------------


def test_a_vault_path_is_where_the_secret_goes_and_the_token_is_the_keys_own(service, store, box):
    tokens: list[str] = []
    real_put = box.put

    def put(location: Any, secret: str, token: str) -> Any:
        tokens.append(token)
        return real_put(location, secret, token)

    box.put = put  # type: ignore[method-assign]
    first = service.create(OPERATOR, "demo", {**BODY, "vault": {"target": "box", "path": "feeds/ci"}})
    second = service.create(OPERATOR, "demo", {**BODY, "vault": {"target": "box", "path": "feeds/cd"}})
    assert set(box.secrets) == {"demo/feeds/ci", "demo/feeds/cd"}
    assert first.key.vault is not None and first.key.vault["path"] == "demo/feeds/ci"
    # One token per key and secret, so a vault that retries the write keeps one copy.
    assert len(tokens) == 2 and all(isinstance(t, str) and len(t) == 64 for t in tokens)
    assert tokens[0] != tokens[1] and second.secret is None


def test_reveal_shows_a_vaulted_secret_once_also_on_a_retried_create(service, store, box, clock):
    shown = service.create(OPERATOR, "demo", {**BODY, "reveal": True})
    assert shown.secret is not None and shown.secret == box.secrets[f"demo/{shown.key.key_id}"]

    box.fail_after_write = True
    body = {**BODY, "name": "Retried", "reveal": True}
    with pytest.raises(VaultFailure):
        service.create(OPERATOR, "demo", body, "idem-reveal")
    box.fail_after_write = False
    clock.now += timedelta(seconds=5)
    again = service.create(OPERATOR, "demo", body, "idem-reveal")
    assert again.secret is not None and again.secret == box.secrets[f"demo/{again.key.key_id}"]
    parsed = key_format.parse(again.secret, "apk")
    assert parsed.key_id == again.key.key_id  # the same key, a fresh secret in the documented format
    assert key_format.verify(again.secret, store.keys[again.key.key_id].key_hash, "p1", PEPPERS)


def test_replaying_a_delivered_vaulted_create_changes_nothing(service, store, box):
    first = service.create(OPERATOR, "demo", BODY, "idem-done")
    secret_before = dict(box.secrets)
    again = service.create(OPERATOR, "demo", BODY, "idem-done")
    assert again.replayed and again.secret is None and again.key.key_id == first.key.key_id
    assert box.secrets == secret_before and [e.action for e in store.events] == ["create", "activate"]


# -- refusals in their words ----------------------------------------------------------------------


def test_the_community_limit_counts_live_keys_and_says_how_to_get_under_it(service, store):
    keys = [service.create(OPERATOR, "demo", plain(f"k{i}")).key for i in range(3)]
    with pytest.raises(Conflict) as refused:
        service.create(OPERATOR, "demo", plain("one too many"))
    assert str(refused.value) == (
        "this community already has 3 live (active or pending) API keys, the most allowed; "
        "revoke keys it no longer needs (expired ones count until revoked)"
    )
    assert len(store.keys) == 3
    service.revoke(OPERATOR, "demo", keys[0].key_id)
    assert service.create(OPERATOR, "demo", plain("room again")).key.status == ACTIVE


def test_an_idempotency_key_reused_with_another_body_or_pointing_nowhere_is_refused(service, store):
    service.create(OPERATOR, "demo", plain("First"), "idem-1")
    with pytest.raises(IdempotencyKeyReused) as other_body:  # 422, not a Conflict (409)
        service.create(OPERATOR, "demo", plain("Second"), "idem-1")
    assert str(other_body.value) == (
        "Idempotency-Key was already used with a different body; send that body again, "
        "or use a new Idempotency-Key for this one"
    )
    assert not isinstance(other_body.value, Conflict)

    record = next(iter(store.idempotency.values()))
    del store.keys[record.key_id]  # the key it names is gone
    with pytest.raises(Conflict) as gone:
        service.create(OPERATOR, "demo", plain("First"), "idem-1")
    assert str(gone.value) == "Idempotency-Key refers to a key that no longer exists"


def test_an_idempotency_record_never_hands_out_another_communitys_key(service, store):
    elsewhere = service.create(Caller.operator("other"), "other", plain("Theirs")).key
    mine = service.create(OPERATOR, "demo", plain("Mine"), "idem-x")
    [scope] = [s for s, r in store.idempotency.items() if r.key_id == mine.key.key_id]
    store.idempotency[scope].key_id = elsewhere.key_id  # a record that names a key of another community
    with pytest.raises(Conflict, match="^Idempotency-Key refers to a key that no longer exists$"):
        service.create(OPERATOR, "demo", plain("Mine"), "idem-x")


def test_a_weaker_key_may_not_revoke_or_edit_a_stronger_one(service, store):
    strong = service.create(OPERATOR, "demo", {"name": "Admin", "roles": ["community_admin"]}).key
    expected = (
        f"this key lacks permissions the key {strong.key_id} holds: apikeys:plans, intelligence:read, "
        "intelligence:write, operations:read, operations:write, playbooks:read, playbooks:run"
    )
    with pytest.raises(Forbidden) as revoking:
        service.revoke(KEYS_ONLY, "demo", strong.key_id)
    assert str(revoking.value) == expected
    with pytest.raises(Forbidden) as editing:
        service.edit(KEYS_ONLY, "demo", strong.key_id, {"name": "Disarmed"})
    assert str(editing.value) == expected
    assert store.keys[strong.key_id].status == ACTIVE and store.keys[strong.key_id].name == "Admin"
    weak = service.create(OPERATOR, "demo", {"name": "Keys", "roles": ["apikeys_admin"]}).key
    assert service.revoke(KEYS_ONLY, "demo", weak.key_id).status == REVOKED  # an equal key: allowed


def test_granting_roles_beyond_the_callers_names_each_missing_permission(service, store):
    with pytest.raises(Forbidden) as refused:
        service.create(KEYS_ONLY, "demo", {"name": "x", "roles": ["ic_editor"]})
    assert str(refused.value) == (
        "roles: granting them needs permissions this key lacks: intelligence:read, intelligence:write"
    )
    assert store.keys == {}


# -- races and collisions --------------------------------------------------------------------------


def test_a_revoke_that_loses_a_race_tries_again_and_gives_up_with_a_clear_conflict(service, store):
    key = service.create(OPERATOR, "demo", plain()).key
    lost = lose_races(store, 1)
    assert service.revoke(OPERATOR, "demo", key.key_id).status == REVOKED and lost == [1]

    other = service.create(OPERATOR, "demo", plain("Busy")).key
    lose_races(store, 1000)
    with pytest.raises(Conflict) as busy:
        service.revoke(OPERATOR, "demo", other.key_id)
    assert str(busy.value) == "the key is being changed by other requests; try again"
    assert store.keys[other.key_id].status == ACTIVE


def test_a_retry_that_loses_the_race_to_resume_says_another_request_has_it(service, store, box, clock):
    box.fail_after_write = True
    with pytest.raises(VaultFailure):
        service.create(OPERATOR, "demo", BODY, "idem-race")
    box.fail_after_write = False
    clock.now += timedelta(seconds=5)
    lose_races(store, 1)
    with pytest.raises(Conflict) as busy:
        service.create(OPERATOR, "demo", BODY, "idem-race")
    assert str(busy.value) == (
        "another request with this Idempotency-Key is still being processed (it is completing the key)"
    )
    assert [k.status for k in store.keys.values()] == [FAILED] and box.secrets == {}


def test_a_key_failed_by_the_sweeper_during_delivery_asks_for_a_retry(service, store, box):
    def sweeper_fails_it() -> None:
        [key] = store.keys.values()
        key.status, key.version = FAILED, (key.version or 0) + 1

    box.on_put = sweeper_fails_it
    with pytest.raises(Conflict) as changed:
        service.create(OPERATOR, "demo", BODY, "idem-swept")
    assert str(changed.value) == "the key changed while its secret was stored; retry with the same Idempotency-Key"
    assert box.secrets == {}


def test_a_drawn_key_id_already_taken_is_drawn_again(service, store, monkeypatch):
    taken = service.create(OPERATOR, "demo", plain("Taken")).key.key_id
    real_generate = key_format.generate
    draws: list[str] = []

    def generate(prefix: str, key_id: str | None = None) -> Any:
        drawn = real_generate(prefix, key_id=taken if not draws else key_id)
        draws.append(drawn.key_id)
        return drawn

    monkeypatch.setattr(key_format, "generate", generate)
    created = service.create(OPERATOR, "demo", plain("Second"))
    assert draws[0] == taken and created.key.key_id == draws[1] != taken
    assert store.keys[taken].name == "Taken" and store.keys[created.key.key_id].name == "Second"


def test_a_key_id_that_stays_taken_is_a_store_error_not_a_key(service, store, monkeypatch):
    taken = service.create(OPERATOR, "demo", plain("Taken")).key.key_id
    real_generate = key_format.generate
    monkeypatch.setattr(key_format, "generate", lambda prefix, key_id=None: real_generate(prefix, key_id=taken))
    with pytest.raises(StoreError) as refused:
        service.create(OPERATOR, "demo", plain("Never"))
    assert str(refused.value) == "could not allocate a key id" and len(store.keys) == 1


def test_two_creates_racing_on_one_idempotency_key_make_one_key(service, store):
    """The second request looked for the record before the first wrote it, then lost the insert:
    it answers with the first request's key, replayed, and writes nothing of its own."""
    real_get, looked = store.get_idempotency, []
    winner: list[Any] = []

    def get_idempotency(scope: str) -> Any:
        looked.append(scope)
        if len(looked) == 1:  # the second request's first look: the first request lands right after
            record = real_get(scope)
            winner.append(service.create(OPERATOR, "demo", plain("Raced"), "idem-race"))
            return record
        return real_get(scope)

    store.get_idempotency = get_idempotency  # type: ignore[method-assign]
    answer = service.create(OPERATOR, "demo", plain("Raced"), "idem-race")
    assert answer.replayed and answer.secret is None and answer.key.key_id == winner[0].key.key_id
    assert list(store.keys) == [winner[0].key.key_id] and [e.action for e in store.events] == ["create"]


def test_a_create_that_loses_the_race_to_a_failed_one_completes_that_key(service, store, box):
    """As above, but the first request's vault write failed (its key is failed): the second
    request, holding the same Idempotency-Key and body, delivers that key a fresh secret."""
    real_get, looked = store.get_idempotency, []

    def get_idempotency(scope: str) -> Any:
        looked.append(scope)
        if len(looked) == 1:
            record = real_get(scope)
            box.fail_after_write = True
            with pytest.raises(VaultFailure):
                service.create(OPERATOR, "demo", BODY, "idem-fail-race")
            box.fail_after_write = False
            return record
        return real_get(scope)

    store.get_idempotency = get_idempotency  # type: ignore[method-assign]
    answer = service.create(OPERATOR, "demo", {**BODY}, "idem-fail-race")
    [key] = store.keys.values()
    assert answer.key.key_id == key.key_id and key.status == ACTIVE and answer.secret is None
    assert [(e.action, e.actor) for e in store.events] == [
        ("create", "operator"), ("fail", "operator"), ("resume", "operator"), ("activate", "operator"),
    ]  # fmt: skip
    assert key_format.verify(box.secrets[f"demo/{key.key_id}"], key.key_hash, key.pepper_id, PEPPERS)


# -- what the operator reads in the logs ------------------------------------------------------------


def test_cleanups_that_fail_say_so_and_who_finishes_them(service, store, box, caplog):
    def refuse(location: Any) -> None:
        raise VaultFailure("box", "unavailable")

    box.discard = refuse  # type: ignore[method-assign]
    box.fail_after_write = True
    with caplog.at_level(logging.WARNING), pytest.raises(VaultFailure):
        service.create(OPERATOR, "demo", BODY)
    [key] = store.keys.values()
    assert f"could not mark key {key.key_id} failed; the sweeper will" in caplog.messages

    box.fail_after_write = False
    caplog.clear()

    def sweeper_fails_it() -> None:
        [pending] = [k for k in store.keys.values() if k.name == "Raced"]
        pending.status, pending.version = FAILED, (pending.version or 0) + 1

    box.on_put = sweeper_fails_it
    with caplog.at_level(logging.WARNING), pytest.raises(Conflict):
        service.create(OPERATOR, "demo", {**BODY, "name": "Raced"})
    raced = [k for k in store.keys.values() if k.name == "Raced"][0]
    assert f"could not discard the vaulted secret of key {raced.key_id}; the sweeper will" in caplog.messages

    box.on_put = None
    kept = service.create(OPERATOR, "demo", {**BODY, "name": "Kept"}).key
    box.on_revoke = refuse  # type: ignore[method-assign]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert service.revoke(OPERATOR, "demo", kept.key_id).status == REVOKED
    assert caplog.messages == [f"revoked key {kept.key_id} but its vaulted copy could not be cleaned"]


# -- a key on a usage plan whose secret goes to a vault (API Gateway: moto in-process) ------------


@pytest.fixture
def gateway() -> Any:
    import boto3
    from moto import mock_aws

    with mock_aws():
        yield boto3.client("apigateway", region_name="us-east-1")


@pytest.fixture
def planned(store: InMemoryStore, box: Box, clock: Clock, gateway: Any) -> tuple[KeyService, str]:
    from chalicelib.plans.usage_plans import PlanSetting, UsagePlans

    plan_id = gateway.create_usage_plan(name="standard", throttle={"rateLimit": 10.0, "burstLimit": 20})["id"]
    plans = UsagePlans((PlanSetting("standard", plan_id),), client_factory=lambda: gateway)
    return KeyService(
        store, key_prefix="apk", peppers=PEPPERS, vaults=box, clock=clock, plans=plans, bodies=Bodies()
    ), plan_id


def gateway_state(gateway: Any, plan_id: str) -> tuple[list[str], set[str]]:
    """The API Gateway keys there are (by name), and the ids in the usage plan."""
    names = [item["name"] for item in gateway.get_api_keys()["items"]]
    return names, {item["id"] for item in gateway.get_usage_plan_keys(usagePlanId=plan_id)["items"]}


def test_a_planned_vaulted_key_is_activated_with_its_gateway_key_and_says_so(planned, store, gateway):
    service, plan_id = planned
    created = service.create(OPERATOR, "demo", {**BODY, "plan": "standard"})
    key = store.keys[created.key.key_id]
    assert key.status == ACTIVE and key.plan == "standard"
    assert gateway_state(gateway, plan_id) == ([f"apikeys:{key.key_id}"], {key.gateway_key_id})
    assert key.gateway_key_value == gateway.get_api_key(apiKey=key.gateway_key_id, includeValue=True)["value"]
    activate = store.events[-1]
    assert activate.action == "activate" and activate.details["plan"] == "standard"


def test_a_vault_failure_after_the_gateway_key_was_made_leaves_no_gateway_key(planned, store, box, gateway):
    service, plan_id = planned
    box.fail_after_write = True
    with pytest.raises(VaultFailure):
        service.create(OPERATOR, "demo", {**BODY, "plan": "standard"})
    assert gateway_state(gateway, plan_id) == ([], set()) and box.secrets == {}
    assert [k.status for k in store.keys.values()] == [FAILED]


def test_a_planned_key_failed_by_the_sweeper_during_delivery_leaves_no_gateway_key(planned, store, box, gateway):
    service, plan_id = planned

    def sweeper_fails_it() -> None:
        [key] = store.keys.values()
        key.status, key.version = FAILED, (key.version or 0) + 1

    box.on_put = sweeper_fails_it
    with pytest.raises(Conflict):
        service.create(OPERATOR, "demo", {**BODY, "plan": "standard"}, "idem-plan")
    assert gateway_state(gateway, plan_id) == ([], set()) and box.secrets == {}


def test_a_retry_of_a_stopped_planned_create_leaves_one_gateway_key(planned, store, box, clock, gateway):
    """The first attempt stopped after its API Gateway key was made; the retry deletes that one
    (found by name) and the key ends with exactly its own."""
    service, plan_id = planned

    class Stopped(Exception):
        pass

    def stop() -> None:
        raise Stopped()

    box.on_put = stop
    with pytest.raises(Stopped):
        service.create(OPERATOR, "demo", {**BODY, "plan": "standard"}, "idem-stop")
    [key_id] = store.keys
    assert len(gateway_state(gateway, plan_id)[0]) == 1
    box.on_put = None
    clock.now += timedelta(seconds=service.resume_after_seconds + 1)
    service.create(OPERATOR, "demo", {**BODY, "plan": "standard"}, "idem-stop")
    key = store.keys[key_id]
    assert key.status == ACTIVE
    assert gateway_state(gateway, plan_id) == ([f"apikeys:{key_id}"], {key.gateway_key_id})


def test_a_failed_activation_of_a_planned_key_takes_its_gateway_key_back(planned, store, box, gateway):
    service, plan_id = planned
    fail_writes(store)
    with pytest.raises(StoreError):
        service.create(OPERATOR, "demo", {**BODY, "plan": "standard"})
    assert gateway_state(gateway, plan_id) == ([], set()) and box.secrets == {}
    assert [k.status for k in store.keys.values()] == [FAILED]


def test_a_planned_key_whose_activation_is_unknown_keeps_its_gateway_key_for_the_sweeper(planned, store, gateway):
    service, plan_id = planned
    fail_writes(store, reads=1)
    with pytest.raises(LeftBehind) as refused:
        service.create(OPERATOR, "demo", plain(plan="standard"))
    [key] = store.keys.values()
    assert str(refused.value) == (
        f"the key store failed while activating key {key.key_id}: unless it is listed as active, it is left pending "
        f"(a pending key does not work); the sweeper removes it (within the deployment's pending timeout, 15 "
        f"minutes by default), or a retry with the same Idempotency-Key completes the key"
    )
    assert gateway_state(gateway, plan_id)[0] == [f"apikeys:{key.key_id}"]
    assert service.sweep(-1) == [key.key_id] and gateway_state(gateway, plan_id) == ([], set())


# -- choosing a plan needs its own permission ----------------------------------------------------

PLANS_REFUSED = "plan: choosing or changing a usage plan needs the apikeys:plans permission, which this key lacks"
PLANNER = Caller("pla0000000000000", "demo", ("planner",), frozenset({"apikeys:manage", "apikeys:plans"}))


@pytest.fixture
def defaulted(store: InMemoryStore, box: Box, clock: Clock, gateway: Any) -> tuple[KeyService, dict[str, str]]:
    """Two plans, ``standard`` the deployment's default."""
    from chalicelib.plans.usage_plans import PlanSetting, UsagePlans

    ids = {name: gateway.create_usage_plan(name=name)["id"] for name in ("standard", "premium")}
    settings = tuple(PlanSetting(name, plan_id) for name, plan_id in ids.items())
    plans = UsagePlans(settings, default_plan="standard", client_factory=lambda: gateway)
    return KeyService(
        store, key_prefix="apk", peppers=PEPPERS, vaults=box, clock=clock, plans=plans, bodies=Bodies()
    ), ids


@pytest.mark.parametrize("plan", ["premium", "standard", None])
def test_a_key_without_the_plans_permission_names_no_plan_in_a_create(defaulted, store, gateway, plan):
    service, _ = defaulted
    with pytest.raises(Forbidden) as refused:
        service.create(KEYS_ONLY, "demo", plain(roles=["apikeys_admin"], plan=plan))
    assert str(refused.value) == PLANS_REFUSED
    assert store.keys == {} and gateway.get_api_keys()["items"] == []


def test_a_key_without_the_plans_permission_creates_keys_on_the_default_plan(defaulted, store, gateway):
    service, ids = defaulted
    created = service.create(KEYS_ONLY, "demo", plain(roles=["apikeys_admin"])).key
    key = store.keys[created.key_id]
    assert (key.status, key.plan) == (ACTIVE, "standard")
    assert gateway_state(gateway, ids["standard"])[1] == {key.gateway_key_id}


@pytest.mark.parametrize("plan", ["premium", None])
def test_a_key_without_the_plans_permission_changes_no_plan(defaulted, store, gateway, plan):
    service, ids = defaulted
    key = service.create(OPERATOR, "demo", plain(roles=["apikeys_admin"])).key
    before = store.keys[key.key_id]
    for body in ({"plan": plan}, {"name": "Renamed", "plan": plan}):
        with pytest.raises(Forbidden) as refused:
            service.edit(KEYS_ONLY, "demo", key.key_id, body)
        assert str(refused.value) == PLANS_REFUSED
    assert store.keys[key.key_id] == before
    assert gateway_state(gateway, ids["standard"])[1] == {before.gateway_key_id}
    assert service.edit(KEYS_ONLY, "demo", key.key_id, {"name": "Renamed"}).plan == "standard"


def test_the_plans_permission_chooses_and_changes_plans_also_to_none(defaulted, store, gateway):
    service, ids = defaulted
    off = service.create(PLANNER, "demo", plain(roles=["apikeys_admin"], plan=None)).key
    assert store.keys[off.key_id].plan is None and gateway.get_api_keys()["items"] == []
    moved = service.edit(PLANNER, "demo", off.key_id, {"plan": "premium"})
    assert moved.plan == "premium" and gateway_state(gateway, ids["premium"])[1] == {moved.gateway_key_id}
    assert service.edit(PLANNER, "demo", off.key_id, {"plan": None}).plan is None


# -- refusals name the key's state in a sentence ---------------------------------------------------


@pytest.mark.parametrize(("status", "named"), [("pending", "a pending"), ("failed", "a failed"),
                                               ("expired", "an expired"), ("active", "an active")])  # fmt: skip
def test_a_status_is_named_with_its_article(status, named):
    from chalicelib.keys.records import with_article

    assert with_article(status) == named


def test_a_key_that_is_not_active_is_neither_edited_nor_revoked_and_the_refusal_says_why(service, store, box):
    box.fail_after_write = True
    with pytest.raises(VaultFailure):
        service.create(OPERATOR, "demo", BODY)
    [key] = store.keys.values()
    with pytest.raises(Conflict, match="^a failed key cannot be edited$"):
        service.edit(OPERATOR, "demo", key.key_id, {"name": "x"})
    with pytest.raises(Conflict, match="^a failed key cannot be revoked$"):
        service.revoke(OPERATOR, "demo", key.key_id)
