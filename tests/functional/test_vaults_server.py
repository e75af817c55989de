"""The same flow against moto in server mode on 127.0.0.1: every AWS call (DynamoDB, Secrets
Manager, SSM) crosses a real socket, found the standard way through AWS_ENDPOINT_URL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests import vault_fixtures
from tests.conftest import as_json, bearer, make_key
from tests.vault_fixtures import set_vault_targets, stored_secrets  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow

TARGETS = [
    {"name": "aws-secrets", "kind": "secretsmanager", "name_prefix": "apikeys/"},
    {"name": "params", "kind": "ssm", "path_prefix": "/apikeys/", "on_revoke": "mark"},
]

moto_endpoint = vault_fixtures.moto_endpoint


@pytest.fixture
def server_client(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    from chalice.test import Client

    from app import app

    set_vault_targets(monkeypatch, TARGETS)
    _, admin_secret = make_key()
    with Client(app) as client:
        yield client, admin_secret


@pytest.mark.parametrize("target", ["aws-secrets", "params"])
def test_create_read_back_and_revoke_over_the_wire(server_client, moto_endpoint, target):
    client, admin = server_client
    body = {"name": "CI", "roles": ["ic_viewer"], "vault": {"target": target}, "reveal": False}
    answer = client.http.post("/communities/demo/apikeys", headers=bearer(admin), body=as_json(body))
    assert answer.status_code == 201, answer.body
    assert "secret" not in answer.json_body
    key = answer.json_body["api_key"]
    if target == "aws-secrets":
        sm = boto3.client("secretsmanager", endpoint_url=moto_endpoint)
        secret = sm.get_secret_value(SecretId=key["vault"]["arn"])["SecretString"]
    else:
        ssm = boto3.client("ssm", endpoint_url=moto_endpoint)
        secret = ssm.get_parameter(Name=key["vault"]["path"], WithDecryption=True)["Parameter"]["Value"]
    assert client.http.get("/whoami", headers=bearer(secret)).json_body["id"] == key["id"]

    client.http.post(f"/communities/demo/apikeys/{key['id']}/revoke", headers=bearer(admin))
    assert client.http.get("/whoami", headers=bearer(secret)).status_code == 401
    left = stored_secrets(next(t for t in TARGETS if t["name"] == target))
    if target == "aws-secrets":
        assert left == {}  # deleted
    else:
        assert left[key["vault"]["path"]].startswith("REVOKED:")  # marked


def test_cli_sweep_fails_stuck_keys_and_deletes_their_secrets(server_client, moto_endpoint, monkeypatch):
    from chalicelib import cli, wiring
    from chalicelib.roles.caller import Caller

    service = wiring.service()
    real_update = service.store.update

    def die_before_activation(key: Any, changes: dict[str, Any], event: Any) -> Any:
        if changes.get("status") == "active":
            raise KeyboardInterrupt  # the process stops here
        return real_update(key, changes, event)

    monkeypatch.setattr(service.store, "update", die_before_activation)
    body = {"name": "stuck", "roles": ["ic_viewer"], "vault": {"target": "aws-secrets"}}
    with pytest.raises(KeyboardInterrupt):
        service.create(Caller.operator("demo"), "demo", body)
    monkeypatch.setattr(service.store, "update", real_update)
    assert len(stored_secrets(TARGETS[0])) == 1
    assert cli.main(["sweep", "--older-than", "0"]) == 0
    assert stored_secrets(TARGETS[0]) == {}
