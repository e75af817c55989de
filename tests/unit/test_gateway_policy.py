"""What API Gateway receives from the gateway authorizer, judged as IAM and API Gateway judge it.

Events are the samples of ``tests/events`` (the shapes AWS documents), driven through
``handle_gateway_event``; the policy is evaluated with IAM's rules: an explicit Deny wins, else an
Allow is needed, ``*`` matches any characters (``/`` included) and ``?`` one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.authorizer.gateway import handle_gateway_event
from chalicelib.authorizer.policy import DEFAULT_ROUTE_MAP, RouteMap, RouteMapError
from chalicelib.authorizer.verifier import Verifier
from chalicelib.keys import format as key_format
from chalicelib.keys.records import ACTIVE, KeyRecord
from chalicelib.roles.catalog import BUILTIN_ROLES
from tests.iam import iam_allows

EVENTS = Path(__file__).resolve().parent.parent / "events"
PEPPER = key_format.Pepper("p1", b"k" * 32)
BASE = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
PATHS = ("/", "/intelligence", "/intelligence/reports/42", "/playbooks", "/playbooks/run/7", "/operations/a",
         "/apikeys", "/apikeys/x/revoke", "/other", "/intelligencex")  # fmt: skip


class Keys:
    def __init__(self) -> None:
        self.items: dict[str, KeyRecord] = {}

    def add(self, *roles: str) -> tuple[str, str]:
        parsed = key_format.generate("apk")
        self.items[parsed.key_id] = KeyRecord(
            key_id=parsed.key_id, community="demo", name="k", description="", roles=list(roles), status=ACTIVE,
            key_hash=key_format.hash_key(parsed.plaintext, PEPPER), pepper_id=PEPPER.id, hint="",
            created_at=datetime(2026, 1, 1, tzinfo=UTC), created_by="operator",
        )  # fmt: skip
        return parsed.key_id, parsed.plaintext


@pytest.fixture
def table() -> Keys:
    return Keys()


@pytest.fixture
def verifier(table: Keys) -> Verifier:
    return Verifier(
        table.items.get, key_prefix="apk", peppers=(PEPPER,), catalog=lambda community: BUILTIN_ROLES,
        clock=lambda: datetime(2026, 2, 1, tzinfo=UTC),
    )  # fmt: skip


def event(name: str, token: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text().replace("{token}", token))


def request_arn(method: str, path: str) -> str:
    return f"{BASE}/{method}/{path.lstrip('/')}"


# -- the IAM policy -------------------------------------------------------------------------------


def test_a_rest_token_event_gets_an_iam_policy_of_well_formed_statements(verifier, table):
    key_id, secret = table.add("ic_viewer")

    answer = handle_gateway_event(verifier, event("rest_token", secret))

    assert answer["principalId"] == key_id
    assert answer["context"] == {"key_id": key_id, "community": "demo", "roles": "ic_viewer",
                                 "permissions": "intelligence:read"}  # fmt: skip
    policy = answer["policyDocument"]
    assert policy["Version"] == "2012-10-17"
    assert policy["Statement"], "API Gateway refuses a policy without statements"
    for statement in policy["Statement"]:
        assert set(statement) == {"Action", "Effect", "Resource"}
        assert statement["Action"] == "execute-api:Invoke"
        assert statement["Effect"] in ("Allow", "Deny")
        assert all(resource.startswith(f"{BASE}/") for resource in statement["Resource"])
    assert iam_allows(policy, request_arn("GET", "/intelligence/reports/42"))


@pytest.mark.parametrize(
    "roles", [("ic_viewer",), ("ic_editor",), ("apikeys_admin",), ("playbooks_operator",), ("soc_analyst",),
              ("community_admin",), ("ic_viewer", "playbooks_operator")],
)  # fmt: skip
def test_the_policy_allows_exactly_the_routes_the_key_may_call(roles):
    route_map = RouteMap.from_pairs(DEFAULT_ROUTE_MAP)
    permissions = frozenset(p for role in roles for p in BUILTIN_ROLES[role].permissions)
    policy = route_map.policy(permissions, BASE)
    for method in METHODS:
        for path in PATHS:
            allowed, _ = route_map.allows(permissions, method, path)
            assert iam_allows(policy, request_arn(method, path)) is allowed, (roles, method, path)


def test_a_key_that_may_call_no_route_gets_one_deny_all_statement(verifier, table):
    _, secret = table.add("deleted_custom_role")  # a role name the catalog no longer has grants nothing

    policy = handle_gateway_event(verifier, event("rest_token", secret))["policyDocument"]

    assert policy["Statement"] == [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [f"{BASE}/*"]}]
    assert not any(iam_allows(policy, request_arn(m, p)) for m in METHODS for p in PATHS)


def test_any_as_a_method_means_every_method_spelt_out_one_by_one():
    route_map = RouteMap.from_pairs([("ANY /reports/*", "intelligence:read"), ("any /feeds", "intelligence:read")])
    for method in METHODS:
        assert route_map.allows(frozenset({"intelligence:read"}), method, "/reports/1") == (True, "ok")
        assert route_map.allows(frozenset({"intelligence:read"}), method, "/feeds") == (True, "ok")
    statements = route_map.policy(frozenset({"intelligence:read"}), BASE)["Statement"]
    [allow] = [statement for statement in statements if statement["Effect"] == "Allow"]
    assert sorted(allow["Resource"]) == sorted(
        [f"{BASE}/{m}/reports" for m in METHODS] + [f"{BASE}/{m}/reports/*" for m in METHODS]
        + [f"{BASE}/{m}/feeds" for m in METHODS]
    )  # fmt: skip


def test_head_is_a_read_and_options_is_unmapped_except_where_any_method_is():
    route_map = RouteMap.from_pairs(DEFAULT_ROUTE_MAP)
    reader = frozenset({"intelligence:read"})
    assert route_map.allows(reader, "HEAD", "/intelligence/x") == (True, "ok")
    assert route_map.allows(frozenset({"intelligence:write"}), "HEAD", "/intelligence/x") == (
        False, "lacks intelligence:read")  # fmt: skip
    assert route_map.allows(reader, "OPTIONS", "/intelligence/x") == (False, "unmapped route")
    assert route_map.allows(frozenset({"apikeys:manage"}), "OPTIONS", "/apikeys/x") == (True, "ok")
    assert route_map.allows(reader, "OPTIONS", "/apikeys/x") == (False, "lacks apikeys:manage")


@pytest.mark.parametrize(
    "spec",
    ["FETCH /x", "GET x", "GET /x?y=1", "GET /{id}", "GET /a b", "GET"],
)
def test_a_route_map_entry_it_cannot_understand_is_a_configuration_error(spec):
    with pytest.raises(RouteMapError):
        RouteMap.from_pairs([(spec, "intelligence:read")])


def test_a_route_map_with_an_unknown_permission_or_no_rule_is_a_configuration_error():
    with pytest.raises(RouteMapError, match="unknown permission"):
        RouteMap.from_pairs([("GET /x", "intelligence:admin")])
    with pytest.raises(RouteMapError):
        RouteMap.from_pairs([])


# -- reading the event ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arn",
    [
        "not-an-arn",
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test",  # no method
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123",
        "aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/intelligence/x",  # not an ARN
        "",
    ],
)
def test_a_malformed_method_arn_is_refused(verifier, table, arn):
    _, secret = table.add("community_admin")
    bad = {**event("rest_token", secret), "methodArn": arn}
    with pytest.raises(Exception, match="^Unauthorized$"):
        handle_gateway_event(verifier, bad)


def test_an_event_without_method_arn_is_refused(verifier, table):
    _, secret = table.add("community_admin")
    bad = event("rest_token", secret)
    del bad["methodArn"]
    with pytest.raises(Exception, match="^Unauthorized$"):
        handle_gateway_event(verifier, bad)


def test_http_api_reads_the_token_from_identity_source_when_no_authorization_header(verifier, table):
    key_id, secret = table.add("ic_viewer")
    payload = event("http_api_v2", secret)
    payload["headers"] = {"host": "abcdef123.execute-api.us-east-1.amazonaws.com"}

    answer = handle_gateway_event(verifier, payload)

    assert answer["isAuthorized"] is True and answer["context"]["key_id"] == key_id
    payload["identitySource"] = []
    assert handle_gateway_event(verifier, payload) == {"isAuthorized": False}


def test_the_authorization_header_is_found_whatever_its_case(verifier, table):
    """With no identity source in the event, the header is read, whatever the case of its name."""
    key_id, secret = table.add("ic_viewer")
    payload = event("http_api_v2", "none")
    del payload["identitySource"]
    payload["headers"] = {"AUTHORIZATION": f"Bearer {secret}"}
    assert handle_gateway_event(verifier, payload)["context"]["key_id"] == key_id


def test_the_identity_source_api_gateway_sends_wins_over_a_header(verifier, table):
    """The identity source is what the API's owner configured; a header beside it is not read."""
    _, secret = table.add("ic_viewer")
    payload = event("http_api_v2", "none")
    payload["identitySource"] = ["Bearer apk_wrong"]
    payload["headers"] = {"AUTHORIZATION": f"Bearer {secret}"}
    assert handle_gateway_event(verifier, payload) == {"isAuthorized": False}


def test_http_api_simple_answer_follows_the_route(verifier, table):
    _, reader = table.add("ic_viewer")
    _, operator = table.add("playbooks_operator")
    assert handle_gateway_event(verifier, event("http_api_v2", reader))["isAuthorized"] is True
    refused = handle_gateway_event(verifier, event("http_api_v2", operator))
    assert refused["isAuthorized"] is False
    assert refused["context"]["permissions"] == "playbooks:read,playbooks:run"
    assert handle_gateway_event(verifier, event("http_api_v2", "apk_bad")) == {"isAuthorized": False}
