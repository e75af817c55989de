"""A key restricted to networks, at the verifier and the gateway face: the address is the one API
Gateway reports (``requestContext.identity.sourceIp`` in REST REQUEST and payload 1.0 events,
``requestContext.http.sourceIp`` in payload 2.0), never a header; a TOKEN event reports none, so a
restricted key is refused there. And API Gateway's cache, keyed by the identity sources the
authorizer docs say to configure, never serves one address's answer to another."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from chalicelib import logs
from chalicelib.authorizer.gateway import POLICY, SIMPLE, handle_gateway_event, parse_event
from chalicelib.authorizer.verifier import Decision
from chalicelib.metrics import reason_class
from tests.unit.test_authorizer import Clock, Table, refusal, verifier
from tests.unit.test_gateway_events import arn_of, iam_allows

NETWORKS = ["203.0.113.0/24", "2001:db8::/32"]
INSIDE, OUTSIDE = "203.0.113.5", "198.51.100.7"
ARN = arn_of("prod", "GET", "/intelligence/reports")


@pytest.fixture
def table() -> Table:
    return Table()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def last_decision(capsys: Any) -> dict[str, Any]:
    return dict(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))


# -- the verifier ------------------------------------------------------------------------------------


def test_a_restricted_key_is_let_in_from_inside_its_networks_and_carries_them(table, clock):
    secret = table.add(allowed_cidrs=NETWORKS)
    check = verifier(table, clock)
    for address in (INSIDE, "2001:db8::7"):
        assert check.verify(secret, source_ip=address).allowed_cidrs == tuple(NETWORKS)
    decision = check.authorize(secret, face="gateway", source_ip=INSIDE)
    assert decision.context()["allowed_cidrs"] == "203.0.113.0/24,2001:db8::/32"


@pytest.mark.parametrize(
    ("source_ip", "reason"),
    [(OUTSIDE, "address not allowed"), ("test-invoke-source-ip", "address not allowed"), (None, "no source address")],
)
def test_a_restricted_key_is_refused_from_elsewhere_and_without_an_address(table, clock, capsys, source_ip, reason):
    secret = table.add(allowed_cidrs=NETWORKS)
    check = verifier(table, clock)
    refused = refusal(lambda: check.verify(secret, source_ip=source_ip))
    key_id = next(iter(table.items))
    assert (refused.reason, refused.key_id, refused.community) == (reason, key_id, "demo")
    assert table.touches == []  # a refused request is not a use of the key
    logs.configure("INFO")
    refusal(lambda: check.authorize(secret, face="gateway", method="GET", path="/intelligence/x", source_ip=source_ip))
    line = last_decision(capsys)
    assert (line["outcome"], line["reason"], line["key_id"]) == ("unauthorized", reason, key_id)
    assert reason_class(reason) == "address" and "Reason_address" in line


def test_an_address_not_given_is_none_and_the_address_is_checked_unless_said_otherwise(table, clock):
    secret = table.add(allowed_cidrs=NETWORKS)
    check = verifier(table, clock)
    assert refusal(lambda: check.verify(secret)).reason == "no source address"
    assert refusal(lambda: check.authorize(secret, face="gateway")).reason == "no source address"


def test_an_unrestricted_key_needs_no_address_and_carries_no_networks(table, clock):
    secret = table.add()
    check = verifier(table, clock)
    assert check.verify(secret).allowed_cidrs == ()
    assert "allowed_cidrs" not in check.authorize(secret, face="gateway").context()


def test_a_face_that_checks_the_address_itself_gets_the_networks_without_an_address(table, clock):
    """This app's TOKEN authorizer: no address to check, the networks go to the routes in the context."""
    secret = table.add(allowed_cidrs=NETWORKS)
    decision = verifier(table, clock).authorize(secret, face="app", check_address=False)
    assert decision.caller.allowed_cidrs == tuple(NETWORKS)
    assert decision.context()["allowed_cidrs"] == "203.0.113.0/24,2001:db8::/32"


def test_the_other_refusals_come_first(table, clock):
    """A revoked or expired restricted key is refused for that, whatever the address."""
    secret = table.add(allowed_cidrs=NETWORKS, status="revoked")
    assert refusal(lambda: verifier(table, clock).verify(secret, source_ip=OUTSIDE)).reason == "revoked"


# -- the gateway face: where the address comes from ---------------------------------------------------


def rest_request(source_ip: Any, token: str, **headers: str) -> dict[str, Any]:
    return {
        "type": "REQUEST", "methodArn": ARN, "resource": "/intelligence/{proxy+}", "path": "/intelligence/reports",
        "httpMethod": "GET", "headers": {"Authorization": token, **headers},
        "multiValueHeaders": {"Authorization": [token], **{k: [v] for k, v in headers.items()}},
        "requestContext": {"stage": "prod", "identity": {"sourceIp": source_ip, "userAgent": "curl/8.5.0"}},
    }  # fmt: skip


