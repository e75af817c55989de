"""Faults injected into DynamoDB calls on every write path and in the authorizer.

The faults are botocore ``before-send`` hooks on the store's own clients: the request never
reaches moto (server mode) and botocore sees a throttling answer, an internal error or a read
timeout, exactly as from AWS. Retries are turned off (``APIKEYS_DDB_MAX_RETRIES=0``) so each
fault is final; one test keeps them on to show a transient fault is absorbed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from chalicelib import wiring
from tests.conftest import as_json, bearer, make_key
from tests.security.conftest import count

pytestmark = pytest.mark.slow


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _error(status: int, code: str, message: str) -> Callable[..., AWSResponse]:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()

    def answer(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(
            request.url, status, {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.0"}, _Raw(body)
        )  # noqa: E501

    return answer


def _timeout(request: Any, **_: Any) -> AWSResponse:
    raise ReadTimeoutError(endpoint_url=request.url)


FAULTS: dict[str, Callable[..., Any]] = {
    "throttling": _error(400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    "provisioned throughput": _error(400, "ProvisionedThroughputExceededException", "exceeded"),
    "internal error": _error(500, "InternalServerError", "Internal server error"),
    "unavailable": _error(503, "ServiceUnavailable", "unavailable"),
    "timeout": _timeout,
}


class Injector:
    """Arms a fault on one DynamoDB operation of every client the store uses."""

    def __init__(self) -> None:
        self.armed: dict[str, Callable[..., Any]] = {}
        self.injected = 0
        self.remaining: int | None = None
        models = wiring.store().models
        clients = {
            id(c): c for c in [models.connection.client] + [m._get_connection().connection.client for m in models.all]
        }  # noqa: E501
        for client in clients.values():
            client.meta.events.register_first("before-send.dynamodb", self._before_send)

    def arm(self, operation: str, fault: Callable[..., Any], times: int | None = None) -> None:
        self.armed = {operation: fault}
        self.remaining = times

    def disarm(self) -> None:
        self.armed = {}

    def _before_send(self, request: Any, **kwargs: Any) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2]
        fault = self.armed.get(operation)
        if fault is None or self.remaining == 0:
            return None
        if self.remaining is not None:
            self.remaining -= 1
        self.injected += 1
        count("faults")
        return fault(request, **kwargs)


@pytest.fixture
def faulty(served_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Injector]]:
    from chalice.test import Client

    from app import app

    monkeypatch.setenv("APIKEYS_DDB_MAX_RETRIES", "0")
    # Timeouts are injected; the real moto server on a busy machine gets time to answer.
    monkeypatch.setenv("APIKEYS_DDB_READ_TIMEOUT", "10")
    wiring.reset()
    with Client(app) as client:
        make_key(community="faults")  # builds the store and its clients
        yield client, Injector()


def _keys_and_events(community: str) -> tuple[list[Any], list[str]]:
    store = wiring.store()
    keys = store.list_keys(community, "all", "", 100, None, wiring.service().clock()).items
    events, _ = store.list_events(community, None, 1000, None)
    return sorted((k.key_id, k.name, k.status, tuple(k.roles), k.version) for k in keys), sorted(
        e.event_id for e in events
    )  # type: ignore[return-value]  # noqa: E501


@pytest.mark.parametrize("fault", list(FAULTS))
def test_writes_fail_clearly_and_write_nothing(faulty: tuple[Any, Injector], fault: str) -> None:
    client, injector = faulty
    _, admin = make_key(community="faults")
    target, target_secret = make_key(community="faults", name="target", roles=("ic_viewer",))
    before = _keys_and_events("faults")
    headers = bearer(admin)
    calls = [
        ("create", "POST", "/communities/faults/apikeys", {"name": "new", "roles": ["ic_viewer"]}, {}),
        ("create with Idempotency-Key", "POST", "/communities/faults/apikeys", {"name": "new2", "roles": ["ic_viewer"]},
         {"Idempotency-Key": f"idem-{fault}"}),
        ("edit", "PATCH", f"/communities/faults/apikeys/{target}", {"name": "renamed"}, {}),
        ("revoke", "POST", f"/communities/faults/apikeys/{target}/revoke", {"reason": "x"}, {}),
    ]  # fmt: skip
    for what, method, path, body, extra in calls:
        injector.arm("TransactWriteItems", FAULTS[fault])
        answer = client.http.request(method, path, headers={**headers, **extra}, body=as_json(body))
        injector.disarm()
        assert answer.status_code == 503, (what, answer.status_code, answer.body)
        assert answer.json_body["Message"] == "the key store is unavailable; nothing was changed", what
        assert _keys_and_events("faults") == before, f"{what} half-wrote under {fault}"
    # The key still works and is still what it was.
    assert client.http.get("/whoami", headers=bearer(target_secret)).status_code == 200
    assert injector.injected == len(calls)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_reads_fail_clearly(faulty: tuple[Any, Injector], fault: str) -> None:
    client, injector = faulty
    _, admin = make_key(community="faults")
    injector.arm("Query", FAULTS[fault])
    answer = client.http.get("/communities/faults/apikeys", headers=bearer(admin))
    injector.disarm()
    assert answer.status_code == 503, answer.body


@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_authorizer_fails_closed(faulty: tuple[Any, Injector], fault: str) -> None:
    client, injector = faulty
    _, secret = make_key(community="faults")
    injector.arm("GetItem", FAULTS[fault])
    refused = client.http.get("/whoami", headers=bearer(secret))
    listed = client.http.get("/communities/faults/apikeys", headers=bearer(secret))
    injector.disarm()
    assert (refused.status_code, listed.status_code) == (401, 401)
    assert client.http.get("/whoami", headers=bearer(secret)).status_code == 200


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_failed_last_used_write_never_denies_a_valid_key(faulty: tuple[Any, Injector], fault: str) -> None:
    client, injector = faulty
    _, secret = make_key(community="faults")
    injector.arm("UpdateItem", FAULTS[fault])
    answer = client.http.get("/whoami", headers=bearer(secret))
    injector.disarm()
    assert answer.status_code == 200


def test_a_transient_fault_is_retried(served_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalice.test import Client

    from app import app

    monkeypatch.setenv("APIKEYS_DDB_MAX_RETRIES", "2")
    wiring.reset()
    with Client(app) as client:
        _, admin = make_key(community="retry")
        injector = Injector()
        injector.arm("TransactWriteItems", FAULTS["throttling"], times=1)
        answer = client.http.post(
            "/communities/retry/apikeys", headers=bearer(admin), body=as_json({"name": "r", "roles": ["ic_viewer"]})
        )
        assert answer.status_code == 201, answer.body
        assert injector.injected == 1


def test_a_retried_transaction_carries_its_idempotency_token(served_aws: None, monkeypatch: pytest.MonkeyPatch):
    """A write whose answer is lost is retried by botocore; DynamoDB applies a retried
    TransactWriteItems once only if it carries the same ClientRequestToken (moto ignores the
    token, so the test checks what is sent)."""
    from chalice.test import Client

    from app import app

    monkeypatch.setenv("APIKEYS_DDB_MAX_RETRIES", "2")
    wiring.reset()
    with Client(app) as client:
        _, admin = make_key(community="retry")
        sent: list[str] = []
        injector = Injector()

        def lost_answer(request: Any, **kwargs: Any) -> Any:
            sent.append(json.loads(request.body)["ClientRequestToken"])
            return FAULTS["internal error"](request, **kwargs)

        injector.arm("TransactWriteItems", lost_answer, times=1)
        original = injector._before_send

        def spy(request: Any, **kwargs: Any) -> Any:
            answer = original(request, **kwargs)
            target = request.headers.get("X-Amz-Target", b"")
            if answer is None and b"TransactWriteItems" in (target if isinstance(target, bytes) else target.encode()):
                sent.append(json.loads(request.body)["ClientRequestToken"])
            return answer

        injector._before_send = spy  # type: ignore[method-assign]
        models = wiring.store().models
        models.connection.client.meta.events.unregister("before-send.dynamodb", original)
        models.connection.client.meta.events.register_first("before-send.dynamodb", spy)
        answer = client.http.post(
            "/communities/retry/apikeys", headers=bearer(admin), body=as_json({"name": "r", "roles": ["ic_viewer"]})
        )
        assert answer.status_code == 201, answer.body
        assert len(sent) == 2 and sent[0] == sent[1] and len(sent[0]) <= 36
        second = client.http.post(
            "/communities/retry/apikeys", headers=bearer(admin), body=as_json({"name": "r2", "roles": ["ic_viewer"]})
        )
        assert second.status_code == 201
        assert len(sent) == 3 and sent[2] != sent[0], "each logical write has its own token"
