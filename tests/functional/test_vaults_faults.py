"""Faults on the way to the vault, for each backend (Secrets Manager and SSM on moto, a real
OpenBao): the vault refusing, timing out (a real socket that never answers), answering too late,
and the process dying after each step. In every case no active key lacks its secret; after the
sweeper no orphaned secret remains; a retry with the same Idempotency-Key completes that key."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests import vault_fixtures
from tests.conftest import as_json, bearer
from tests.vault_fixtures import (  # noqa: F401 - fixtures
    Bao,
    ProcessDied,
    all_keys,
    kv_client,
    set_vault_targets,
    stored_secrets,
    unique_prefix,
)

pytestmark = pytest.mark.slow

BACKENDS = ("secretsmanager", "ssm", "openbao")

bao_server = vault_fixtures.bao_server
black_hole = vault_fixtures.black_hole


@dataclass
class Backend:
    kind: str
    target: dict[str, Any]
    bao: Bao | None
    service: Any


def target_for(kind: str, bao: Bao | None, **extra: Any) -> dict[str, Any]:
    if kind == "secretsmanager":
        return {"name": "vault", "kind": kind, "name_prefix": "apikeys/", **extra}
    if kind == "ssm":
        return {"name": "vault", "kind": kind, "path_prefix": "/apikeys/", **extra}
    assert bao is not None
    auth = {"method": "token", "token_env": "TEST_BAO_TOKEN"}
    return {
        "name": "vault",
        "kind": kind,
        "address": bao.address,
        "path_prefix": unique_prefix(),
        "auth": auth,
        **extra,
    }


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, client: Any, admin: Any) -> Backend:
    bao = None
    if request.param == "openbao":
        bao = request.getfixturevalue("bao_server")
        monkeypatch.setenv("TEST_BAO_TOKEN", bao.root_token)
    target = target_for(request.param, bao)
    return Backend(request.param, target, bao, set_vault_targets(monkeypatch, [target]))


def create(client: Any, admin: Any, idempotency_key: str | None = None) -> Any:
    headers = bearer(admin[1])
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    body = {"name": "CI", "roles": ["ic_viewer"], "vault": {"target": "vault"}}
    return client.http.post("/communities/demo/apikeys", headers=headers, body=as_json(body))


def verifies(plaintext: str, key: Any) -> bool:
    from chalicelib.keys import format as key_format
    from chalicelib.settings import get_settings

    return key_format.verify(plaintext, key.key_hash, key.pepper_id, get_settings().peppers)


def assert_no_active_key_lacks_its_secret(backend: Backend) -> None:
    stored = stored_secrets(backend.target, backend.bao)
    for key in all_keys():
        if key.status == "active" and key.vault:
            assert key.vault["path"] in stored, f"active key {key.key_id} has no vaulted secret"
            assert verifies(stored[key.vault["path"]], key), f"active key {key.key_id}: vault holds another secret"


def assert_no_orphaned_secret(backend: Backend) -> None:
    by_path = {key.vault["path"]: key for key in all_keys() if key.vault}
    for path, value in stored_secrets(backend.target, backend.bao).items():
        key = by_path.get(path)
        assert key is not None and key.status == "active" and verifies(value, key), f"orphaned secret at {path}"


def sweep(client: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The scheduled sweeper, as EventBridge would call it, with every pending key past the timeout."""
    monkeypatch.setenv("APIKEYS_PENDING_TIMEOUT", "0")
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])
    return list(client.lambda_.invoke("sweep_pending", event).payload["failed"])


def vaulted_keys() -> list[Any]:
    return [key for key in all_keys() if key.vault]


# -- the vault says no, or says nothing ---------------------------------------------------------


