"""The standalone authorizer, deployed by Chalice as its own function, against moto in-process:
every sample event of tests/events, the refusals, the faults, revocation and last used."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.authorizer.execute_api import MethodArn
from chalicelib.keys import format as key_format
from tests.conftest import bearer, free_port, make_key
from tests.iam import iam_allows
from tests.security.test_faults import _error

EVENTS = Path(__file__).resolve().parent.parent / "events"


@pytest.fixture(scope="module")
def module_moto() -> Any:
    """One moto and one set of tables for this module: keys are random, so tests do not meet."""
    from moto import mock_aws

    from chalicelib.settings import get_settings
    from chalicelib.storage.models import create_tables, models_for
    from tests.conftest import OLD_PEPPER, PEPPER

    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "APIKEYS_PEPPERS_SOURCE"):
            patch.delenv(name, raising=False)
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "APIKEYS_PEPPERS": f"p2:{PEPPER},p1:{OLD_PEPPER}", "APIKEYS_VAULT_TARGETS": "[]",
        }.items():  # fmt: skip
            patch.setenv(name, value)
        with mock_aws():
            wiring.reset()
            create_tables(models_for(get_settings()))
            yield
    wiring.reset()


@pytest.fixture
def moto_aws(module_moto: None) -> Any:
    """Overrides the shared fixture (fresh tables per test) with the module's tables."""
    wiring.reset()
    yield
    wiring.reset()


def event(name: str, token: str) -> dict[str, Any]:
    text = (EVENTS / f"{name}.json").read_text()
    return json.loads(text.replace("{token}", token))


def invoke(client: Any, payload: dict[str, Any]) -> Any:
    return client.lambda_.invoke("gateway_authorizer", payload).payload


def unauthorized(client: Any, payload: dict[str, Any]) -> str:
    with pytest.raises(Exception) as caught:
        invoke(client, payload)
    assert type(caught.value) is Exception  # API Gateway's 401 contract: exactly this
    return str(caught.value)


def method_arn(payload: dict[str, Any]) -> str:
    return str(payload.get("methodArn") or payload["routeArn"])


def decisions(capsys: Any) -> list[dict[str, Any]]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"event":"authorizer.decision"')]


def raw_update(key_id: str, **values: Any) -> None:
    """Change a stored key behind the service's back (a state the API cannot reach directly)."""
    ApiKey = wiring.store().models.ApiKey
    item = ApiKey.get(key_id, consistent_read=True)
    item.update(actions=[getattr(ApiKey, name).set(value) for name, value in values.items()])


def stored(key_id: str) -> Any:
    return wiring.store().get(key_id)


# -- every sample event ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "role", "allowed"),
    [
        ("rest_token", "ic_viewer", True),
        ("rest_token", "playbooks_operator", False),
        ("rest_request", "ic_editor", True),
        ("rest_request", "ic_viewer", False),
        ("http_api_v1", "playbooks_operator", True),
        ("http_api_v1", "ic_viewer", False),
    ],
)
def test_rest_events_get_a_policy_for_every_route(client, capsys, name, role, allowed):
    key_id, secret = make_key(roles=(role,))
    payload = event(name, secret)
    answer = invoke(client, payload)
    assert answer["principalId"] == key_id
    assert iam_allows(answer["policyDocument"], method_arn(payload)) is allowed
    permissions = ",".join(sorted(wiring.service().catalog("demo")[role].permissions))
    assert answer["context"] == {"key_id": key_id, "community": "demo", "roles": role, "permissions": permissions}
    # The same cached answer is right for the other routes of the API: reads of the area the
    # role reads are allowed, routes of areas it lacks are not.
    base = _base(method_arn(payload))
    assert iam_allows(answer["policyDocument"], f"{base}/GET/intelligence/other") is (role != "playbooks_operator")
    assert iam_allows(answer["policyDocument"], f"{base}/POST/playbooks/x") is (role == "playbooks_operator")
    assert not iam_allows(answer["policyDocument"], f"{base}/GET/unmapped")
    [line] = decisions(capsys)
    assert (line["face"], line["outcome"], line["key_id"]) == ("gateway", "allow" if allowed else "deny", key_id)


