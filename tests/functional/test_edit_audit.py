"""An edit records only what it changed: the audit trail of PATCH over HTTP, on moto's DynamoDB."""

from __future__ import annotations

from typing import Any

from chalicelib import wiring
from tests.conftest import as_json, bearer


def _create(client: Any, secret: str, **body: Any) -> dict[str, Any]:
    answer = client.http.post("/communities/demo/apikeys", headers=bearer(secret), body=as_json(body))
    assert answer.status_code == 201, answer.body
    return dict(answer.json_body["api_key"])


def _patch(client: Any, secret: str, key_id: str, body: dict[str, Any]) -> Any:
    return client.http.patch(f"/communities/demo/apikeys/{key_id}", headers=bearer(secret), body=as_json(body))


def _edits(client: Any, secret: str, key_id: str) -> list[dict[str, Any]]:
    answer = client.http.get(f"/communities/demo/apikeys/{key_id}/events", headers=bearer(secret))
    assert answer.status_code == 200, answer.body
    return [event["details"] for event in answer.json_body["items"] if event["action"] == "edit"]


def test_only_the_fields_whose_value_changed_are_recorded(client, admin):
    _, secret = admin
    key = _create(client, secret, name="SOC dashboard", description="old", roles=["ic_viewer"])

    # What a form sends when only the description was touched: every field, two of them unchanged.
    answer = _patch(client, secret, key["id"], {"name": "SOC dashboard", "description": "new", "roles": ["ic_viewer"]})

    assert answer.status_code == 200, answer.body
    assert answer.json_body["changed"] == ["description"]
    assert answer.json_body["description"] == "new"
    assert _edits(client, secret, key["id"]) == [{"before": {"description": "old"}, "after": {"description": "new"}}]


def test_an_edit_that_changes_nothing_records_nothing_and_says_so(client, admin):
    _, secret = admin
    key = _create(client, secret, name="Feed", description="d", roles=["ic_viewer", "playbooks_operator"])
    version = wiring.store().get(key["id"]).version

    # Same values, the roles named in another order: a key's roles are a set.
    same = {"name": "Feed", "description": "d", "roles": ["playbooks_operator", "ic_viewer"]}
    answer = _patch(client, secret, key["id"], same)

    assert answer.status_code == 200, answer.body
    assert answer.json_body["changed"] == []
    assert answer.json_body["roles"] == ["ic_viewer", "playbooks_operator"]
    assert _edits(client, secret, key["id"]) == []
    assert wiring.store().get(key["id"]).version == version  # nothing written either


def test_each_changed_field_is_recorded_once_with_its_old_and_new_value(client, admin):
    _, secret = admin
    key = _create(client, secret, name="CTI", roles=["ic_viewer"])

    answer = _patch(client, secret, key["id"], {"name": "CTI feed", "roles": ["ic_editor"]})

    assert answer.json_body["changed"] == ["name", "roles"]
    assert _edits(client, secret, key["id"]) == [
        {"before": {"name": "CTI", "roles": ["ic_viewer"]}, "after": {"name": "CTI feed", "roles": ["ic_editor"]}}
    ]
