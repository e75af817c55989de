"""What an operator's CloudWatch receives: EMF documents on stdout (no API call), valid by the
format's rules, with the stage and face as their only dimensions and no secret anywhere."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.errors import StoreError
from chalicelib.roles.caller import Caller
from tests.conftest import as_json, bearer, free_port, make_key
from tests.emf import documents, metric_names, problems

EVENTS = Path(__file__).resolve().parent.parent / "events"


def emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    found = documents(capsys.readouterr().out)
    for document in found:
        assert problems(document) == [], document
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "apikeys"
            assert directive["Dimensions"] == [["stage", "face"]], "never a key id or a community as a dimension"
    return found


def with_metric(found: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [d for d in found if name in metric_names(d)]


def test_every_app_decision_is_one_line_carrying_its_metrics(client: Any, admin: tuple[str, str], capsys) -> None:
    admin_id, secret = admin
    revoked_id, revoked = make_key(roles=("ic_viewer",))
    wiring.service().revoke(Caller.operator("demo"), "demo", revoked_id, None)
    capsys.readouterr()

    assert client.http.get("/whoami", headers=bearer(secret)).status_code == 200
    assert client.http.get("/whoami", headers=bearer(revoked)).status_code == 401
    assert client.http.get("/whoami", headers=bearer("apk_" + "Z" * 46)).status_code == 401

    found = emitted(capsys)
    decisions = [d for d in found if d.get("event") == "authorizer.decision"]
    assert decisions == found, "the decision line is the EMF document: one line per decision, no other"
    assert [(d["outcome"], d["reason"]) for d in decisions] == [
        ("allow", "ok"), ("unauthorized", "revoked"), ("unauthorized", "malformed"),
    ]  # fmt: skip
    assert [metric_names(d) for d in decisions] == [
        {"Allow", "Reason_ok", "DecisionLatency"},
        {"Unauthorized", "Reason_revoked", "DecisionLatency"},
        {"Unauthorized", "Reason_malformed", "DecisionLatency"},
    ]
    assert all(d["face"] == "app" and d["stage"] == "dev" for d in decisions)  # chalice.test runs stage dev
    assert [d["key_id"] for d in decisions] == [admin_id, revoked_id, "unknown"]
    assert all(d["DecisionLatency"] == d["latency_ms"] >= 0 for d in decisions)
    text = json.dumps(found)
    for each in (secret, revoked):
        assert each[len("apk_") + 16 :] not in text


def test_gateway_decisions_carry_their_metrics(client: Any, capsys) -> None:
    _, viewer = make_key(roles=("ic_viewer",))
    token = (EVENTS / "rest_token.json").read_text()
    capsys.readouterr()

    client.lambda_.invoke("gateway_authorizer", json.loads(token.replace("{token}", viewer)))
    denied = json.loads(token.replace("{token}", viewer).replace("/GET/intelligence", "/POST/intelligence"))
    client.lambda_.invoke("gateway_authorizer", denied)
    with pytest.raises(Exception, match="Unauthorized"):
        client.lambda_.invoke("gateway_authorizer", json.loads(token.replace("{token}", viewer[:-1] + "x")))

    decisions = emitted(capsys)
    assert [(d["face"], d["outcome"]) for d in decisions] == [
        ("gateway", "allow"), ("gateway", "deny"), ("gateway", "unauthorized"),
    ]  # fmt: skip
    assert "Reason_permission" in metric_names(decisions[1]), "a missing permission is one class, not one per name"
    assert decisions[1]["reason"] == "lacks intelligence:write"
    assert "Reason_malformed" in metric_names(decisions[2])
    assert viewer[len("apk_") + 16 :] not in json.dumps(decisions)


def test_the_api_handler_counts_creates_revokes_and_rotations(client: Any, admin: tuple[str, str], capsys) -> None:
    _, secret = admin
    created = client.http.post(
        "/communities/demo/apikeys", headers=bearer(secret), body=as_json({"name": "m", "roles": ["ic_viewer"]})
    )
    key_id = created.json_body["api_key"]["id"]
    rotated = client.http.post(
        f"/communities/demo/apikeys/{key_id}/rotate", headers=bearer(secret), body=as_json({"grace": "1h"})
    )
    revoked = client.http.post(f"/communities/demo/apikeys/{rotated.json_body['api_key']['id']}/revoke",
                               headers=bearer(secret))  # fmt: skip
    assert (created.status_code, rotated.status_code, revoked.status_code) == (201, 201, 200)

    counted = [d for d in emitted(capsys) if d.get("face") == "api"]
    assert [(metric_names(d), d["stage"]) for d in counted] == [
        ({"KeysCreated"}, "dev"), ({"KeysRotated"}, "dev"), ({"KeysRevoked"}, "dev"),
    ]  # fmt: skip
    assert all(d[next(iter(metric_names(d)))] == 1 for d in counted)
    assert created.json_body["secret"] not in json.dumps(counted)


def test_an_idempotent_replay_is_not_counted_as_a_create(client: Any, admin: tuple[str, str], capsys) -> None:
    headers = {**bearer(admin[1]), "Idempotency-Key": "metrics-once"}
    body = as_json({"name": "once", "roles": ["ic_viewer"]})
    for _ in range(2):
        assert client.http.post("/communities/demo/apikeys", headers=headers, body=body).status_code == 201
    assert len(with_metric(emitted(capsys), "KeysCreated")) == 1


def test_a_vault_failure_is_counted(client: Any, admin: tuple[str, str], monkeypatch, capsys) -> None:
    # OpenBao on a loopback port nobody listens on: a real connection refused, the vault's fault.
    target = {"name": "bao", "kind": "openbao", "address": f"http://127.0.0.1:{free_port()}",
              "auth": {"method": "token", "token_env": "METRICS_BAO_TOKEN"}, "timeout_seconds": 1}  # fmt: skip
    monkeypatch.setenv("METRICS_BAO_TOKEN", "dev-only")
    monkeypatch.setenv("APIKEYS_VAULT_TARGETS", json.dumps([target]))
    wiring.reset()
    wiring.verifier()
    wiring.service()
    capsys.readouterr()
    answer = client.http.post(
        "/communities/demo/apikeys", headers=bearer(admin[1]),
        body=as_json({"name": "v", "roles": ["ic_viewer"], "vault": {"target": "bao"}}),
    )  # fmt: skip
    assert answer.status_code == 502, answer.body
    failures = with_metric(emitted(capsys), "VaultFailures")
    assert [(d["face"], d["VaultFailures"]) for d in failures] == [("api", 1)]
    assert not with_metric(emitted(capsys), "KeysCreated")


def test_a_store_error_is_counted(client: Any, admin: tuple[str, str], monkeypatch, capsys) -> None:
    # A table that refuses writes cannot be produced on demand here: the store's insert raises
    # what it raises for one (tests/security/test_faults.py injects the real DynamoDB answers).
    def refuse(*_: Any, **__: Any) -> None:
        raise StoreError("the keys table refused the write")

    monkeypatch.setattr(wiring.store(), "insert", refuse)
    capsys.readouterr()
    answer = client.http.post(
        "/communities/demo/apikeys", headers=bearer(admin[1]), body=as_json({"name": "s", "roles": ["ic_viewer"]})
    )
    assert answer.status_code == 503
    assert [d["face"] for d in with_metric(emitted(capsys), "StoreErrors")] == ["api"]


def test_the_scheduled_functions_count_what_they_did(client: Any, admin: tuple[str, str], capsys) -> None:
    from chalicelib.clock import utcnow

    old_id, _ = make_key(roles=("ic_viewer",))
    rotated = client.http.post(
        f"/communities/demo/apikeys/{old_id}/rotate", headers=bearer(admin[1]), body=as_json({"grace": "1h"})
    )
    assert rotated.status_code == 201
    event = client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    later = utcnow() + timedelta(hours=2)
    wiring.service().clock = lambda: later
    capsys.readouterr()

    assert client.lambda_.invoke("finish_grace", event).payload == {"revoked": [old_id]}
    assert client.lambda_.invoke("sweep_pending", event).payload == {"failed": []}

    found = emitted(capsys)
    grace, sweeper = with_metric(found, "GraceFinished"), with_metric(found, "PendingSwept")
    assert [(d["face"], d["GraceFinished"]) for d in grace] == [("grace", 1)]
    assert [(d["face"], d["PendingSwept"]) for d in sweeper] == [("sweeper", 0)]


class _LambdaContext:
    """What Lambda hands a handler, as far as the decision line reads it."""

    def __init__(self, aws_request_id: str) -> None:
        self.aws_request_id = aws_request_id


def test_decision_lines_carry_the_lambda_request_id(moto_aws: None, capsys) -> None:
    """Each face, called as Lambda calls it (the module's handler, the event and a context), logs
    the invocation's request id: API Gateway's access log names it ``authorizerRequestId``, so
    the two join. Between invocations no id is left over."""
    from chalicelib import logs
    from chalicelib.routes.auth import app_authorizer
    from chalicelib.routes.gateway import gateway_authorizer

    _, viewer = make_key(roles=("ic_viewer",))
    token = json.loads((EVENTS / "rest_token.json").read_text().replace("{token}", viewer))
    capsys.readouterr()

    gateway_authorizer(token, _LambdaContext("c0ffee00-0000-4000-8000-000000000001"))
    with pytest.raises(Exception, match="Unauthorized"):
        gateway_authorizer({**token, "authorizationToken": "Bearer nope"}, _LambdaContext("gateway-refused"))
    app_authorizer({**token, "methodArn": token["methodArn"].replace("/GET/intelligence/", "/GET/whoami/")},
                   _LambdaContext("c0ffee00-0000-4000-8000-000000000002"))  # fmt: skip
    with pytest.raises(Exception, match="Unauthorized"):
        app_authorizer({**token, "authorizationToken": "Bearer nope"}, _LambdaContext("app-refused"))

    decisions = emitted(capsys)
    assert [(d["face"], d["outcome"], d["request_id"]) for d in decisions] == [
        ("gateway", "allow", "c0ffee00-0000-4000-8000-000000000001"),
        ("gateway", "unauthorized", "gateway-refused"),
        ("app", "allow", "c0ffee00-0000-4000-8000-000000000002"),
        ("app", "unauthorized", "app-refused"),
    ]
    assert logs.request_id() == ""


def test_app_decisions_carry_the_request_id_of_the_local_gateway(client: Any, admin: tuple[str, str], capsys) -> None:
    """``chalice local`` and ``chalice.test`` call the same authorizer object, with their own context."""
    capsys.readouterr()
    assert client.http.get("/whoami", headers=bearer(admin[1])).status_code == 200
    [decision] = emitted(capsys)
    assert decision["face"] == "app" and len(decision["request_id"]) >= 32