def _base(arn: str) -> str:
    return MethodArn.parse(arn).base


@pytest.mark.parametrize(
    ("name", "role", "allowed"),
    [
        ("http_api_v2", "ic_viewer", True),
        ("http_api_v2", "playbooks_operator", False),
        ("http_api_v2_named_stage", "soc_analyst", True),
        ("http_api_v2_named_stage", "ic_editor", False),
    ],
)
def test_http_api_v2_simple_responses(client, name, role, allowed):
    key_id, secret = make_key(roles=(role,))
    answer = invoke(client, event(name, secret))
    assert answer["isAuthorized"] is allowed
    assert answer["context"]["key_id"] == key_id and answer["context"]["roles"] == role
    assert all(isinstance(value, str) for value in answer["context"].values())


def test_http_api_v2_iam_policy_form(client, monkeypatch):
    monkeypatch.setenv("APIKEYS_HTTP_API_RESPONSE", "policy")
    wiring.reset()
    key_id, secret = make_key(roles=("ic_viewer",))
    payload = event("http_api_v2", secret)
    answer = invoke(client, payload)
    assert answer["principalId"] == key_id
    assert iam_allows(answer["policyDocument"], payload["routeArn"])
    assert not iam_allows(answer["policyDocument"], payload["routeArn"].replace("/GET/", "/DELETE/"))
    with pytest.raises(Exception, match="^Unauthorized$"):
        invoke(client, event("http_api_v2", "apk_nope"))


def test_a_bare_token_in_a_token_event_works_too(client):
    _, secret = make_key(roles=("ic_viewer",))
    payload = event("rest_token", secret)
    payload["authorizationToken"] = secret
    assert invoke(client, payload)["policyDocument"]["Statement"][0]["Effect"] == "Allow"


# Variants of the payloads AWS documents: path parameters and stage variables, a colon in the
# path (an ISO timestamp), lower-case "bearer" with extra spaces, an HTTP API set to another
# header (X-Api-Key), the $default stage and route with $context.routeKey as a second identity source.


@pytest.mark.parametrize(
    ("name", "role", "allowed"),
    [
        ("rest_request_path_parameters", "ic_viewer", True),
        ("rest_request_path_parameters", "playbooks_operator", False),
        ("http_api_v1_identity_source", "soc_analyst", True),
        ("http_api_v1_identity_source", "ic_viewer", False),
    ],
)
def test_documented_payload_variants_get_the_right_policy(client, name, role, allowed):
    key_id, secret = make_key(roles=(role,))
    payload = event(name, secret)
    answer = invoke(client, payload)
    assert answer["principalId"] == key_id
    assert iam_allows(answer["policyDocument"], method_arn(payload)) is allowed


@pytest.mark.parametrize(("role", "allowed"), [("playbooks_operator", True), ("ic_viewer", False)])
def test_http_api_default_stage_and_route_key_identity_source(client, role, allowed):
    key_id, secret = make_key(roles=(role,))
    answer = invoke(client, event("http_api_v2_default_route", secret))
    assert answer["isAuthorized"] is allowed and answer["context"]["key_id"] == key_id


def test_dot_segments_are_denied_even_to_an_admin(client, admin, capsys):
    """A backend decoding %2e%2e would serve /apikeys/keys: refused now, and by the cached policy."""
    _, secret = admin
    payload = event("rest_request_dot_segments", secret)
    policy = invoke(client, payload)["policyDocument"]
    assert not iam_allows(policy, method_arn(payload))
    assert iam_allows(policy, f"{_base(method_arn(payload))}/GET/intelligence/reports")
    assert [line["reason"] for line in decisions(capsys)] == ["unsafe path"]


def test_a_console_test_invoke_for_stage_star_is_refused(client, admin, capsys):
    """A policy for stage * would match API/*/GET/x:s/GET/intelligence/…: no such policy is made."""
    _, secret = admin
    assert unauthorized(client, event("rest_token_console_test", secret)) == "Unauthorized"
    assert [line["reason"] for line in decisions(capsys)] == ["error:NotAMethodArn"]


