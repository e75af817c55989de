"""Over HTTP: a key limited to managing keys cannot hand out a community's custom role that holds more."""

from __future__ import annotations

from tests.conftest import as_json, bearer, make_key

KEYS = "/communities/demo/apikeys"


def test_an_existing_custom_role_beyond_the_caller_is_refused_on_create_and_edit(client, admin):
    _, admin_secret = admin
    power = {"name": "power", "permissions": ["apikeys:manage", "operations:write"]}
    made = client.http.post("/communities/demo/roles", headers=bearer(admin_secret), body=as_json(power))
    assert made.status_code == 201, made.body
    _, limited = make_key(roles=("apikeys_admin",))

    refused = client.http.post(KEYS, headers=bearer(limited), body=as_json({"name": "up", "roles": ["power"]}))
    assert refused.status_code == 403 and "operations:write" in refused.json_body["Message"]

    own = client.http.post(KEYS, headers=bearer(limited), body=as_json({"name": "own", "roles": ["apikeys_admin"]}))
    assert own.status_code == 201, own.body
    key_id = own.json_body["api_key"]["id"]
    widened = client.http.patch(f"{KEYS}/{key_id}", headers=bearer(limited),
                                body=as_json({"roles": ["apikeys_admin", "power"]}))  # fmt: skip
    assert widened.status_code == 403
    after = client.http.get(f"{KEYS}/{key_id}", headers=bearer(admin_secret)).json_body
    assert after["roles"] == ["apikeys_admin"]
    names = [key["name"] for key in client.http.get(KEYS, headers=bearer(admin_secret)).json_body["items"]]
    assert "up" not in names


ROLES = "/communities/demo/roles"


def test_a_weaker_key_may_neither_edit_nor_delete_a_custom_role_holding_more(client, admin):
    """The refusal names the role and every permission the caller lacks; the role stays as it was."""
    _, admin_secret = admin
    power = {"name": "power", "permissions": ["apikeys:manage", "operations:write", "playbooks:run"]}
    assert client.http.post(ROLES, headers=bearer(admin_secret), body=as_json(power)).status_code == 201
    _, limited = make_key(roles=("apikeys_admin",))
    expected = "this key lacks permissions the role 'power' grants: operations:write, playbooks:run"

    narrowed = client.http.patch(f"{ROLES}/power", headers=bearer(limited),
                                 body=as_json({"permissions": ["apikeys:manage"]}))  # fmt: skip
    assert (narrowed.status_code, narrowed.json_body["Message"]) == (403, expected)
    deleted = client.http.delete(f"{ROLES}/power", headers=bearer(limited))
    assert (deleted.status_code, deleted.json_body["Message"]) == (403, expected)

    [role] = [
        r for r in client.http.get(ROLES, headers=bearer(admin_secret)).json_body["items"] if r["name"] == "power"
    ]
    assert sorted(role["permissions"]) == sorted(power["permissions"])


def test_role_refusals_say_what_the_caller_lacks(client, admin):
    _, limited = make_key(roles=("apikeys_admin",))
    wide = {"name": "wide", "permissions": ["apikeys:manage", "operations:write", "playbooks:run"]}
    refused = client.http.post(ROLES, headers=bearer(limited), body=as_json(wide))
    assert (refused.status_code, refused.json_body["Message"]) == (
        403, "permissions: granting them needs permissions this key lacks: operations:write, playbooks:run"
    )  # fmt: skip

    _, reader = make_key(roles=("ic_viewer",))
    narrow = {"name": "narrow", "permissions": ["intelligence:read"]}
    no_manage = client.http.post(ROLES, headers=bearer(reader), body=as_json(narrow))
    assert (no_manage.status_code, no_manage.json_body["Message"]) == (
        403, "this key lacks the apikeys:manage permission"
    )  # fmt: skip

    elsewhere = client.http.post("/communities/other/roles", headers=bearer(limited), body=as_json(narrow))
    assert (elsewhere.status_code, elsewhere.json_body["Message"]) == (404, "no such community")
