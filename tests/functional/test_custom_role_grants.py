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
