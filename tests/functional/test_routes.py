"""Every management route through chalice.test.Client against moto, with its bad inputs."""

import json
from datetime import UTC

import pytest

from tests.conftest import as_json, bearer, make_key

BASE = "/communities/demo/apikeys"


def post(client, path, secret, body, **headers):
    raw = body if isinstance(body, str) else as_json(body)
    return client.http.post(path, headers={**bearer(secret), **headers}, body=raw)


def items(client, secret, query=""):
    response = client.http.get(f"{BASE}{query}", headers=bearer(secret))
    assert response.status_code == 200, response.body
    return response.json_body


def stored_state(client, secret):
    """What a reader sees of the community, to prove a refused write changed nothing."""
    from chalicelib import wiring

    models = wiring.store().models
    return (
        sorted(json.dumps(i["id"]) for i in items(client, secret)["items"]),
        models.KeyEvent.count("demo"),
    )


def test_roles_catalog(client, admin):
    response = client.http.get("/roles", headers=bearer(admin[1]))
    roles = {role["name"]: role for role in response.json_body["items"]}
    assert roles["ic_viewer"]["description"] == "Intelligence Center Read-Only"
    assert roles["ic_viewer"]["permissions"] == ["intelligence:read"]
    assert "apikeys:manage" in roles["community_admin"]["permissions"]


def test_whoami_describes_the_calling_key(client, admin):
    key_id, secret = admin
    body = client.http.get("/whoami", headers=bearer(secret)).json_body
    assert body["id"] == key_id and body["community"] == "demo"
    assert "apikeys:manage" in body["permissions"]
    assert secret not in json.dumps(body)


def test_full_lifecycle_over_http(client, admin):
    _, secret = admin
    created = post(client, BASE, secret, {"name": "Intel feed", "description": "for the SIEM", "roles": ["ic_viewer"]})
    assert created.status_code == 201
    assert created.headers.get("Cache-Control") == "no-store"
    key, key_secret = created.json_body["api_key"], created.json_body["secret"]
    assert key["status"] == "active" and key["created_by"].startswith("key:")
    assert key_secret.startswith("apk_") and key["hint"] == key_secret[:10] + "…"
    assert set(key) >= {"id", "name", "description", "roles", "status", "created_at", "created_by", "revoked_at",
                        "revoked_by", "expires_at", "last_used_at", "hint"}  # fmt: skip
    assert "key_hash" not in key and "secret" not in key

    fetched = client.http.get(f"{BASE}/{key['id']}", headers=bearer(secret)).json_body
    assert fetched["name"] == "Intel feed" and "secret" not in fetched
    assert client.http.get("/whoami", headers=bearer(key_secret)).json_body["permissions"] == ["intelligence:read"]

    assert [i["id"] for i in items(client, secret, "?search=SIEM")["items"]] == [key["id"]]
    assert [i["id"] for i in items(client, secret, f"?search={key['id'][:8].lower()}")["items"]] == [key["id"]]

    patched = client.http.patch(f"{BASE}/{key['id']}", headers=bearer(secret), body=as_json({"name": "Renamed"}))
    assert patched.status_code == 200 and patched.json_body["name"] == "Renamed"

    revoked = post(client, f"{BASE}/{key['id']}/revoke", secret, {"reason": "rotation"})
    assert revoked.status_code == 200 and revoked.json_body["status"] == "revoked"
    assert revoked.json_body["revoked_by"].startswith("key:")
    again = post(client, f"{BASE}/{key['id']}/revoke", secret, {})
    assert again.json_body == revoked.json_body
    assert client.http.get("/whoami", headers=bearer(key_secret)).status_code == 401
    edit_after = client.http.patch(f"{BASE}/{key['id']}", headers=bearer(secret), body=as_json({"name": "x"}))
    assert edit_after.status_code == 409

    assert [i["id"] for i in items(client, secret, "?status=revoked")["items"]] == [key["id"]]
    assert key["id"] not in [i["id"] for i in items(client, secret, "?status=active")["items"]]
    assert key["id"] in [i["id"] for i in items(client, secret, "?status=all")["items"]]


