"""A key's allowed networks over HTTP on moto: set on create, changed by an edit, shown in the view,
refused in words naming ``allowed_cidrs`` with nothing written, and enforced by both faces: the
standalone authorizer on the sample events of tests/events (the address API Gateway reports, never
a header), and this app's routes on the request's own address (chalice's local gateway reports
127.0.0.1, as ``chalice local`` does)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import wiring
from tests.conftest import as_json, bearer, make_key

BASE = "/communities/demo/apikeys"
EVENTS = Path(__file__).resolve().parent.parent / "events"
REPORTED = "192.0.2.10"  # the sourceIp of every sample event


def _create(client: Any, secret: str, **body: Any) -> Any:
    body = {"name": "Feed", "roles": ["ic_viewer"], **body}
    return client.http.post(BASE, headers=bearer(secret), body=as_json(body))


def _patch(client: Any, secret: str, key_id: str, body: Any) -> Any:
    return client.http.patch(f"{BASE}/{key_id}", headers=bearer(secret), body=as_json(body))


def _item(key_id: str) -> dict[str, Any]:
    table = wiring.store().models.ApiKey.Meta.table_name
    return dict(boto3.client("dynamodb").get_item(TableName=table, Key={"key_id": {"S": key_id}})["Item"])


def _trail() -> list[Any]:
    events, _ = wiring.store().list_events("demo", None, 100, None)
    return list(events)


# -- the management API --------------------------------------------------------------------------------


def test_a_key_keeps_the_networks_it_was_created_with_in_their_canonical_form(client, admin):
    _, secret = admin
    created = _create(client, secret, allowed_cidrs=["2001:DB8::/32", "203.0.113.0/24", "192.0.2.7"])

    assert created.status_code == 201, created.body
    canonical = ["2001:db8::/32", "203.0.113.0/24", "192.0.2.7/32"]
    key_id = created.json_body["api_key"]["id"]
    assert created.json_body["api_key"]["allowed_cidrs"] == canonical
    assert client.http.get(f"{BASE}/{key_id}", headers=bearer(secret)).json_body["allowed_cidrs"] == canonical
    listed = client.http.get(BASE, headers=bearer(secret)).json_body["items"]
    assert [k["allowed_cidrs"] for k in listed if k["id"] == key_id] == [canonical]
    assert wiring.key_reader().get(key_id).allowed_cidrs == canonical  # what the authorizer reads
    [create] = [event for event in _trail() if event.key_id == key_id]
    assert create.details["allowed_cidrs"] == canonical


@pytest.mark.parametrize("given", [{}, {"allowed_cidrs": None}, {"allowed_cidrs": []}])
def test_an_unrestricted_key_shows_an_empty_list_and_its_item_has_no_such_attribute(client, admin, given):
    created = _create(client, admin[1], **given)
    assert created.status_code == 201, created.body
    assert created.json_body["api_key"]["allowed_cidrs"] == []
    assert "allowed_cidrs" not in _item(created.json_body["api_key"]["id"])


def test_an_edit_changes_the_list_and_null_or_an_empty_list_lifts_it(client, admin):
    _, secret = admin
    key_id = _create(client, secret).json_body["api_key"]["id"]

    restricted = _patch(client, secret, key_id, {"allowed_cidrs": ["10.0.0.0/8", "2001:DB8::/32"]})
    assert restricted.status_code == 200, restricted.body
    assert restricted.json_body["changed"] == ["allowed_cidrs"]
    assert restricted.json_body["allowed_cidrs"] == ["10.0.0.0/8", "2001:db8::/32"]
    assert [n["S"] for n in _item(key_id)["allowed_cidrs"]["L"]] == ["10.0.0.0/8", "2001:db8::/32"]

    # The same networks in another order: a set, nothing written.
    version = wiring.store().get(key_id).version
    same = _patch(client, secret, key_id, {"allowed_cidrs": ["2001:db8::/32", "10.0.0.0/8"]})
    assert same.status_code == 200 and same.json_body["changed"] == []
    assert wiring.store().get(key_id).version == version

    for lifted in (None, []):
        _patch(client, secret, key_id, {"allowed_cidrs": ["10.0.0.0/8"]})
        answer = _patch(client, secret, key_id, {"allowed_cidrs": lifted})
        assert answer.status_code == 200 and answer.json_body["allowed_cidrs"] == []
        assert "allowed_cidrs" not in _item(key_id)
    edits = [e.details for e in reversed(_trail()) if e.key_id == key_id and e.action == "edit"]  # oldest first
    assert edits[0] == {"before": {"allowed_cidrs": []}, "after": {"allowed_cidrs": ["10.0.0.0/8", "2001:db8::/32"]}}
    assert edits[-1] == {"before": {"allowed_cidrs": ["10.0.0.0/8"]}, "after": {"allowed_cidrs": []}}


NOT_A_LIST = 'must be a list of networks in CIDR form, e.g. ["203.0.113.0/24", "2001:db8::/32"], or null'
REFUSED = [
    ("10.0.0.0/8", NOT_A_LIST),
    ([167772160], NOT_A_LIST),
    ({"cidr": "10.0.0.0/8"}, NOT_A_LIST),
    (["10.0.0.1/8"], "'10.0.0.1/8' has host bits set; the network is 10.0.0.0/8"),
    (["10.0.0.0/33"], "'10.0.0.0/33': an IPv4 prefix is at most /32"),
    (["2001:db8::/129"], "'2001:db8::/129': an IPv6 prefix is at most /128"),
    (["intranet"], "'intranet' is not a network in CIDR form, e.g. 203.0.113.0/24 or 2001:db8::/32"),
    (["10.0.0.0/8", "10.0.0.0/08"], "'10.0.0.0/08' repeats 10.0.0.0/8"),
    ([f"10.{n}.0.0/16" for n in range(21)], "at most 20 networks, not 21"),
]  # fmt: skip


@pytest.mark.parametrize(("value", "message"), REFUSED)
def test_a_bad_list_is_refused_naming_allowed_cidrs_and_nothing_is_written(client, admin, value, message):
    _, secret = admin
    key_id = _create(client, secret, allowed_cidrs=["203.0.113.0/24"]).json_body["api_key"]["id"]

    def state() -> tuple[Any, ...]:
        listed = client.http.get(BASE, headers=bearer(secret)).json_body["items"]
        return wiring.store().get(key_id), len(_trail()), len(listed)

    before = state()
    created = _create(client, secret, allowed_cidrs=value)
    edited = _patch(client, secret, key_id, {"allowed_cidrs": value})
    for answer in (created, edited):
        assert answer.status_code == 400, answer.body
        expected = {"Code": "BadRequestError", "Message": f"allowed_cidrs: {message}", "Field": "allowed_cidrs"}
        assert answer.json_body == expected
    assert state() == before


def test_twenty_networks_are_accepted(client, admin):
    twenty = [f"10.{n}.0.0/16" for n in range(20)]
    created = _create(client, admin[1], allowed_cidrs=twenty)
    assert created.status_code == 201 and created.json_body["api_key"]["allowed_cidrs"] == twenty


def test_a_rotation_keeps_the_networks(client, admin):
    _, secret = admin
    key_id = _create(client, secret, allowed_cidrs=["203.0.113.0/24"]).json_body["api_key"]["id"]
    rotated = client.http.post(f"{BASE}/{key_id}/rotate", headers=bearer(secret), body=as_json({"grace": "1h"}))
    assert rotated.status_code == 201, rotated.body
    assert rotated.json_body["api_key"]["allowed_cidrs"] == ["203.0.113.0/24"]
    assert wiring.key_reader().get(rotated.json_body["api_key"]["id"]).allowed_cidrs == ["203.0.113.0/24"]


# -- the standalone authorizer, on the sample events ---------------------------------------------------


def _event(name: str, token: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text().replace("{token}", token))
    event["headers"]["X-Forwarded-For"] = "203.0.113.5"  # what a caller writes: never read for this
    return event


def _allowed(client: Any, payload: dict[str, Any]) -> bool:
    try:
        answer = client.lambda_.invoke("gateway_authorizer", payload).payload
    except Exception as error:  # noqa: BLE001 - API Gateway's 401
        assert type(error) is Exception and str(error) == "Unauthorized"
        return False
    if "isAuthorized" in answer:
        return bool(answer["isAuthorized"])
    return any(s["Effect"] == "Allow" for s in answer["policyDocument"]["Statement"])


def _decisions(capsys: Any) -> list[dict[str, Any]]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"event":"authorizer.decision"')]


# Each sample event with a route the role may call, and where the event keeps its address.
SAMPLES = [
    ("rest_request", "ic_editor", ("requestContext", "identity")),
    ("http_api_v1", "playbooks_operator", ("requestContext", "identity")),
    ("http_api_v2", "ic_viewer", ("requestContext", "http")),
]


@pytest.mark.parametrize(("name", "role", "where"), SAMPLES)
def test_the_standalone_authorizer_lets_a_restricted_key_in_only_from_its_networks(client, capsys, name, role, where):
    inside_id, inside = make_key(roles=(role,), allowed_cidrs=["192.0.2.0/24"])
    outside_id, outside = make_key(roles=(role,), allowed_cidrs=["203.0.113.0/24"])
    _decisions(capsys)

    assert _allowed(client, _event(name, inside))
    assert not _allowed(client, _event(name, outside))  # X-Forwarded-For names one of its networks: not read
    console = _event(name, inside)
    console[where[0]][where[1]]["sourceIp"] = "test-invoke-source-ip"
    assert not _allowed(client, console)

    lines = _decisions(capsys)
    assert [(d["key_id"], d["outcome"], d["reason"]) for d in lines] == [
        (inside_id, "allow", "ok"),
        (outside_id, "unauthorized", "address not allowed"),
        (inside_id, "unauthorized", "address not allowed"),
    ]
    assert wiring.store().get(outside_id).last_used_at is None  # a refused request is no use of the key


def test_a_restricted_key_in_a_token_event_is_refused_with_the_same_401(client, capsys):
    _, unrestricted = make_key(roles=("ic_viewer",))
    key_id, restricted = make_key(roles=("ic_viewer",), allowed_cidrs=["0.0.0.0/0", "::/0"])
    _decisions(capsys)
    token = json.loads((EVENTS / "rest_token.json").read_text().replace("{token}", restricted))
    assert not _allowed(client, token)
    assert _allowed(client, json.loads((EVENTS / "rest_token.json").read_text().replace("{token}", unrestricted)))
    assert [(d["key_id"], d["reason"]) for d in _decisions(capsys)][0] == (key_id, "no source address")


def test_the_restricted_keys_context_names_its_networks(client):
    key_id, secret = make_key(roles=("ic_editor",), allowed_cidrs=["192.0.2.0/24", "2001:db8::/32"])
    answer = client.lambda_.invoke("gateway_authorizer", _event("rest_request", secret)).payload
    assert answer["context"]["key_id"] == key_id
    assert answer["context"]["allowed_cidrs"] == "192.0.2.0/24,2001:db8::/32"


# -- this app's own routes ------------------------------------------------------------------------------


FORBIDDEN = "this API key may not be used from this address (see its allowed_cidrs)"


def test_this_apps_routes_let_a_restricted_key_in_from_its_networks_only(client):
    """chalice's local gateway (``chalice.test``, ``chalice local``) reports 127.0.0.1."""
    _, local = make_key(allowed_cidrs=["127.0.0.1/32"])
    _, elsewhere = make_key(allowed_cidrs=["203.0.113.0/24"])
    forged = {"X-Forwarded-For": "203.0.113.5", "X-Real-IP": "203.0.113.5"}

    for path in ("/whoami", "/roles", "/vaults", "/plans", BASE, f"{BASE}?status=active"):
        assert client.http.get(path, headers=bearer(local)).status_code == 200, path
        refused = client.http.get(path, headers={**bearer(elsewhere), **forged})
        assert refused.status_code == 403, path
        assert refused.json_body == {"Code": "ForbiddenError", "Message": FORBIDDEN}

    # Nor can it change anything from there.
    created = client.http.post(BASE, headers=bearer(elsewhere), body=as_json({"name": "x", "roles": ["ic_viewer"]}))
    assert created.status_code == 403
    assert [k["name"] for k in client.http.get(BASE, headers=bearer(local)).json_body["items"]] == ["fixture key"] * 2
