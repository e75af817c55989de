"""A create's ``Idempotency-Key``, answered as the IETF draft "The Idempotency-Key HTTP Header
Field" (draft-ietf-httpapi-idempotency-key-header, Error Scenarios) says: the same body again is
the first answer replayed (the same key, never a second one, never the secret twice); another
body under a used key is 422; a retry while the first request is still being processed is 409."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.conftest import as_json, bearer
from tests.vault_fixtures import set_vault_targets, stored_secrets

KEYS = "/communities/demo/apikeys"
SM = {"name": "aws-secrets", "kind": "secretsmanager", "name_prefix": "apikeys/"}


def create(client: Any, secret: str, body: dict[str, Any], idempotency_key: str) -> Any:
    headers = {**bearer(secret), "Idempotency-Key": idempotency_key}
    return client.http.post(KEYS, headers=headers, body=as_json(body))


def named(client: Any, secret: str, name: str) -> list[dict[str, Any]]:
    listed = client.http.get(f"{KEYS}?{urlencode({'search': name})}", headers=bearer(secret))
    assert listed.status_code == 200, listed.body
    return [item for item in listed.json_body["items"] if item["name"] == name]


def audit_entries() -> int:
    from chalicelib import wiring

    return int(wiring.store().models.KeyEvent.count("demo"))


def test_the_same_body_again_replays_the_first_key_and_makes_no_second(client, admin):
    name = f"replayed {uuid.uuid4().hex[:8]}"
    body = {"name": name, "roles": ["ic_viewer"]}
    first = create(client, admin[1], body, "replay-1")
    again = create(client, admin[1], dict(reversed(body.items())), "replay-1")  # the same body, reordered
    assert first.status_code == again.status_code == 201, again.body
    assert again.json_body["api_key"]["id"] == first.json_body["api_key"]["id"]
    assert again.json_body["replayed"] is True and "secret" not in again.json_body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert [item["id"] for item in named(client, admin[1], name)] == [first.json_body["api_key"]["id"]]


def test_another_body_under_a_used_key_is_422_and_writes_nothing(client, admin):
    name = f"first {uuid.uuid4().hex[:8]}"
    first = create(client, admin[1], {"name": name, "roles": ["ic_viewer"]}, "reused-1")
    assert first.status_code == 201
    entries = audit_entries()
    other = create(client, admin[1], {"name": name + " changed", "roles": ["ic_viewer"]}, "reused-1")
    assert other.status_code == 422, other.body
    assert other.json_body["Code"] == "UnprocessableEntityError"
    assert other.json_body["Message"].startswith("Idempotency-Key was already used with a different body")
    assert "Field" not in other.json_body  # nothing in the request is wrong alone: the pair is
    assert named(client, admin[1], name + " changed") == [] and audit_entries() == entries
    # The first body is still answered with the first key.
    again = create(client, admin[1], {"name": name, "roles": ["ic_viewer"]}, "reused-1")
    assert again.status_code == 201 and again.json_body["api_key"]["id"] == first.json_body["api_key"]["id"]


def test_a_retry_while_the_first_request_is_still_processed_is_409_then_replays(client, admin, monkeypatch):
    """The first create holds its key ``pending`` while the vault write is in flight (the vault
    here blocks until released); a retry meanwhile is 409, and after it the first key replayed."""
    from chalicelib.roles.caller import Caller
    from chalicelib.roles.catalog import BUILTIN_ROLES

    service = set_vault_targets(monkeypatch, [SM])
    entered, release = threading.Event(), threading.Event()
    put = service.vaults.put

    def blocking_put(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert release.wait(60), "the test never released the vault"
        return put(*args, **kwargs)

    monkeypatch.setattr(service.vaults, "put", blocking_put)
    # The admin key as the routes rebuild it: the same principal, so the same Idempotency-Key scope.
    caller = Caller(admin[0], "demo", ("community_admin",), frozenset(BUILTIN_ROLES["community_admin"].permissions))
    name = f"in flight {uuid.uuid4().hex[:8]}"
    body = {"name": name, "roles": ["ic_viewer"], "vault": {"target": "aws-secrets"}}
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(service.create, caller, "demo", dict(body), "in-flight-1")
        try:
            assert entered.wait(60), "the first create never reached the vault"
            during = create(client, admin[1], body, "in-flight-1")
            other = create(client, admin[1], {**body, "name": name + " other"}, "in-flight-1")
        finally:
            release.set()
        created = first.result(timeout=60)

    assert during.status_code == 409, during.body
    assert during.json_body["Code"] == "ConflictError" and "Field" not in during.json_body
    assert during.json_body["Message"].startswith(
        "the first request with this Idempotency-Key is still being processed; retry with the same Idempotency-Key"
    )
    assert other.status_code == 422, other.body  # another body is refused even while the first runs
    assert created.secret is not None and created.key.status == "active"

    after = create(client, admin[1], body, "in-flight-1")
    assert after.status_code == 201, after.body
    assert after.json_body["replayed"] is True and "secret" not in after.json_body
    assert after.json_body["api_key"]["id"] == created.key.key_id
    assert [item["id"] for item in named(client, admin[1], name)] == [created.key.key_id]
    assert len(stored_secrets(SM)) == 1


@pytest.mark.parametrize("status", [409, 422])
def test_the_openapi_document_answers_the_drafts_statuses_on_create(status):
    from chalicelib.api import openapi

    responses = openapi.document()["paths"][KEYS.replace("demo", "{community}")]["post"]["responses"]
    assert "Idempotency-Key" in responses[str(status)]["description"]
    assert "draft-ietf-httpapi-idempotency-key-header" in responses[str(status)]["description"]
