"""The standalone authorizer's answers judged the way API Gateway judges them.

API Gateway matches the returned policy against the real method ARN (the request path copied
into it verbatim) and caches it per identity source, so the answer is evaluated here with IAM's
own wildcard rules against the request's ARN and against other routes' ARNs, and must agree with
the route map for every one of them. Events are built on the payloads AWS documents.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chalicelib import logs
from chalicelib.authorizer.execute_api import (
    MethodArn,
    NotAMethodArn,
    bearer_token,
    header,
    is_unsafe_path,
    multi_value_header,
)
from chalicelib.authorizer.gateway import POLICY, SIMPLE, handle_gateway_event
from chalicelib.authorizer.policy import DEFAULT_ROUTE_MAP, RouteMap
from chalicelib.authorizer.verifier import Verifier
from chalicelib.keys import format as key_format
from chalicelib.roles.catalog import BUILTIN_ROLES
from tests.iam import iam_allows
from tests.unit.test_authorizer import PEPPER, Clock, PerfCounter, Table, verifier

BASE = "arn:aws:execute-api:us-east-1:123456789012:abcdef123"
ROUTES = RouteMap.from_pairs(DEFAULT_ROUTE_MAP)


# -- events, shaped as AWS documents them -------------------------------------------------------


def rest_token(arn: str, token: str) -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}


def rest_request(arn: str, token: str, *, header: str = "Authorization") -> dict[str, Any]:
    return {
        "type": "REQUEST", "methodArn": arn, "resource": "/{proxy+}", "path": "/x", "httpMethod": "GET",
        "headers": {header: token, "Accept": "*/*"}, "multiValueHeaders": {header: [token], "Accept": ["*/*"]},
        "queryStringParameters": {}, "pathParameters": {}, "stageVariables": {"StageVar1": "stageValue1"},
        "requestContext": {"accountId": "123456789012", "apiId": "abcdef123", "stage": "prod"},
    }  # fmt: skip


def http_v1(arn: str, token: str) -> dict[str, Any]:
    return {
        "version": "1.0", "type": "REQUEST", "methodArn": arn, "identitySource": token,
        "authorizationToken": token, "headers": {"authorization": token}, "stageVariables": {},
    }  # fmt: skip


def http_v2(arn: str, token: str, *, method: str, raw_path: str, stage: str = "$default") -> dict[str, Any]:
    return {
        "version": "2.0", "type": "REQUEST", "routeArn": arn, "identitySource": [token],
        "routeKey": "$default", "rawPath": raw_path, "rawQueryString": "", "headers": {"authorization": token},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abcdef123", "stage": stage, "routeKey": "$default",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.10"},
        },
        "pathParameters": {}, "stageVariables": {"stageVariable1": "value1"},
    }  # fmt: skip


# -- the core, with an in-memory table -------------------------------------------------------------

_table = Table()
_clock = Clock()
KEYS = {role: _table.add(roles=(role,)) for role in BUILTIN_ROLES}
CHECK = verifier(_table, _clock)


def permissions(role: str) -> frozenset[str]:
    return frozenset(BUILTIN_ROLES[role].permissions)


def answer(event: dict[str, Any], mode: str = POLICY) -> Any:
    return handle_gateway_event(CHECK, event, http_api_response=mode)


# -- what an attacker sends -------------------------------------------------------------------------

_methods = st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get", "Post"])
_areas = st.sampled_from(["intelligence", "playbooks", "operations", "apikeys", "admin", "x"])
_tricks = st.sampled_from(
    [".", "..", "%2e%2e", "%2E.", ".%2e", "%2f", "%2F", "%5c", "\\", "%252e%252e", "..;", ".;x", "%c0%ae",
     "a:b", ":", "::", "x:zz", "*", "?", "%", "%20", " ", "é", "☃", "", "GET", "$default", "prod", "arn:aws"]
)  # fmt: skip
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
_segments = st.lists(st.one_of(_areas, _tricks, _text), max_size=5)
# The attack of the bug report: a path holding what looks like the rest of another ARN.
_forged = st.builds(
    lambda api, stage, method, area, tail: f"{api}:{stage}/{method}/{area}/{tail}",
    st.sampled_from(["x", "zz", "abcdef123", "arn:aws:execute-api:us-east-1:123456789012:abcdef123"]),
    st.sampled_from(["s", "prod", "*", "$default"]), _methods, _areas, _text,
)  # fmt: skip


@st.composite
def _paths(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(_areas, _tricks, _text, _forged), max_size=5))
    path = "/" + "/".join(parts)
    if draw(st.booleans()):
        path += "/"
    return path


_routes = st.tuples(_methods, _paths())
_stages = st.sampled_from(["prod", "test", "$default", "*", "test-invoke-stage"])
_roles = st.sampled_from(sorted(BUILTIN_ROLES))


def arn_of(stage: str, method: str, path: str) -> str:
    return f"{BASE}/{stage}/{method}{path}"


POLICY_EVENTS = {
    "rest_token": lambda arn, token: rest_token(arn, f"Bearer {token}"),
    "rest_request": lambda arn, token: rest_request(arn, f"Bearer {token}"),
    "http_api_v1": lambda arn, token: http_v1(arn, f"Bearer {token}"),
    "http_api_v2_policy": lambda arn, token: http_v2(arn, f"Bearer {token}", method="GET", raw_path="/ignored"),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(sorted(POLICY_EVENTS)), role=_roles, stage=_stages, route=_routes,
    others=st.lists(_routes, max_size=6),
)  # fmt: skip
@example(  # the bug report: a read-only key must not get a policy matching the real POST
    kind="rest_token", role="ic_viewer", stage="prod", route=("POST", "/intelligence/x:zz/s/GET/intelligence/y"),
    others=[("POST", "/intelligence/y"), ("GET", "/intelligence/y")],
)  # fmt: skip
@example(  # found by this test: the console's test-invoke stage "*" (see above)
    kind="rest_token", role="ic_viewer", stage="*", route=("GET", "/x:s/GET/intelligence/"), others=[]
)
@example(  # found by this test: "* /apikeys/*" matched "get", which the policy (spelling GET) does not
    kind="rest_token", role="apikeys_admin", stage="prod", route=("get", "/apikeys"), others=[("Post", "/apikeys/x")]
)
@example(  # an ISO timestamp and a URN: a valid key on a legitimate path with ':' is allowed
    kind="http_api_v1", role="ic_viewer", stage="test",
    route=("GET", "/intelligence/reports/2025-05-01T12:00:00Z"), others=[("GET", "/intelligence/urn:isbn:1")],
)  # fmt: skip
@example(  # dot segments reach another area once a backend normalises them
    kind="rest_request", role="ic_editor", stage="prod", route=("GET", "/intelligence/../apikeys/x"),
    others=[("DELETE", "/intelligence/%2e%2e/apikeys/x"), ("GET", "/intelligence/..;/apikeys"),
            ("GET", "/intelligence/a%2Fb"), ("GET", "/intelligence/.")],
)  # fmt: skip
def test_policy_allows_exactly_what_the_route_map_allows(kind, role, stage, route, others):
    method, path = route
    arn = arn_of(stage, method, path)
    event = POLICY_EVENTS[kind](arn, KEYS[role])
    mode = POLICY if kind == "http_api_v2_policy" else SIMPLE
    if stage == "*":
        # Found by this test: a policy for the console's test-invoke stage ``*`` would match
        # API/*/GET/x:s/GET/intelligence/ through API/*/GET/intelligence/*. Such an event is refused.
        with pytest.raises(Exception, match="^Unauthorized$"):
            answer(event, mode)
        return
    policy = answer(event, mode)["policyDocument"]
    granted = permissions(role)
    for each_method, each_path in [route, *others]:
        expected = ROUTES.allows(granted, each_method, each_path)[0]
        assert iam_allows(policy, arn_of(stage, each_method, each_path)) is expected, (each_method, each_path)
    # The policy names this API and stage only, whatever the path held.
    for statement in policy["Statement"]:
        for resource in statement["Resource"]:
            assert resource.startswith(f"{BASE}/{stage}/"), resource
        assert not iam_allows({"Statement": [{**statement, "Effect": "Allow"}]}, arn_of("other", "GET", "/x"))


@settings(max_examples=200, deadline=None)
@given(role=_roles, stage=st.sampled_from(["prod", "$default"]), route=_routes)
@example(role="ic_viewer", stage="prod", route=("POST", "/intelligence/x:zz/s/GET/intelligence/y"))
@example(role="community_admin", stage="prod", route=("GET", "/intelligence/%2e%2e/apikeys/x"))
def test_http_api_simple_answers_what_the_route_map_allows(role, stage, route):
    method, path = route
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    event = http_v2(arn_of(stage, method, path), f"Bearer {KEYS[role]}", method=method, raw_path=raw_path, stage=stage)
    result = answer(event, SIMPLE)
    assert result["isAuthorized"] is ROUTES.allows(permissions(role), method, path)[0]


# -- ARNs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "parsed"),
    [
        (
            f"{BASE}/prod/GET/intelligence/x:zz/s/GET/intelligence/y",
            ("aws", "us-east-1", "123456789012", "abcdef123", "prod", "GET", "/intelligence/x:zz/s/GET/intelligence/y"),
        ),
        (
            f"{BASE}/$default/DELETE/a/*/?/%2e/é/",
            ("aws", "us-east-1", "123456789012", "abcdef123", "$default", "DELETE", "/a/*/?/%2e/é/"),
        ),
        (
            f"{BASE}/test-invoke-stage/GET/",
            ("aws", "us-east-1", "123456789012", "abcdef123", "test-invoke-stage", "GET", "/"),
        ),
        (f"{BASE}/prod/GET", ("aws", "us-east-1", "123456789012", "abcdef123", "prod", "GET", "")),
        (
            "arn:aws-cn:execute-api:cn-north-1:123456789012:a1/v1/PUT//x//",
            ("aws-cn", "cn-north-1", "123456789012", "a1", "v1", "PUT", "//x//"),
        ),
    ],
)
def test_arns_are_parsed_from_the_left(arn, parsed):
    got = MethodArn.parse(arn)
    assert (got.partition, got.region, got.account, got.api_id, got.stage, got.method, got.path) == parsed
    assert got.base == arn.split("/", 2)[0] + "/" + got.stage


@pytest.mark.parametrize(
    "arn",
    [
        None,
        42,
        "",
        "nope",
        f"{BASE}/*/GET/intelligence/x",
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123",
        f"{BASE}/prod",
        "arn:aws:execute-api:us-east-1:1:a*/prod/GET/x",
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123/pr*d/GET/x",
        "arn:*:execute-api:us-east-1:1:a/prod/GET/x",
        "arn:aws:execute-api:us-east-1:*:a/prod/GET/x",
        f"{BASE}/prod/G?T/x",
        f"{BASE}/prod//x",
        "arn:aws:execute-api:us-east-1:123456789012:abc/def:prod/GET/x",
        # shaped like a method ARN, but of another service, or not an ARN, or missing a field
        "arn:aws:lambda:us-east-1:123456789012:abcdef123/prod/GET/x",
        "urn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/x",
        "arn:aws:execute-api:us-east-1:abcdef123/prod/GET/x",
        "arn:aws:execute-api:123456789012:abcdef123/prod/GET/x",
    ],
)
def test_arns_with_wildcards_or_missing_structure_are_refused(arn):
    with pytest.raises(NotAMethodArn):
        MethodArn.parse(arn)


@pytest.mark.parametrize(
    ("path", "unsafe"),
    [
        ("/intelligence/reports", False),
        ("/intelligence/a.b/..c/c..", False),
        ("/intelligence/urn:x:1", False),
        ("/intelligence/", False),
        ("/intelligence//x", False),
        ("/intelligence/%20", False),
        ("/intelligence/..", True),
        ("/intelligence/../apikeys", True),
        ("/./intelligence", True),
        ("/intelligence/%2e%2e/apikeys", True),
        ("/intelligence/%2E%2E/apikeys", True),
        ("/intelligence/.%2e", True),
        ("/intelligence/a%2fb", True),
        ("/intelligence/a%2Fb", True),
        ("/intelligence/a%5cb", True),
        ("/intelligence/a\\..\\b", True),
        ("/intelligence/%252e%252e", True),
        ("/intelligence/..;/apikeys", True),
        ("/intelligence/.;/x", True),
        ("/intelligence/%c0%ae%c0%ae", True),
        ("/intelligence/%u002e", True),
        ("/intelligence/%252f", True),
        ("/intelligence/%252F", True),
        ("/intelligence/%255c", True),
        ("/intelligence/%255C", True),
        ("/intelligence/%252E%252E", True),
        # a percent sign and NUL are the path's own text: the route judges them
        ("/intelligence/x%00", False),
        ("/intelligence/%2523x", False),
        ("/intelligence/100%25", False),
        ("/intelligence/%25", False),
    ],
)
def test_the_dot_segment_rule(path, unsafe):
    assert is_unsafe_path(path) is unsafe
    if unsafe:
        assert ROUTES.allows(permissions("community_admin"), "GET", path) == (False, "unsafe path")


# -- tokens -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer apk_x", "apk_x"), ("bearer apk_x", "apk_x"), ("BEARER apk_x", "apk_x"), ("bEaReR \t apk_x ", "apk_x"),
        ("  apk_x\r\n", "apk_x"), ("Bearer", None), ("Bearer   ", None), ("", None), (None, None), (["apk_x"], None),
        ("Bearerapk_x", "Bearerapk_x"), ("Basic dXNlcjpwYXNz", "Basic dXNlcjpwYXNz"),
        # only HTTP's blanks are trimmed; what follows the scheme is kept whole
        ("\vapk_x\f", "\vapk_x\f"), ("Bearer \vapk_x", "\vapk_x"), ("Bearer XXapk_x", "XXapk_x"),
    ],
)  # fmt: skip
def test_bearer_is_case_insensitive_and_trimmed(value, token):
    assert bearer_token(value) == token


@pytest.mark.parametrize("scheme", ["Bearer ", "bearer ", "BEARER\t", " Bearer  ", ""])
def test_every_payload_reads_its_own_identity_source(scheme):
    key = KEYS["ic_viewer"]
    arn = arn_of("prod", "GET", "/intelligence/x")
    value = f"{scheme}{key} "
    events = [
        rest_token(arn, value),
        rest_request(arn, value),
        rest_request(arn, value, header="authorization"),
        rest_request(arn, value, header="AUTHORIZATION"),
        {**rest_request(arn, value), "headers": {}},  # only in multiValueHeaders
        http_v1(arn, value),
        # HTTP API set to another header: identitySource is that header's value
        {**http_v1(arn, value), "headers": {"x-api-key": value}},
        {**http_v2(arn, value, method="GET", raw_path="/intelligence/x"), "headers": {"x-api-key": value}},
        # with $context.routeKey as a second identity source, as docs/authorizer.md advises
        {**http_v2(arn, value, method="GET", raw_path="/intelligence/x"), "identitySource": ["GET /{proxy+}", value]},
        {**http_v1(arn, value), "identitySource": f"{value},GET /{{proxy+}}"},
    ]
    for event in events:
        mode = SIMPLE if event.get("version") == "2.0" else POLICY
        result = answer(event, mode)
        assert result.get("isAuthorized", True) is True, event
        assert result["context"]["key_id"] == key_format.parse(key, "apk").key_id, event


def test_the_token_is_never_read_from_anywhere_but_the_identity_source():
    """With caching, API Gateway keys the answer on the identity source: a key in another header
    would let every later request with the same identity source value through."""
    key = KEYS["community_admin"]
    arn = arn_of("prod", "GET", "/intelligence/x")
    v1 = {**http_v1(arn, "whatever"), "headers": {"authorization": f"Bearer {key}"}}
    v2 = {
        **http_v2(arn, "whatever", method="GET", raw_path="/intelligence/x"),
        "headers": {"authorization": f"Bearer {key}"},
    }
    with pytest.raises(Exception, match="^Unauthorized$"):
        answer(v1)
    assert answer(v2, SIMPLE) == {"isAuthorized": False}


def test_two_different_authorization_headers_are_refused():
    arn = arn_of("prod", "GET", "/intelligence/x")
    event = rest_request(arn, f"Bearer {KEYS['ic_viewer']}")
    event["multiValueHeaders"]["Authorization"].append(f"Bearer {KEYS['community_admin']}")
    with pytest.raises(Exception, match="^Unauthorized$"):
        answer(event)
    event = {
        **http_v2(arn, "x", method="GET", raw_path="/x"),
        "identitySource": [KEYS["ic_viewer"], KEYS["community_admin"]],
    }
    assert answer(event, SIMPLE) == {"isAuthorized": False}


# -- every refusal is an answer ------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | _text
    | st.sampled_from(["2.0", "1.0", "TOKEN", "REQUEST"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(_text | st.sampled_from(["authorization", "http"]), children, max_size=3)
    ),
    max_leaves=10,
)
_fields = [
    "version",
    "type",
    "methodArn",
    "routeArn",
    "authorizationToken",
    "identitySource",
    "headers",
    "multiValueHeaders",
    "rawPath",
    "requestContext",
]


def _base_events() -> list[dict[str, Any]]:
    arn = arn_of("prod", "GET", "/intelligence/x")
    token = f"Bearer {KEYS['ic_viewer']}"
    return [rest_token(arn, token), rest_request(arn, token), http_v1(arn, token),
            http_v2(arn, token, method="GET", raw_path="/intelligence/x")]  # fmt: skip


def assert_an_answer(event: Any, mode: str) -> None:
    simple = mode == SIMPLE and isinstance(event, dict) and event.get("version") == "2.0"
    try:
        result = answer(event, mode)
    except Exception as error:  # noqa: BLE001 - what leaves the handler is the subject
        assert not simple, f"raised {error!r} where API Gateway wants isAuthorized"
        assert type(error) is Exception and error.args == ("Unauthorized",)
        return
    if simple:
        assert isinstance(result["isAuthorized"], bool)
    else:
        assert set(result) >= {"principalId", "policyDocument", "context"}


@settings(max_examples=200, deadline=None)
@given(
    which=st.integers(0, 3), changes=st.dictionaries(st.sampled_from(_fields), _json, max_size=4),
    dropped=st.sets(st.sampled_from(_fields), max_size=3), mode=st.sampled_from([SIMPLE, POLICY]),
)  # fmt: skip
def test_no_event_makes_the_handler_raise_anything_but_unauthorized(which, changes, dropped, mode):
    event = {k: v for k, v in {**_base_events()[which], **changes}.items() if k not in dropped}
    assert_an_answer(event, mode)


@pytest.mark.parametrize(
    "event",
    [None, [], "event", 42, {}, {"version": "2.0"}, {"version": "2.0", "routeArn": "arn:aws:s3:::bucket"},
     {"type": "TOKEN", "methodArn": "arn:aws:sns:us-east-1:123456789012:topic", "authorizationToken": "x"}],
)  # fmt: skip
@pytest.mark.parametrize("mode", [SIMPLE, POLICY])
def test_events_of_nothing_or_other_services_are_refused(event, mode):
    assert_an_answer(event, mode)
    if isinstance(event, dict) and event.get("version") == "2.0" and mode == SIMPLE:
        assert answer(event, mode) == {"isAuthorized": False}


@pytest.mark.parametrize("mode", [SIMPLE, POLICY])
def test_huge_and_non_ascii_headers_are_refused(mode):
    arn = arn_of("prod", "GET", "/intelligence/x")
    for token in [
        "Bearer " + "A" * 100_000,
        "Bearer apk_é" + "x" * 46,
        "Bearer ☃",
        "\x00",
        "Bearer " + KEYS["ic_viewer"] + "\u200b",
    ]:
        for event in (rest_token(arn, token), rest_request(arn, token), http_v1(arn, token),
                      http_v2(arn, token, method="GET", raw_path="/intelligence/x")):  # fmt: skip
            assert_an_answer(event, mode)
            if mode == SIMPLE and event.get("version") == "2.0":
                assert answer(event, mode) == {"isAuthorized": False}
            else:
                with pytest.raises(Exception, match="^Unauthorized$"):
                    answer(event, mode)


def test_a_payload_1_identity_source_is_split_at_its_commas():
    """HTTP API payload 1.0 joins the identity source values with commas, no space: the key is
    the value shaped like one, whichever place it has."""
    key = KEYS["ic_viewer"]
    arn = arn_of("prod", "GET", "/intelligence/x")
    for joined in (f"{key},GET /{{proxy+}}", f"GET /{{proxy+}},{key}", f"Bearer {key},$default"):
        result = answer({**http_v1(arn, key), "identitySource": joined})
        assert result["context"]["key_id"] == key_format.parse(key, "apk").key_id, joined


def test_authorization_sent_under_two_spellings_with_different_keys_is_refused():
    """Header names are case-insensitive: ``Authorization`` and ``authorization`` are one header
    sent twice, and two different values of it are ambiguous, whichever spelling comes last."""
    arn = arn_of("prod", "GET", "/intelligence/x")
    event = rest_request(arn, f"Bearer {KEYS['ic_viewer']}")
    event["headers"] = {}  # only the multi-value copies
    event["multiValueHeaders"]["authorization"] = [f"Bearer {KEYS['community_admin']}"]
    with pytest.raises(Exception, match="^Unauthorized$"):
        answer(event)
    # the same value under both spellings is one value
    event["multiValueHeaders"]["authorization"] = [f"Bearer {KEYS['ic_viewer']}"]
    assert answer(event)["context"]["key_id"] == key_format.parse(KEYS["ic_viewer"], "apk").key_id


@pytest.mark.parametrize(
    ("headers", "value"),
    [
        ({"Authorization": "Bearer apk_x"}, "Bearer apk_x"),  # a single value, not in a list
        ({"authorization": ["Bearer apk_x", "Bearer apk_x"]}, "Bearer apk_x"),
        ({"Authorization": [5]}, None),  # not text
        ({"Authorization": ["Bearer apk_x", None]}, None),
        ({"Authorization": []}, None),
        ({"Accept": ["*/*"]}, None),
        (["Authorization"], None),
    ],
)
def test_a_multi_value_header_is_one_text_value_or_none(headers, value):
    assert multi_value_header(headers, "Authorization") == value


@pytest.mark.parametrize(
    ("headers", "value"),
    [
        ({"authorization": "Bearer apk_x"}, "Bearer apk_x"),
        ({"AUTHORIZATION": "Bearer apk_x", "Accept": "*/*"}, "Bearer apk_x"),
        ({"Authorization": ["Bearer apk_x"]}, None),  # not text
        ({"Authorization": 5}, None),
        ({}, None),
        ("Authorization: Bearer apk_x", None),
    ],
)
def test_a_header_is_read_in_any_case_and_only_as_text(headers, value):
    assert header(headers, "Authorization") == value


def test_an_authorization_header_whose_two_copies_disagree_is_refused():
    """REST REQUEST events carry the header twice, in ``headers`` and ``multiValueHeaders``: when
    the two say different keys, neither is read."""
    arn = arn_of("prod", "GET", "/intelligence/x")
    event = rest_request(arn, f"Bearer {KEYS['ic_viewer']}")
    event["headers"]["Authorization"] = f"Bearer {KEYS['community_admin']}"
    with pytest.raises(Exception, match="^Unauthorized$"):
        answer(event)


@pytest.mark.parametrize(
    "multi",
    [
        "absent",
        None,
        {"Accept": ["*/*"]},  # other headers only
        {"Authorization": ["KEY"]},  # only this one
    ],
)
def test_a_rest_request_key_is_read_from_whichever_copy_of_the_header_it_has(multi):
    key = KEYS["ic_viewer"]
    event = rest_request(arn_of("prod", "GET", "/intelligence/x"), f"Bearer {key}")
    if multi == "absent":
        del event["multiValueHeaders"]
    elif multi is None:
        event["multiValueHeaders"] = None
    elif "Authorization" in multi:
        event["headers"], event["multiValueHeaders"] = {}, {"Authorization": [f"Bearer {key}"]}
    else:
        event["multiValueHeaders"] = multi
    assert answer(event)["context"]["key_id"] == key_format.parse(key, "apk").key_id


def test_an_event_that_cannot_be_read_is_logged_as_a_gateway_refusal(capsys):
    logs.configure("INFO")
    with pytest.raises(Exception, match="^Unauthorized$"):
        answer(rest_token("arn:aws:execute-api:us-east-1:123456789012:abcdef123/*/GET/x", KEYS["ic_viewer"]))
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {k: line[k] for k in ("face", "outcome", "reason", "key_id", "community", "route")} == {
        "face": "gateway", "outcome": "unauthorized", "reason": "error:NotAMethodArn", "key_id": "unknown",
        "community": "", "route": "",  # no route could be read
    }  # fmt: skip


@pytest.mark.parametrize("route_arn", ["absent", arn_of("*", "GET", "/intelligence/x")])
def test_a_simple_answer_without_a_readable_route_arn_is_decided_on_the_request(route_arn):
    """A console test invoke sends stage ``*``, which no policy may name: the simple answer needs
    no ARN, so the route is the request's own."""
    key = KEYS["ic_viewer"]
    for method, allowed in (("GET", True), ("POST", False)):
        event = http_v2(
            arn_of("prod", method, "/intelligence/x"), f"Bearer {key}", method=method, raw_path="/intelligence/x"
        )
        if route_arn == "absent":
            del event["routeArn"]
        else:
            event["routeArn"] = route_arn
        assert answer(event, SIMPLE)["isAuthorized"] is allowed, method