def http_v1(source_ip: Any, token: str, **headers: str) -> dict[str, Any]:
    return {
        "version": "1.0", "type": "REQUEST", "methodArn": ARN, "identitySource": token, "authorizationToken": token,
        "headers": {"authorization": token, **headers},
        "requestContext": {"stage": "prod", "identity": {"sourceIp": source_ip}},
    }  # fmt: skip


def http_v2(source_ip: Any, token: str, **headers: str) -> dict[str, Any]:
    return {
        "version": "2.0", "type": "REQUEST", "routeArn": ARN, "identitySource": [token],
        "rawPath": "/prod/intelligence/reports", "headers": {"authorization": token, **headers},
        "requestContext": {"stage": "prod", "http": {"method": "GET", "path": "/prod/intelligence/reports",
                                                      "sourceIp": source_ip}},
    }  # fmt: skip


EVENTS: dict[str, Callable[..., dict[str, Any]]] = {
    "rest_request": rest_request,
    "http_v1": http_v1,
    "http_v2": http_v2,
}


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_each_request_event_reports_its_own_source_ip(kind):
    assert parse_event(EVENTS[kind](INSIDE, "Bearer x")).source_ip == INSIDE
    assert parse_event(EVENTS[kind]("2001:db8::7", "Bearer x"), http_api_response=POLICY).source_ip == "2001:db8::7"


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_a_source_ip_that_is_not_a_string_or_not_where_the_event_keeps_it_is_none(kind):
    assert parse_event(EVENTS[kind](None, "Bearer x")).source_ip is None
    assert parse_event(EVENTS[kind](3405803781, "Bearer x")).source_ip is None
    event = EVENTS[kind](INSIDE, "Bearer x")
    event["requestContext"] = {"identity": "x", "http": ["x"]} if kind != "http_v2" else {"http": "x"}
    with_no_context = EVENTS[kind](INSIDE, "Bearer x")
    del with_no_context["requestContext"]
    if kind == "http_v2":  # payload 2.0 keeps the method in requestContext.http: its route comes from the ARN
        event["rawPath"] = with_no_context["rawPath"] = "/intelligence/reports"
    assert parse_event(event, http_api_response=POLICY).source_ip is None
    assert parse_event(with_no_context, http_api_response=POLICY).source_ip is None
    # Each payload reads its own place: payload 2.0's is requestContext.http, the others' .identity.
    moved = EVENTS[kind](INSIDE, "Bearer x")
    context = moved["requestContext"]
    context["identity" if kind == "http_v2" else "http"] = context.pop("http" if kind == "http_v2" else "identity")
    assert parse_event(moved, http_api_response=POLICY).source_ip is None


def test_a_token_event_reports_no_address_even_with_a_request_context():
    event = {"type": "TOKEN", "authorizationToken": "Bearer x", "methodArn": ARN,
             "requestContext": {"identity": {"sourceIp": INSIDE}}}  # fmt: skip
    assert parse_event(event).source_ip is None


@pytest.mark.parametrize("kind", sorted(EVENTS))
@pytest.mark.parametrize("mode", [SIMPLE, POLICY])
def test_a_restricted_key_is_answered_by_the_address_api_gateway_reports_never_a_header(kind, mode):
    table, clock = Table(), Clock()
    secret = table.add(allowed_cidrs=NETWORKS)
    check = verifier(table, clock)
    forged = {"X-Forwarded-For": INSIDE, "X-Real-IP": INSIDE, "Forwarded": f"for={INSIDE}"}

    def allowed(source_ip: str) -> bool:
        event = EVENTS[kind](source_ip, f"Bearer {secret}", **forged)
        try:
            answer = handle_gateway_event(check, event, http_api_response=mode)
        except Exception as error:  # noqa: BLE001 - API Gateway's 401
            assert str(error) == "Unauthorized"
            return False
        if "isAuthorized" in answer:
            return bool(answer["isAuthorized"])
        return iam_allows(answer["policyDocument"], ARN)

    assert allowed(INSIDE) and allowed("2001:db8:1::1")
    assert not allowed(OUTSIDE) and not allowed("test-invoke-source-ip") and not allowed("")


def test_a_restricted_key_in_a_token_event_gets_the_same_401_as_any_bad_key(capsys):
    table, clock = Table(), Clock()
    restricted, unrestricted = table.add(allowed_cidrs=NETWORKS), table.add()
    check = verifier(table, clock)
    logs.configure("INFO")
    with pytest.raises(Exception) as caught:
        handle_gateway_event(check, {"type": "TOKEN", "authorizationToken": f"Bearer {restricted}", "methodArn": ARN})
    assert type(caught.value) is Exception and str(caught.value) == "Unauthorized"
    assert last_decision(capsys)["reason"] == "no source address"
    answer = handle_gateway_event(
        check, {"type": "TOKEN", "authorizationToken": f"Bearer {unrestricted}", "methodArn": ARN}
    )
    assert iam_allows(answer["policyDocument"], ARN)