@contextlib.contextmanager
def refusing(backend: Backend) -> Iterator[None]:
    """The vault refuses the write. OpenBao refuses for real (a token that may only read); moto
    enforces no IAM, so its client answers AccessDenied the way AWS would."""
    if backend.kind == "openbao":
        assert backend.bao is not None
        root = kv_client(backend.bao)
        root.sys.create_or_update_policy(name="reader", policy='path "secret/*" { capabilities = ["read", "list"] }')
        token = root.auth.token.create(policies=["reader"], ttl="5m")["auth"]["client_token"]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("TEST_BAO_TOKEN", token)
            yield
        return
    from botocore.exceptions import ClientError

    target = backend.service.vaults.targets["vault"]
    client = target.client()
    operation = "create_secret" if backend.kind == "secretsmanager" else "put_parameter"

    def denied(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied"}}, operation)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(client, operation, denied)
        yield


def test_vault_refusing_is_a_502_and_leaves_no_key_and_no_secret(backend, client, admin):
    with refusing(backend):
        answer = create(client, admin)
    assert answer.status_code == 502
    message = answer.json_body["Message"]
    assert message.startswith("vault target 'vault':") and ("AccessDenied" in message or "permission denied" in message)
    assert [key.status for key in vaulted_keys()] == ["failed"]
    assert_no_active_key_lacks_its_secret(backend)
    assert_no_orphaned_secret(backend)


def test_vault_timing_out_is_a_502_and_a_retry_completes_the_same_key(backend, client, admin, black_hole, monkeypatch):
    if backend.kind == "openbao":
        address = {"address": black_hole, "path_prefix": backend.target["path_prefix"]}
    else:
        address = {"endpoint_url": black_hole, "max_attempts": 1}
    set_vault_targets(monkeypatch, [target_for(backend.kind, backend.bao, timeout_seconds=0.3, **address)])
    answer = create(client, admin, "retry-me")
    assert answer.status_code == 502
    assert "timed out" in answer.json_body["Message"]
    # The vault could not be told to discard either, so the key stays pending (never active)
    # for the sweeper, and an immediate retry is asked to wait out the in-flight window.
    assert [key.status for key in vaulted_keys()] == ["pending"]
    assert create(client, admin, "retry-me").status_code == 409

    backend.service = set_vault_targets(monkeypatch, [backend.target])  # the vault is back
    backend.service.resume_after_seconds = 0  # and the window has passed
    assert_no_orphaned_secret(backend)
    retried = create(client, admin, "retry-me")
    assert retried.status_code == 201, retried.body
    assert retried.json_body["api_key"]["id"] == vaulted_keys()[0].key_id and len(vaulted_keys()) == 1
    assert client.http.get("/whoami", headers=bearer(retried.json_body["secret"])).status_code == 200
    assert_no_active_key_lacks_its_secret(backend)


def test_an_answer_lost_after_the_write_landed_leaves_no_secret(backend, client, admin):
    from chalicelib.errors import VaultFailure

    registry = backend.service.vaults
    real_put = registry.put

    def put_then_time_out(location: Any, secret: str, token: str) -> Any:
        real_put(location, secret, token)
        raise VaultFailure("vault", "PutSecretValue did not complete: timed out (ReadTimeoutError)")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "put", put_then_time_out)
        answer = create(client, admin)
    assert answer.status_code == 502
    assert [key.status for key in vaulted_keys()] == ["failed"]
    assert_no_orphaned_secret(backend)


# -- the process dies between steps -------------------------------------------------------------


@contextlib.contextmanager
def dying_after(service: Any, step: str) -> Iterator[None]:
    """Let ``step`` complete, then end the request as a dying Lambda would: nothing cleans up."""
    store, registry = service.store, service.vaults

    def after(call: Any, when: Any = lambda *a, **k: True) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = call(*args, **kwargs)
            if when(*args, **kwargs):
                raise ProcessDied(step)
            return result

        return wrapped

    with pytest.MonkeyPatch.context() as patch:
        if step == "insert":
            patch.setattr(store, "insert", after(store.insert))
        elif step == "vault write":
            patch.setattr(registry, "put", after(registry.put))
        elif step == "openbao claim":
            target = registry.targets["vault"]
            patch.setattr(target, "_set_labels", after(target._set_labels))
        elif step == "activation":
            patch.setattr(
                store, "update", after(store.update, lambda key, changes, event: changes.get("status") == "active")
            )
        yield


STEPS = ("insert", "vault write", "activation")


@pytest.mark.parametrize("step", STEPS)
def test_death_after_each_step_then_sweeper_then_retry(backend, client, admin, monkeypatch, step):
    with dying_after(backend.service, step), pytest.raises(ProcessDied):
        create(client, admin, "same-key")
    assert_no_active_key_lacks_its_secret(backend)
    (key,) = vaulted_keys()

    if step == "activation":
        # The key is whole; a retry answers it again, never a second key, never the secret twice.
        again = create(client, admin, "same-key")
        assert again.status_code == 201 and again.json_body["replayed"] is True and "secret" not in again.json_body
        assert again.json_body["api_key"]["id"] == key.key_id and sweep(client, monkeypatch) == []
        assert_no_orphaned_secret(backend)
        return

    # While the dead request might still be in flight, a retry waits instead of racing it.
    early = create(client, admin, "same-key")
    assert early.status_code == 409 and "Idempotency-Key" in early.json_body["Message"]

    assert sweep(client, monkeypatch) == [key.key_id]
    assert [k.status for k in vaulted_keys()] == ["failed"]
    assert_no_orphaned_secret(backend)
    listed = client.http.get("/communities/demo/apikeys", headers=bearer(admin[1])).json_body["items"]
    assert key.key_id not in [item["id"] for item in listed]

    retried = create(client, admin, "same-key")
    assert retried.status_code == 201, retried.body
    assert retried.json_body["api_key"]["id"] == key.key_id and retried.json_body["api_key"]["status"] == "active"
    assert len(vaulted_keys()) == 1
    assert client.http.get("/whoami", headers=bearer(retried.json_body["secret"])).status_code == 200
    assert_no_active_key_lacks_its_secret(backend)
    assert_no_orphaned_secret(backend)


