"""What DynamoDB answers under contention, and what the service makes of it: a transaction
cancelled because another was in flight on one of its items (reason ``TransactionConflict``)
wrote nothing and is committed again; conflicts that outlast the retries are a 503 with
nothing written. moto never answers this, and DynamoDB Local only when transactions really
overlap: the answer is injected here, in DynamoDB's wire format, before it reaches botocore
(test_concurrency.py meets the real ones on DynamoDB Local)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from chalicelib import wiring
from tests.conftest import as_json, bearer, make_key
from tests.security.test_faults import Injector, _keys_and_events, _Raw

pytestmark = pytest.mark.slow


def conflict(request: Any, **_: Any) -> AWSResponse:
    """TransactionCanceledException, the first item conflicting and the others not checked."""
    items = json.loads(request.body)["TransactItems"]
    reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
    reasons += [{"Code": "None"} for _ in items[1:]]
    body = {
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
        f"[{', '.join(r['Code'] for r in reasons)}]",
        "CancellationReasons": reasons,
    }
    headers = {"x-amzn-ErrorType": "TransactionCanceledException", "Content-Type": "application/x-amz-json-1.0"}
    return AWSResponse(request.url, 400, headers, _Raw(json.dumps(body).encode()))


@pytest.fixture
def contended(served_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Injector, str]]:
    from chalice.test import Client

    from app import app

    monkeypatch.setenv("APIKEYS_DDB_READ_TIMEOUT", "10")
    wiring.reset()
    with Client(app) as client:
        _, admin = make_key(community="contended")
        yield client, Injector(), admin


def test_a_conflicting_create_is_committed_once(contended: tuple[Any, Injector, str]) -> None:
    client, injector, admin = contended
    injector.arm("TransactWriteItems", conflict, times=2)
    answer = client.http.post(
        "/communities/contended/apikeys", headers={**bearer(admin), "Idempotency-Key": "c-1"},
        body=as_json({"name": "after a conflict", "roles": ["ic_viewer"]}),
    )  # fmt: skip
    assert answer.status_code == 201, answer.body
    assert injector.injected == 2 and wiring.store().conflicts_retried == 2
    keys, events = _keys_and_events("contended")
    assert [k[1] for k in keys].count("after a conflict") == 1
    assert len(events) == 2, "one create event for the admin, one for the new key"
    assert client.http.get("/whoami", headers=bearer(answer.json_body["secret"])).status_code == 200


def test_a_conflicting_revoke_and_edit_take_effect_once(contended: tuple[Any, Injector, str]) -> None:
    client, injector, admin = contended
    target, secret = make_key(community="contended", roles=("ic_viewer",))
    base = f"/communities/contended/apikeys/{target}"
    injector.arm("TransactWriteItems", conflict, times=1)
    edited = client.http.patch(base, headers=bearer(admin), body=as_json({"name": "renamed"}))
    injector.arm("TransactWriteItems", conflict, times=1)
    revoked = client.http.post(base + "/revoke", headers=bearer(admin), body=as_json({"reason": "r"}))
    assert (edited.status_code, revoked.status_code) == (200, 200), (edited.body, revoked.body)
    stored = wiring.store().get(target)
    assert (stored.name, stored.status, stored.version) == ("renamed", "revoked", 3)
    trail, _ = wiring.store().list_events("contended", target, 100, None)
    assert sorted(e.action for e in trail) == ["create", "edit", "revoke"]
    assert client.http.get("/whoami", headers=bearer(secret)).status_code == 401


def test_conflicts_that_outlast_the_retries_change_nothing(contended: tuple[Any, Injector, str]) -> None:
    client, injector, admin = contended
    target, secret = make_key(community="contended", roles=("ic_viewer",))
    before = _keys_and_events("contended")
    for method, path, body in (
        ("POST", "/communities/contended/apikeys", {"name": "never", "roles": ["ic_viewer"]}),
        ("PATCH", f"/communities/contended/apikeys/{target}", {"name": "never"}),
        ("POST", f"/communities/contended/apikeys/{target}/revoke", {}),
    ):
        injector.arm("TransactWriteItems", conflict)
        answer = client.http.request(method, path, headers=bearer(admin), body=as_json(body))
        injector.disarm()
        assert answer.status_code == 503, (path, answer.body)
        assert answer.json_body["Message"] == "the key store is unavailable; nothing was changed"
        assert _keys_and_events("contended") == before
    assert client.http.get("/whoami", headers=bearer(secret)).status_code == 200