# -- refusals --------------------------------------------------------------------------------------


def bad_tokens() -> dict[str, str]:
    """Every kind of bad key, made for real in the table where one is needed."""
    service = wiring.service()
    from chalicelib.roles.caller import Caller

    _, revoked = make_key(roles=("ic_viewer",))
    service.revoke(Caller.operator("demo"), "demo", key_format.parse(revoked, "apk").key_id, None)
    expired_id, expired = make_key(roles=("ic_viewer",))
    raw_update(expired_id, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    pending_id, pending = make_key(roles=("ic_viewer",))
    raw_update(pending_id, status="pending")
    _, good = make_key(roles=("ic_viewer",))
    return {
        "missing": "",
        "malformed": "apk_not-a-key",
        "bad checksum": good[:-1] + ("A" if good[-1] != "A" else "B"),
        "unknown": key_format.generate("apk").plaintext,
        "revoked": revoked,
        "expired": expired,
        "pending": pending,
    }


@pytest.mark.parametrize("name", ["rest_token", "rest_request", "http_api_v1"])
def test_every_bad_key_gets_the_same_401(client, capsys, name):
    tokens = bad_tokens()
    capsys.readouterr()
    messages = {kind: unauthorized(client, event(name, token)) for kind, token in tokens.items()}
    assert set(messages.values()) == {"Unauthorized"}
    reasons = {line["reason"] for line in decisions(capsys)}
    assert {"missing", "malformed", "unknown", "revoked", "expired", "pending"} <= reasons
    assert {line["outcome"] for line in decisions(capsys)} <= {"unauthorized"}


def test_every_bad_key_gets_is_authorized_false_on_http_api(client):
    tokens = bad_tokens()
    answers = [invoke(client, event("http_api_v2", token)) for token in tokens.values()]
    assert answers == [{"isAuthorized": False}] * len(tokens)


def test_malformed_and_bad_checksum_keys_make_no_database_call(client, admin):
    _, secret = admin
    calls: list[str] = []
    connection_client = wiring.store().models.ApiKey._get_connection().connection.client
    connection_client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    verifier = wiring.verifier()
    lookup = verifier.lookup
    verifier.lookup = lambda key_id: calls.append("lookup") or lookup(key_id)
    for token in ("", "Bearer", "apk_x", secret[:-1] + ("A" if secret[-1] != "A" else "B"), "zzz_" + secret[4:]):
        unauthorized(client, event("rest_token", token))
    assert calls == []
    invoke(client, event("rest_token", secret))
    assert "lookup" in calls and "GetItem" in calls  # the counter does count


def test_an_event_it_cannot_read_fails_closed(client, admin):
    _, secret = admin
    assert unauthorized(client, {"type": "TOKEN", "authorizationToken": secret}) == "Unauthorized"
    assert unauthorized(client, {"type": "TOKEN", "authorizationToken": secret, "methodArn": "nope"}) == "Unauthorized"


# -- faults: fail closed, bounded ------------------------------------------------------------------


def test_an_unreachable_table_fails_closed(monkeypatch, capsys):
    """Nothing listens on the endpoint: connection refused, retried a bounded number of times."""
    from app import app

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("APIKEYS_DDB_CONNECT_TIMEOUT", "0.5")
    monkeypatch.setenv("APIKEYS_DDB_READ_TIMEOUT", "0.5")
    monkeypatch.setenv("APIKEYS_DDB_MAX_RETRIES", "1")
    wiring.reset()
    token = key_format.generate("apk").plaintext
    with pytest.raises(Exception, match="^Unauthorized$"):
        app.handler_map["gateway_authorizer"](event("rest_token", token), None)
    assert app.handler_map["gateway_authorizer"](event("http_api_v2", token), None) == {"isAuthorized": False}
    reasons = [line["reason"] for line in decisions(capsys)]
    assert reasons == ["error:StoreError", "error:StoreError"]


def test_a_throttled_table_fails_closed(client, admin, capsys):
    """moto never throttles: the one fault injected by hand, at botocore, past PynamoDB's retries."""
    from botocore.exceptions import ClientError

    _, secret = admin
    connection_client = wiring.store().models.ApiKey._get_connection().connection.client
    attempts = []

    def throttle(**_: Any) -> None:
        attempts.append(1)
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "GetItem"
        )

    connection_client.meta.events.register("before-call.dynamodb.GetItem", throttle)
    assert unauthorized(client, event("rest_token", secret)) == "Unauthorized"
    assert [line["reason"] for line in decisions(capsys)][-1] == "error:StoreError"