def test_an_identity_source_without_a_key_is_not_completed_from_another_header():
    """Two identity source values, neither shaped like a key: refused, even with a key in the
    Authorization header (API Gateway caches the answer on the identity source alone)."""
    key = KEYS["community_admin"]
    event = {
        **http_v2(arn_of("prod", "GET", "/intelligence/x"), "x", method="GET", raw_path="/intelligence/x"),
        "identitySource": ["GET /{proxy+}", "other"],
        "headers": {"authorization": f"Bearer {key}"},
    }
    assert answer(event, SIMPLE) == {"isAuthorized": False}


def test_an_iam_answer_to_payload_2_logs_the_route_of_its_arn(capsys):
    logs.configure("INFO")
    event = http_v2(
        arn_of("prod", "POST", "/intelligence/x"), f"Bearer {KEYS['ic_viewer']}", method="GET", raw_path="/ignored"
    )
    answer(event, POLICY)
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["route"], line["outcome"]) == ("POST /intelligence/x", "deny")


def test_on_the_default_stage_a_path_starting_with_its_name_is_not_shortened():
    """``$default`` is not in the URL: ``/$default/intelligence/x`` is a path of its own, unmapped."""
    path = "/$default/intelligence/x"
    event = http_v2(arn_of("$default", "GET", path), f"Bearer {KEYS['ic_viewer']}", method="GET", raw_path=path)
    assert answer(event, SIMPLE)["isAuthorized"] is False