def test_list_pages_with_an_opaque_cursor(client, admin):
    _, secret = admin
    for index in range(5):
        post(client, BASE, secret, {"name": f"bulk {index}", "roles": ["ic_viewer"]})
    seen, cursor, pages = [], None, 0
    while True:
        page = items(client, secret, "?limit=2&search=bulk" + (f"&cursor={cursor}" if cursor else ""))
        seen += [i["name"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"bulk {i}" for i in reversed(range(5))]
    assert pages == 3


def test_idempotency_key_returns_the_first_key_and_never_a_second_secret(client, admin):
    _, secret = admin
    body = {"name": "Nightly build runner", "roles": ["ic_viewer"]}
    first = post(client, BASE, secret, body, **{"Idempotency-Key": "abc-123"})
    again = post(client, BASE, secret, body, **{"Idempotency-Key": "abc-123"})
    assert first.status_code == again.status_code == 201
    assert again.json_body["api_key"]["id"] == first.json_body["api_key"]["id"]
    assert again.json_body["replayed"] is True and "secret" not in again.json_body
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = post(client, BASE, secret, {"name": "other", "roles": ["ic_viewer"]}, **{"Idempotency-Key": "abc-123"})
    assert other.status_code == 422 and other.json_body["Code"] == "UnprocessableEntityError"
    # A search term no random 16-character key id can contain.
    assert len(items(client, secret, "?search=nightly%20build")["items"]) == 1


def test_expiry_preset_and_expired_keys_fail_auth(client, admin, monkeypatch):
    from datetime import datetime, timedelta

    _, secret = admin
    created = post(client, BASE, secret, {"name": "short", "roles": ["ic_viewer"], "expires_in_days": 30}).json_body
    expires = datetime.fromisoformat(created["api_key"]["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)

    from chalicelib import wiring

    later = datetime.now(UTC) + timedelta(days=31)
    monkeypatch.setattr(wiring.service(), "clock", lambda: later)
    monkeypatch.setattr(wiring.verifier(), "clock", lambda: later)
    assert client.http.get("/whoami", headers=bearer(created["secret"])).status_code == 401
    view = client.http.get(f"{BASE}/{created['api_key']['id']}", headers=bearer(secret)).json_body
    assert view["status"] == "expired"
    expired = items(client, secret, "?status=expired")["items"]
    assert [i["id"] for i in expired] == [created["api_key"]["id"]]


def test_access_rules(client, admin):
    _, secret = admin
    _, other_secret = make_key("other")
    _, viewer_secret = make_key("demo", ("ic_viewer",))
    _, keys_admin = make_key("demo", ("apikeys_admin",))
    mine = post(client, BASE, secret, {"name": "mine", "roles": ["ic_viewer"]}).json_body["api_key"]["id"]

    assert client.http.get(BASE).status_code == 401
    assert client.http.get(BASE, headers=bearer("apk_nope")).status_code == 401
    assert client.http.get(f"{BASE}/{mine}", headers=bearer(other_secret)).status_code == 404
    assert client.http.get(BASE, headers=bearer(other_secret)).status_code == 404
    assert client.http.get(BASE, headers=bearer(viewer_secret)).status_code == 403
    escalation = post(client, BASE, keys_admin, {"name": "x", "roles": ["ic_viewer"]})
    assert escalation.status_code == 403 and "intelligence:read" in escalation.json_body["Message"]
    assert post(client, BASE, keys_admin, {"name": "x", "roles": ["apikeys_admin"]}).status_code == 201
    assert client.http.get(f"{BASE}/AAAAAAAAAAAAAAAA", headers=bearer(secret)).status_code == 404
    assert client.http.get(f"{BASE}/not-an-id", headers=bearer(secret)).status_code == 404


LONG = "x" * 101
BAD_CREATE = [
    ({"name": "a", "roles": ["ic_viewer"], "id": "x"}, "id"),
    ({"name": "a", "roles": ["ic_viewer"], "status": "active"}, "status"),
    ({"name": "a", "roles": ["ic_viewer"], "community": "other"}, "community"),
    ({"name": "a", "roles": ["ic_viewer"], "key_hash": "00"}, "key_hash"),
    ({"name": "a", "roles": ["ic_viewer"], "created_by": "me"}, "created_by"),
    ({"name": "a", "roles": ["ic_viewer"], "secret": "apk_x"}, "secret"),
    ({"name": 5, "roles": ["ic_viewer"]}, "name"),
    ({"roles": ["ic_viewer"]}, "name"),
    ({"name": "", "roles": ["ic_viewer"]}, "name"),
    ({"name": "   ", "roles": ["ic_viewer"]}, "name"),
    ({"name": LONG, "roles": ["ic_viewer"]}, "name"),
    ({"name": "a", "description": "d" * 1001, "roles": ["ic_viewer"]}, "description"),
    ({"name": "a\x00b", "roles": ["ic_viewer"]}, "name"),
    ({"name": "a", "description": "line\x1b[31m", "roles": ["ic_viewer"]}, "description"),
    ({"name": "a", "description": 7, "roles": ["ic_viewer"]}, "description"),
    ({"name": "a", "roles": ["nope"]}, "roles"),
    ({"name": "a", "roles": ["ic_viewer", "ic_viewer"]}, "roles"),
    ({"name": "a", "roles": []}, "roles"),
    ({"name": "a", "roles": "ic_viewer"}, "roles"),
    ({"name": "a", "roles": [1]}, "roles"),
    ({"name": "a"}, "roles"),
    ({"name": "a", "roles": ["ic_viewer"], "expires_at": "next week"}, "expires_at"),
    ({"name": "a", "roles": ["ic_viewer"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ({"name": "a", "roles": ["ic_viewer"], "expires_at": "2999-01-01T00:00:00Z"}, "expires_at"),
    ({"name": "a", "roles": ["ic_viewer"], "expires_at": 12}, "expires_at"),
    ({"name": "a", "roles": ["ic_viewer"], "expires_at": "0001-01-01T00:00:00+02:04"}, "expires_at"),
    ({"name": "a", "roles": ["ic_viewer"], "expires_at": "9999-12-31T23:59:59-05:00"}, "expires_at"),
    ({"name": "a", "roles": ["ic_viewer"], "expires_in_days": 7}, "expires_in_days"),
    ({"name": "a", "roles": ["ic_viewer"], "vault": "somewhere"}, "vault"),
    ({"name": "a", "roles": ["ic_viewer"], "vault": {"target": "nowhere"}}, "vault.target"),
    ({"name": "a", "roles": ["ic_viewer"], "reveal": "no"}, "reveal"),
    ([1, 2], "body"),
    ("not json", "body"),
    ("", "body"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CREATE, ids=[f"{i}-{f}" for i, (_, f) in enumerate(BAD_CREATE)])
def test_bad_create_bodies_are_400_naming_the_field_and_write_nothing(client, admin, body, field):
    _, secret = admin
    before = stored_state(client, secret)
    response = post(client, BASE, secret, body)
    assert response.status_code == 400, response.body
    assert response.json_body["Code"] == "BadRequestError"
    assert response.json_body["Message"].startswith(f"{field}:"), response.json_body
    assert stored_state(client, secret) == before


BAD_EDIT = [
    ({"status": "active"}, "status"),
    ({"id": "x"}, "id"),
    ({"name": ""}, "name"),
    ({"name": None}, "name"),
    ({"description": "x" * 1001}, "description"),
    ({"roles": []}, "roles"),
    ({"roles": ["ghost"]}, "roles"),
    ({}, "body"),
    ("{", "body"),
]


@pytest.mark.parametrize(("body", "field"), BAD_EDIT)
def test_bad_edits_are_400_and_change_nothing(client, admin, body, field):
    _, secret = admin
    key = post(client, BASE, secret, {"name": "keep", "roles": ["ic_viewer"]}).json_body["api_key"]
    raw = body if isinstance(body, str) else as_json(body)
    response = client.http.patch(f"{BASE}/{key['id']}", headers=bearer(secret), body=raw)
    assert response.status_code == 400
    assert response.json_body["Message"].startswith(f"{field}:")
    after = client.http.get(f"{BASE}/{key['id']}", headers=bearer(secret)).json_body
    assert after == key


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?status=gone", "status"),
        ("?limit=0", "limit"),
        ("?limit=-1", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
        ("?cursor=forged", "cursor"),
        ("?sort=name", "sort"),
    ],
)
def test_bad_list_queries_are_400_naming_the_parameter(client, admin, query, field):
    response = client.http.get(f"{BASE}{query}", headers=bearer(admin[1]))
    assert response.status_code == 400
    assert response.json_body["Message"].startswith(f"{field}:")


def test_a_cursor_from_another_community_is_refused(client, admin):
    _, other_secret = make_key("other")
    for index in range(3):
        post(client, "/communities/other/apikeys", other_secret, {"name": f"o{index}", "roles": ["ic_viewer"]})
    cursor = client.http.get("/communities/other/apikeys?limit=1", headers=bearer(other_secret)).json_body
    response = client.http.get(f"{BASE}?limit=1&cursor={cursor['next_cursor']}", headers=bearer(admin[1]))
    assert response.status_code == 400 and response.json_body["Message"].startswith("cursor:")


def test_bad_revoke_body_is_400(client, admin):
    _, secret = admin
    key = post(client, BASE, secret, {"name": "keep", "roles": ["ic_viewer"]}).json_body["api_key"]
    response = post(client, f"{BASE}/{key['id']}/revoke", secret, {"why": "x"})
    assert response.status_code == 400 and response.json_body["Message"].startswith("why:")
    assert client.http.get(f"{BASE}/{key['id']}", headers=bearer(secret)).json_body["status"] == "active"


def test_every_change_is_audited_in_the_same_write(client, admin):
    from chalicelib import wiring

    _, secret = admin
    key = post(client, BASE, secret, {"name": "audited", "roles": ["ic_viewer"]}).json_body
    client.http.patch(f"{BASE}/{key['api_key']['id']}", headers=bearer(secret), body=as_json({"name": "a2"}))
    post(client, f"{BASE}/{key['api_key']['id']}/revoke", secret, {})
    events, _ = wiring.store().list_events("demo", key["api_key"]["id"], 10, None)
    assert [e.action for e in events] == ["revoke", "edit", "create"]
    assert key["secret"] not in json.dumps([e.view() for e in events])


@pytest.mark.parametrize(
    ("method", "path", "body", "answer"),
    [
        ("PATCH", "/communities/demo/roles/%2523x", {"description": "d"}, (404, "no such role")),
        ("DELETE", "/communities/demo/roles/100%25", None, (404, "no such role")),
        ("PATCH", "/communities/demo/roles/x%00", {"description": "d"}, (404, "no such role")),
        ("GET", "/communities/demo/apikeys/%2523x", None, (404, "no such API key")),
        ("GET", "/communities/demo/apikeys/abc%00", None, (404, "no such API key")),
    ],
)  # fmt: skip
def test_a_percent_sign_or_nul_in_the_path_reaches_the_route(client, admin, method, path, body, answer):
    """Only dot segments and encoded separators are refused before the route (401); a percent sign
    (``%25``) or NUL is the path's own text, and the route says what it makes of it."""
    response = client.http.request(method, path, headers=bearer(admin[1]), body=json.dumps(body) if body else b"")
    assert (response.status_code, response.json_body["Message"]) == answer


@pytest.mark.parametrize("path", ["/communities/demo/apikeys/%2e%2e", "/communities/demo/apikeys/a%2fb",
                                  "/communities/demo/apikeys/a%252fb", "/communities/demo/apikeys/a%5Cb"])  # fmt: skip
def test_a_dot_segment_or_an_encoded_separator_is_refused_before_the_route(client, admin, path):
    assert client.http.get(path, headers=bearer(admin[1])).status_code == 401