def test_the_authorizer_client_has_explicit_timeouts_and_retries(client, monkeypatch):
    monkeypatch.setenv("APIKEYS_DDB_CONNECT_TIMEOUT", "0.7")
    monkeypatch.setenv("APIKEYS_DDB_READ_TIMEOUT", "1.5")
    monkeypatch.setenv("APIKEYS_DDB_MAX_RETRIES", "1")
    wiring.reset()
    config = wiring.store().models.ApiKey._get_connection().connection.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (0.7, 1.5)
    assert config.retries["total_max_attempts"] == 2


def test_default_worst_case_stays_well_inside_api_gateway_29_seconds(client):
    """One GetItem with its retries, then one single-attempt UpdateItem (last used)."""
    read = wiring.store().models.ApiKey._get_connection().connection.client.meta.config
    write = wiring.store().touch_connection.connection.client.meta.config
    attempts = read.retries["total_max_attempts"]
    # standard retry mode: the n-th retry waits at most 2**(n-1) s
    worst_read = attempts * (read.connect_timeout + read.read_timeout) + sum(2**n for n in range(attempts - 1))
    worst_write = write.connect_timeout + write.read_timeout
    assert worst_read + worst_write <= 15


# -- revocation and last used ----------------------------------------------------------------------


def test_revoke_then_the_same_container_refuses_the_key(client, admin, monkeypatch):
    monkeypatch.setenv("APIKEYS_AUTH_CACHE_TTL", "300")
    wiring.reset()
    _, admin_secret = admin
    key_id, secret = make_key(roles=("ic_viewer",))
    assert invoke(client, event("http_api_v2", secret))["isAuthorized"] is True
    assert client.http.get("/whoami", headers=bearer(secret)).status_code == 200
    assert wiring.verifier()._cache  # the key is cached for 300 s
    revoked = client.http.post(f"/communities/demo/apikeys/{key_id}/revoke", headers=bearer(admin_secret))
    assert revoked.status_code == 200
    assert invoke(client, event("http_api_v2", secret)) == {"isAuthorized": False}
    assert unauthorized(client, event("rest_token", secret)) == "Unauthorized"
    assert client.http.get("/whoami", headers=bearer(secret)).status_code == 401


def test_last_used_is_the_last_request_a_key_let_through(client, monkeypatch):
    """After a revoke, a container whose cache still holds the key as active (within the
    documented bound) lets a request through: that use is recorded, an admin sees it. Once the key
    is refused, no use is recorded."""
    from chalicelib.roles.caller import Caller

    monkeypatch.setenv("APIKEYS_AUTH_CACHE_TTL", "300")
    monkeypatch.setenv("APIKEYS_LAST_USED_INTERVAL", "0")
    wiring.reset()
    key_id, secret = make_key(roles=("ic_viewer",))
    invoke(client, event("rest_token", secret))  # cached here, as active
    wiring.service().revoke(Caller.operator("demo"), "demo", key_id, None)  # "elsewhere": no forget here
    revoked = stored(key_id)
    invoke(client, event("rest_token", secret))  # within the documented bound, the cache still answers
    let_through = stored(key_id).last_used_at
    assert let_through is not None and revoked.revoked_at is not None and let_through >= revoked.revoked_at
    wiring.verifier().forget(key_id)
    unauthorized(client, event("rest_token", secret))
    assert stored(key_id).last_used_at == let_through