# -- API Gateway's cache, keyed by the identity sources -----------------------------------------------


def _header(event: Mapping[str, Any], name: str) -> Any:
    return next((v for k, v in (event.get("headers") or {}).items() if k.lower() == name.lower()), None)


# Each identity source as API Gateway resolves it on the request. The first two are REST's mapping
# expressions, the last two HTTP API's selection expressions; HTTP API's $context.identity.sourceIp
# is the address a payload 2.0 event carries in requestContext.http.sourceIp.
SOURCES: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "method.request.header.Authorization": lambda event: _header(event, "Authorization"),
    "context.identity.sourceIp": lambda event: event["requestContext"]["identity"]["sourceIp"],
    "$request.header.Authorization": lambda event: _header(event, "Authorization"),
    "$context.identity.sourceIp": lambda event: (
        event["requestContext"]["http"]["sourceIp"] if event.get("version") == "2.0"
        else event["requestContext"]["identity"]["sourceIp"]
    ),
}  # fmt: skip
# What the authorizer docs say to configure for a key restricted to networks.
DOCUMENTED = {
    "rest_request": ("method.request.header.Authorization", "context.identity.sourceIp"),
    "http_v1": ("$request.header.Authorization", "$context.identity.sourceIp"),
    "http_v2": ("$request.header.Authorization", "$context.identity.sourceIp"),
}


class GatewayCache:
    """API Gateway's authorizer cache: one answer per tuple of identity source values, reused for
    every request with the same values while the TTL lasts (here: for ever). An HTTP API also
    hands the values to the authorizer, as ``identitySource`` (payload 1.0 joins them with commas)."""

    def __init__(self, check: Any, sources: tuple[str, ...], mode: str) -> None:
        self.check, self.sources, self.mode = check, sources, mode
        self.answers: dict[tuple[Any, ...], Any] = {}
        self.calls = 0

    def allowed(self, event: dict[str, Any]) -> bool:
        values = tuple(SOURCES[source](event) for source in self.sources)
        if event.get("version") == "2.0":
            event = {**event, "identitySource": list(values)}
        elif event.get("version") == "1.0":
            event = {**event, "identitySource": ",".join(values)}
        if values not in self.answers:
            self.calls += 1
            try:
                self.answers[values] = handle_gateway_event(self.check, event, http_api_response=self.mode)
            except Exception:  # noqa: BLE001 - a 401 is cached too
                self.answers[values] = None
        answer = self.answers[values]
        if answer is None:
            return False
        if "isAuthorized" in answer:
            return bool(answer["isAuthorized"])
        return iam_allows(answer["policyDocument"], ARN)


@pytest.mark.parametrize("kind", sorted(EVENTS))
@pytest.mark.parametrize("mode", [SIMPLE, POLICY])
def test_configured_as_documented_an_answer_for_one_address_never_serves_another(kind, mode):
    table, clock = Table(), Clock()
    secret = table.add(allowed_cidrs=NETWORKS)
    cache = GatewayCache(verifier(table, clock), DOCUMENTED[kind], mode)
    assert cache.allowed(EVENTS[kind](INSIDE, f"Bearer {secret}"))
    assert not cache.allowed(EVENTS[kind](OUTSIDE, f"Bearer {secret}"))
    assert cache.allowed(EVENTS[kind](INSIDE, f"Bearer {secret}")) and cache.calls == 2  # A's answer, from the cache
    # ...and the other way round: a refusal cached for B never locks out A.
    fresh = GatewayCache(verifier(table, clock), DOCUMENTED[kind], mode)
    assert not fresh.allowed(EVENTS[kind](OUTSIDE, f"Bearer {secret}"))
    assert fresh.allowed(EVENTS[kind](INSIDE, f"Bearer {secret}"))


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_with_the_key_alone_as_identity_source_an_allow_would_serve_every_address(kind):
    """Why the docs ask for the source IP: keyed by the key alone, the cache answers B with A's allow."""
    table, clock = Table(), Clock()
    secret = table.add(allowed_cidrs=NETWORKS)
    cache = GatewayCache(verifier(table, clock), DOCUMENTED[kind][:1], SIMPLE)
    assert cache.allowed(EVENTS[kind](INSIDE, f"Bearer {secret}"))
    assert cache.allowed(EVENTS[kind](OUTSIDE, f"Bearer {secret}")) and cache.calls == 1


def test_the_context_is_strings_only(table, clock):
    secret = table.add(allowed_cidrs=NETWORKS)
    decision: Decision = verifier(table, clock).authorize(secret, face="gateway", source_ip=INSIDE)
    assert all(isinstance(value, str) for value in decision.context().values())
