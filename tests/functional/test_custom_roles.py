"""A community's custom roles over HTTP: CRUD, what keys holding them may do, the guards."""

from __future__ import annotations

import pytest

from tests.conftest import as_json, bearer, make_key

ROLES = "/communities/demo/roles"


def create_role(client, secret, **body):
    return client.http.post(ROLES, headers=bearer(secret), body=as_json(body))


def test_create_list_edit_delete(client, admin):
    _, secret = admin
    created = create_role(client, secret, name="hunter", description="Threat hunter",
                          permissions=["intelligence:read", "operations:read"])  # fmt: skip
    assert created.status_code == 201, created.body
    assert created.json_body["builtin"] is False and created.json_body["created_by"].startswith("key:")

    listed = client.http.get(ROLES, headers=bearer(secret)).json_body["items"]
    names = [role["name"] for role in listed]
    assert "community_admin" in names and "hunter" in names
    catalog = client.http.get("/roles", headers=bearer(secret)).json_body["items"]
    assert "hunter" in [role["name"] for role in catalog]

    edited = client.http.patch(
        f"{ROLES}/hunter", headers=bearer(secret), body=as_json({"permissions": ["intelligence:read"]})
    )
    assert edited.status_code == 200 and edited.json_body["permissions"] == ["intelligence:read"]

    deleted = client.http.delete(f"{ROLES}/hunter", headers=bearer(secret))
    assert deleted.status_code == 204
    listed = client.http.get(ROLES, headers=bearer(secret)).json_body["items"]
    assert "hunter" not in [role["name"] for role in listed]
    assert client.http.delete(f"{ROLES}/hunter", headers=bearer(secret)).status_code == 404


def test_keys_get_the_roles_permissions_and_follow_its_edits(client, admin):
    _, secret = admin
    create_role(client, secret, name="hunter", permissions=["intelligence:read"])
    key = client.http.post("/communities/demo/apikeys", headers=bearer(secret),
                           body=as_json({"name": "hunting", "roles": ["hunter"]}))  # fmt: skip
    assert key.status_code == 201, key.body
    hunter_secret = key.json_body["secret"]
    assert client.http.get("/whoami", headers=bearer(hunter_secret)).json_body["permissions"] == ["intelligence:read"]

    client.http.patch(f"{ROLES}/hunter", headers=bearer(secret), body=as_json({"permissions": ["playbooks:read"]}))

    assert client.http.get("/whoami", headers=bearer(hunter_secret)).json_body["permissions"] == ["playbooks:read"]


def test_a_role_still_granted_cannot_be_deleted(client, admin):
    _, secret = admin
    create_role(client, secret, name="hunter", permissions=["intelligence:read"])
    holder = client.http.post("/communities/demo/apikeys", headers=bearer(secret),
                              body=as_json({"name": "hunting", "roles": ["hunter"]})).json_body["api_key"]  # fmt: skip

    refused = client.http.delete(f"{ROLES}/hunter", headers=bearer(secret))

    assert refused.status_code == 409
    assert refused.json_body["keys"] == [{"id": holder["id"], "name": "hunting"}]
    assert holder["id"] in refused.json_body["Message"]
    # Once the key no longer holds it (revoked), the role can go.
    client.http.post(f"/communities/demo/apikeys/{holder['id']}/revoke", headers=bearer(secret))
    assert client.http.delete(f"{ROLES}/hunter", headers=bearer(secret)).status_code == 204


def test_a_role_cannot_grant_what_its_author_lacks(client):
    _, manager_secret = make_key(roles=("apikeys_admin",))

    refused = create_role(client, manager_secret, name="reader", permissions=["intelligence:read"])
    assert refused.status_code == 403 and "intelligence:read" in refused.json_body["Message"]

    allowed = create_role(client, manager_secret, name="manager", permissions=["apikeys:manage"])
    assert allowed.status_code == 201
    widened = client.http.patch(f"{ROLES}/manager", headers=bearer(manager_secret),
                                body=as_json({"permissions": ["apikeys:manage", "playbooks:run"]}))  # fmt: skip
    assert widened.status_code == 403


def test_managing_roles_needs_apikeys_manage_and_the_own_community(client, admin):
    _, viewer_secret = make_key(roles=("ic_viewer",))
    assert client.http.get(ROLES, headers=bearer(viewer_secret)).status_code == 403
    assert create_role(client, viewer_secret, name="x1", permissions=["intelligence:read"]).status_code == 403
    _, other_secret = make_key(community="other")
    assert client.http.get(ROLES, headers=bearer(other_secret)).status_code == 404


def test_roles_are_per_community(client, admin):
    _, secret = admin
    create_role(client, secret, name="hunter", permissions=["intelligence:read"])
    _, other_secret = make_key(community="other")

    names = [
        r["name"] for r in client.http.get("/communities/other/roles", headers=bearer(other_secret)).json_body["items"]
    ]
    assert "hunter" not in names
    refused = client.http.post("/communities/other/apikeys", headers=bearer(other_secret),
                               body=as_json({"name": "x", "roles": ["hunter"]}))  # fmt: skip
    assert refused.status_code == 400 and refused.json_body["Message"].startswith("roles")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "A b", "permissions": ["intelligence:read"]}, "name"),
        ({"permissions": ["intelligence:read"]}, "name"),
        ({"name": "reader", "permissions": []}, "permissions"),
        ({"name": "reader", "permissions": ["intelligence:fly"]}, "permissions"),
        ({"name": "reader", "permissions": "intelligence:read"}, "permissions"),
        ({"name": "reader", "permissions": ["intelligence:read"], "color": "red"}, "color"),
        ({"name": "reader", "permissions": ["intelligence:read"], "description": 3}, "description"),
    ],
)
def test_bad_bodies_name_the_field_and_write_nothing(client, admin, body, field):
    _, secret = admin

    answer = create_role(client, secret, **body)

    assert answer.status_code == 400 and answer.json_body["Message"].startswith(field), answer.body
    listed = client.http.get(ROLES, headers=bearer(secret)).json_body["items"]
    assert all(role["builtin"] for role in listed)


