from tests.conftest import as_json, bearer


def test_admin_creates_lists_and_revokes(client, admin):
    _, secret = admin
    created = client.http.post(
        "/communities/demo/apikeys",
        headers=bearer(secret),
        body=as_json({"name": "Threat intel feed", "roles": ["ic_viewer"]}),
    )
    assert created.status_code == 201, created.body
    key = created.json_body["api_key"]
    listed = client.http.get("/communities/demo/apikeys?search=intel%20feed", headers=bearer(secret))
    assert [item["id"] for item in listed.json_body["items"]] == [key["id"]]
    revoked = client.http.post(f"/communities/demo/apikeys/{key['id']}/revoke", headers=bearer(secret))
    assert revoked.json_body["status"] == "revoked"
    refused = client.http.get("/whoami", headers=bearer(created.json_body["secret"]))
    assert refused.status_code == 401