@pytest.mark.parametrize("drop", ["rawPath", "rawPath and http.path"])  # the method too, in the second
def test_a_simple_answer_reads_the_path_from_the_request_else_from_the_route_arn(drop):
    key = KEYS["ic_viewer"]
    for path, allowed in (("/intelligence/x", True), ("/operations/x", False)):
        event = http_v2(arn_of("$default", "GET", path), f"Bearer {key}", method="GET", raw_path=path)
        del event["rawPath"]
        if drop != "rawPath":
            del event["requestContext"]["http"]["path"], event["requestContext"]["http"]["method"]
        assert answer(event, SIMPLE)["isAuthorized"] is allowed, (drop, path)


def test_the_root_of_a_named_stage_is_the_route_slash(capsys):
    """``/prod`` on the stage ``prod`` is the API's root, ``/``, which a route map may map."""
    table, clock = Table(), Clock()
    key = table.add(roles=("ic_viewer",))
    check = verifier(table, clock, route_map=RouteMap.from_pairs([("GET /", "intelligence:read")]))
    logs.configure("INFO")
    for raw_path in ("/prod", "/prod/"):
        event = http_v2(arn_of("prod", "GET", "/"), f"Bearer {key}", method="GET", raw_path=raw_path, stage="prod")
        assert handle_gateway_event(check, event, http_api_response=SIMPLE)["isAuthorized"] is True, raw_path
    assert [json.loads(line)["route"] for line in capsys.readouterr().out.strip().splitlines()] == ["GET /", "GET /"]