def test_names_are_unique_and_builtins_fixed(client, admin):
    _, secret = admin
    assert create_role(client, secret, name="hunter", permissions=["intelligence:read"]).status_code == 201
    assert create_role(client, secret, name="hunter", permissions=["intelligence:read"]).status_code == 409
    assert create_role(client, secret, name="ic_viewer", permissions=["intelligence:read"]).status_code == 409
    assert client.http.delete(f"{ROLES}/ic_viewer", headers=bearer(secret)).status_code == 409
    patched = client.http.patch(f"{ROLES}/nobody", headers=bearer(secret), body=as_json({"description": "x"}))
    assert patched.status_code == 404


def test_role_changes_are_in_the_community_trail(client, admin):
    _, secret = admin
    create_role(client, secret, name="hunter", permissions=["intelligence:read"])
    client.http.patch(f"{ROLES}/hunter", headers=bearer(secret), body=as_json({"permissions": ["playbooks:read"]}))

    events = client.http.get("/communities/demo/events", headers=bearer(secret)).json_body["items"]

    role_events = [(e["action"], e["key_id"]) for e in events if e["key_id"].startswith("role:")]
    assert role_events == [("role_edit", "role:hunter"), ("role_create", "role:hunter")]
    edit = next(e for e in events if e["action"] == "role_edit")
    assert edit["details"] == {
        "before": {"permissions": ["intelligence:read"]},
        "after": {"permissions": ["playbooks:read"]},
    }


def test_a_roles_holders_are_its_active_keys_in_grace_or_not_and_its_pending_ones(client, admin):
    """What DynamoDB finds as holders (deleting is refused naming them): active keys, a key in its
    rotation grace period and its successor, a pending key; never a revoked key, nor another
    community's key holding a role of the same name."""
    from chalicelib import wiring
    from chalicelib.clock import utcnow
    from chalicelib.keys.records import PENDING
    from chalicelib.roles.caller import Caller
    from chalicelib.trail import Event

    _, secret = admin
    for community in ("demo", "other"):
        wiring.custom_roles().create(
            Caller.operator(community), community, {"name": "hunter", "permissions": ["intelligence:read"]}
        )
    active_id, _ = make_key(name="active", roles=("hunter", "ic_viewer"))
    in_grace_id, _ = make_key(name="in grace", roles=("hunter",))
    rotated = client.http.post(f"/communities/demo/apikeys/{in_grace_id}/rotate", headers=bearer(secret),
                               body=as_json({"grace": "7d"}))  # fmt: skip
    successor_id = rotated.json_body["api_key"]["id"]
    pending_id, _ = make_key(name="pending", roles=("hunter",))
    store = wiring.store()
    others = [make_key(community="other", name="elsewhere", roles=("hunter",))[0], make_key(name="viewer")[0]]
    for key_id in (pending_id, *others):  # pending keys are found apart: one of each kind
        record = store.get(key_id)
        store.update(record, {"status": PENDING}, Event(record.community, key_id, "edit", "operator", utcnow()))
    revoked_id, _ = make_key(name="revoked", roles=("hunter",))
    client.http.post(f"/communities/demo/apikeys/{revoked_id}/revoke", headers=bearer(secret), body=b"")
    make_key(community="other", name="elsewhere", roles=("hunter",))
    make_key(name="not a holder", roles=("ic_viewer",))

    answer = client.http.delete(f"{ROLES}/hunter", headers=bearer(secret))

    assert answer.status_code == 409, answer.body
    held = {key["id"] for key in answer.json_body["keys"]}
    assert held == {active_id, in_grace_id, successor_id, pending_id}


def test_a_weaker_key_is_refused_a_role_a_stronger_key_holds_and_the_refusal_names_it(client, admin):
    """The reported hole, over HTTP: keymgr = [apikeys:manage]; S = [keymgr, soc_analyst];
    H = [apikeys_admin, ic_viewer] may not narrow keymgr (S would lose apikeys:manage)."""
    _, secret = admin
    create_role(client, secret, name="keymgr", permissions=["apikeys:manage"])
    strong_id, strong_secret = make_key(name="S", roles=("keymgr", "soc_analyst"))
    _, weak_secret = make_key(name="H", roles=("apikeys_admin", "ic_viewer"))

    edited = client.http.patch(f"{ROLES}/keymgr", headers=bearer(weak_secret),
                               body=as_json({"permissions": ["intelligence:read"]}))  # fmt: skip
    deleted = client.http.delete(f"{ROLES}/keymgr", headers=bearer(weak_secret))

    message = f"this key lacks permissions the key {strong_id} holds: operations:read, operations:write"
    assert (edited.status_code, edited.json_body["Message"]) == (403, message)
    assert (deleted.status_code, deleted.json_body["Message"]) == (403, message)
    whoami = client.http.get("/whoami", headers=bearer(strong_secret)).json_body
    assert "apikeys:manage" in whoami["permissions"]