@pytest.mark.parametrize("step", ("insert", "vault write"))
def test_retry_after_the_in_flight_window_completes_the_pending_key(backend, client, admin, step):
    with dying_after(backend.service, step), pytest.raises(ProcessDied):
        create(client, admin, "resume-key")
    (key,) = vaulted_keys()
    backend.service.resume_after_seconds = 0  # as if the Lambda timeout had passed
    retried = create(client, admin, "resume-key")
    assert retried.status_code == 201, retried.body
    assert retried.json_body["api_key"]["id"] == key.key_id and len(vaulted_keys()) == 1
    assert client.http.get("/whoami", headers=bearer(retried.json_body["secret"])).status_code == 200
    assert_no_active_key_lacks_its_secret(backend)
    assert_no_orphaned_secret(backend)


def test_death_after_openbao_claimed_the_path(monkeypatch, client, admin, bao_server):
    monkeypatch.setenv("TEST_BAO_TOKEN", bao_server.root_token)
    target = target_for("openbao", bao_server)
    backend = Backend("openbao", target, bao_server, set_vault_targets(monkeypatch, [target]))
    with dying_after(backend.service, "openbao claim"), pytest.raises(ProcessDied):
        create(client, admin, "claimed")
    (key,) = vaulted_keys()
    assert sweep(client, monkeypatch) == [key.key_id]
    metadata_path = key.vault["path"]
    import hvac.exceptions

    with pytest.raises(hvac.exceptions.InvalidPath):
        kv_client(bao_server).secrets.kv.v2.read_secret_metadata(path=metadata_path, mount_point="secret")
    assert create(client, admin, "claimed").status_code == 201
    assert_no_active_key_lacks_its_secret(backend)


# -- the key store fails the activation ---------------------------------------------------------


@pytest.mark.parametrize("discard", ["works", "fails"])
def test_a_store_failure_at_activation_takes_the_secret_back_before_answering(
    backend, client, admin, monkeypatch, discard
):
    """Every attempt of the activation's TransactWriteItems times out before reaching DynamoDB
    (botocore ``before-send`` hooks on the store's clients: moto cannot fail on cue, and a hook
    that answers instead of raising lets in-process moto apply the write all the same)."""
    from chalicelib.errors import VaultFailure
    from tests.security.test_faults import FAULTS, Injector

    injector = Injector()
    store = backend.service.store
    real_insert = store.insert

    def insert_then_fail_the_next_write(*args: Any, **kwargs: Any) -> Any:
        real_insert(*args, **kwargs)
        attempts = store.models.connection.client.meta.config.retries["total_max_attempts"]
        injector.arm("TransactWriteItems", FAULTS["timeout"], times=attempts)

    def refuse(location: Any) -> None:
        raise VaultFailure("vault", "unavailable")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "insert", insert_then_fail_the_next_write)
        if discard == "fails":
            patch.setattr(backend.service.vaults, "discard", refuse)
        answer = create(client, admin)
    assert answer.status_code == 503
    assert injector.remaining == 0
    [key] = vaulted_keys()
    if discard == "works":
        assert answer.json_body["Message"] == "the key store is unavailable; nothing was changed"
        assert key.status == "failed" and stored_secrets(backend.target, backend.bao) == {}
        return
    assert answer.json_body["Message"] == (
        f"the key store failed while activating key {key.key_id}: the key is left pending (a pending key does not "
        f"work) with its secret in vault target 'vault'; the sweeper removes both (within the deployment's pending "
        f"timeout, 15 minutes by default), or a retry with the same Idempotency-Key completes the key"
    )
    assert key.status == "pending" and list(stored_secrets(backend.target, backend.bao)) == [key.vault["path"]]
    assert sweep(client, monkeypatch) == [key.key_id]
    assert_no_orphaned_secret(backend)