@pytest.mark.parametrize("missing", ["method", "path"])
def test_a_simple_answer_without_the_requests_method_or_path_is_refused(missing, capsys):
    """No route ARN to fall back on, and the request's method (or path) missing: there is no route
    to decide, so the key is refused, never let through as if no route had been asked about."""
    logs.configure("INFO")
    key = KEYS["community_admin"]
    event = http_v2(arn_of("prod", "GET", "/intelligence/x"), f"Bearer {key}", method="GET", raw_path="/intelligence/x")
    del event["routeArn"]
    if missing == "method":
        del event["requestContext"]["http"]["method"]
    else:
        del event["rawPath"], event["requestContext"]["http"]["path"]
    assert answer(event, SIMPLE) == {"isAuthorized": False}
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["outcome"], line["reason"]) == ("unauthorized", "error:ValueError")


def test_identity_sources_are_read_with_the_deployments_own_key_prefix():
    """A deployment whose keys start ``xyz_``: among several identity source values (the key and
    ``$context.routeKey``) the key is the one with that prefix, not with the default one."""
    parsed = key_format.generate("xyz")
    record = replace(
        _table.items[key_format.parse(KEYS["ic_viewer"], "apk").key_id],
        key_id=parsed.key_id, key_hash=key_format.hash_key(parsed.plaintext, PEPPER),
    )  # fmt: skip
    check = Verifier(
        {parsed.key_id: record}.get, key_prefix="xyz", peppers=(PEPPER,), catalog=lambda community: BUILTIN_ROLES,
        clock=lambda: _clock.now,
    )  # fmt: skip
    arn = arn_of("prod", "GET", "/intelligence/x")
    key = parsed.plaintext
    v1 = {**http_v1(arn, key), "identitySource": f"{key},GET /{{proxy+}}"}
    v2 = {**http_v2(arn, key, method="GET", raw_path="/intelligence/x"), "identitySource": ["GET /{proxy+}", key]}
    assert handle_gateway_event(check, v1, http_api_response=POLICY)["context"]["key_id"] == parsed.key_id
    assert handle_gateway_event(check, v2, http_api_response=SIMPLE)["isAuthorized"] is True