def test_last_used_is_recorded_once_per_interval(client):
    key_id, secret = make_key(roles=("ic_viewer",))
    assert stored(key_id).last_used_at is None
    verifier = wiring.verifier()
    touch = verifier.touch
    writes: list[str] = []
    verifier.touch = lambda key, now: writes.append(key) or touch(key, now)
    for _ in range(5):
        invoke(client, event("rest_token", secret))
    assert len(writes) == 1
    assert stored(key_id).last_used_at is not None


# DynamoDB's 500 InternalServerError, which the standard retry mode retries.
_server_error = _error(500, "InternalServerError", "down")


def _unreachable(request: Any, **_: Any) -> Any:
    from botocore.exceptions import EndpointConnectionError

    raise EndpointConnectionError(endpoint_url=request.url)


@pytest.mark.parametrize(
    "failure",
    [_server_error, _error(400, "ProvisionedThroughputExceededException", "slow down"), _unreachable],
    ids=["500", "throttled", "unreachable"],
)
def test_a_failed_last_used_write_never_denies_and_is_not_retried(client, capsys, failure):
    """The write fails in a way DynamoDB's clients retry: one attempt was sent, the key is
    allowed, and the same client's reads still retry."""
    _, secret = make_key(roles=("ic_viewer",))
    dynamodb = wiring.key_reader().client
    sent: list[str] = []

    def fail_writes(request: Any, **_: Any) -> Any:
        sent.append("UpdateItem")
        return failure(request)

    dynamodb.meta.events.register("before-send.dynamodb.UpdateItem", fail_writes)
    answer = invoke(client, event("rest_token", secret))
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert [line["outcome"] for line in decisions(capsys)] == ["allow"]
    assert sent == ["UpdateItem"]
    assert dynamodb.meta.config.retries["total_max_attempts"] > 1

    # The single attempt is the last-used write's only: a read that fails once is tried again.
    wiring.reset()
    _, other = make_key(roles=("ic_viewer",))
    dynamodb = wiring.key_reader().client
    reads: list[str] = []

    def fail_first_read(request: Any, **_: Any) -> Any:
        reads.append("GetItem")
        return _server_error(request) if len(reads) == 1 else None

    dynamodb.meta.events.register("before-send.dynamodb.GetItem", fail_first_read)
    answer = invoke(client, event("rest_token", other))
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert reads == ["GetItem", "GetItem"]


# -- the Chalice face shares the core --------------------------------------------------------------


def test_the_app_face_logs_through_the_same_core(client, admin, capsys):
    admin_id, secret = admin
    assert client.http.get("/whoami", headers=bearer(secret)).json_body["id"] == admin_id
    unknown = client.http.get("/whoami", headers=bearer(key_format.generate("apk").plaintext))
    malformed = client.http.get("/whoami", headers=bearer("apk_nope"))
    assert (unknown.status_code, unknown.body) == (malformed.status_code, malformed.body)
    assert unknown.status_code == 401
    lines = decisions(capsys)
    assert [(line["face"], line["outcome"], line["reason"]) for line in lines] == [
        ("app", "allow", "ok"), ("app", "unauthorized", "unknown"), ("app", "unauthorized", "malformed"),
    ]  # fmt: skip
    assert secret[4:] not in json.dumps(lines)


def test_the_app_face_refuses_dot_segments_too(client, admin, capsys):
    _, secret = admin
    for path in ("/communities/demo/apikeys/%2e%2e", "/communities/demo/apikeys/.."):
        assert client.http.get(path, headers=bearer(secret)).status_code == 401
    assert client.http.get("/communities/demo/apikeys", headers=bearer(secret)).status_code == 200
    reasons = [line["reason"] for line in decisions(capsys)]
    assert reasons[:2] == ["unsafe path", "unsafe path"] and reasons[2] == "ok"


def test_the_app_face_reads_bearer_in_any_case(client, admin):
    admin_id, secret = admin
    for value in (f"bearer {secret}", f"BEARER   {secret} ", f"  Bearer\t{secret}"):
        response = client.http.get("/whoami", headers={"Authorization": value})
        assert response.status_code == 200 and response.json_body["id"] == admin_id, value