def test_a_gateway_decisions_latency_counts_from_when_the_event_arrived(capsys, monkeypatch):
    """The DecisionLatency metric of the gateway face covers the reading of the event too."""
    monkeypatch.setattr("chalicelib.authorizer.gateway.time", PerfCounter(100.0))  # the event arrives
    monkeypatch.setattr("chalicelib.authorizer.verifier.time", PerfCounter(100.25))  # the decision is logged
    logs.configure("INFO")
    answer(rest_token(arn_of("prod", "GET", "/intelligence/x"), f"Bearer {KEYS['ic_viewer']}"))
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["outcome"], line["latency_ms"], line["DecisionLatency"]) == ("allow", 250.0, 250.0)


@pytest.mark.parametrize("kind", ["rest_token", "http_api_v2_simple"])
def test_an_error_while_answering_fails_closed_as_api_gateway_expects(kind, capsys, monkeypatch):
    """The key was good, but the answer could not be built: REST gets the 401 raised, an HTTP API
    simple answer ``false`` (a raise would be its 500), and the log says which error it was."""

    def broken(self: Any) -> dict[str, str]:
        raise RuntimeError("the context could not be built")

    monkeypatch.setattr("chalicelib.authorizer.verifier.Decision.context", broken)
    logs.configure("INFO")
    arn = arn_of("prod", "GET", "/intelligence/x")
    token = f"Bearer {KEYS['ic_viewer']}"
    if kind == "rest_token":
        with pytest.raises(Exception) as refused:  # noqa: PT011 - exactly API Gateway's 401 contract
            answer(rest_token(arn, token))
        assert (type(refused.value), refused.value.args) == (Exception, ("Unauthorized",))
    else:
        event = http_v2(arn, token, method="GET", raw_path="/intelligence/x")
        assert answer(event, SIMPLE) == {"isAuthorized": False}
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [(line["face"], line["outcome"], line["reason"]) for line in lines] == [
        ("gateway", "allow", "ok"), ("gateway", "unauthorized", "error:RuntimeError"),
    ]  # fmt: skip


@pytest.mark.parametrize("event_of", [rest_token, rest_request], ids=["token", "request"])
def test_a_rest_api_meters_a_key_on_a_plan_by_its_gateway_key_whichever_event_it_sends(event_of):
    """A REST API whose key source is AUTHORIZER meters and throttles by ``usageIdentifierKey``:
    TOKEN and REQUEST authorizers alike name the key's API Gateway key."""
    on_plan = _table.add(roles=("ic_viewer",), gateway_key_value="gw-key-value-0001")
    arn = arn_of("prod", "GET", "intelligence/reports")
    assert answer(event_of(arn, f"Bearer {on_plan}"))["usageIdentifierKey"] == "gw-key-value-0001"
    assert "usageIdentifierKey" not in answer(event_of(arn, f"Bearer {KEYS['ic_viewer']}"))
