"""Creating a key whose secret goes to AWS Secrets Manager or SSM Parameter Store (moto in-process),
read back with boto3; choices, paths, reveal, revoke, and a path someone else already uses."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.conftest import as_json, bearer
from tests.vault_fixtures import set_vault_targets, stored_secrets

SM = {"name": "aws-secrets", "kind": "secretsmanager", "name_prefix": "apikeys/"}
SSM = {"name": "params", "kind": "ssm", "path_prefix": "/apikeys/"}


@pytest.fixture
def vaulted(monkeypatch: pytest.MonkeyPatch, client: Any, admin: tuple[str, str]) -> Any:
    set_vault_targets(monkeypatch, [SM, {**SSM, "on_revoke": "mark"}])
    return client


def create(client: Any, secret: str, body: dict[str, Any], **headers: str) -> Any:
    body = {"name": "CI", "roles": ["ic_viewer"], **body}
    return client.http.post("/communities/demo/apikeys", headers={**bearer(secret), **headers}, body=as_json(body))


def test_vaults_lists_names_and_kinds_only(vaulted, admin):
    answer = vaulted.http.get("/vaults", headers=bearer(admin[1]))
    assert answer.status_code == 200
    assert answer.json_body["items"] == [
        {"name": "aws-secrets", "kind": "secretsmanager"},
        {"name": "params", "kind": "ssm"},
    ]


def test_secret_lands_in_secrets_manager_and_reads_back(vaulted, admin):
    answer = create(vaulted, admin[1], {"vault": {"target": "aws-secrets"}})
    assert answer.status_code == 201, answer.body
    key, secret = answer.json_body["api_key"], answer.json_body["secret"]
    assert key["status"] == "active"
    vault = key["vault"]
    assert vault["target"] == "aws-secrets" and vault["kind"] == "secretsmanager"
    assert vault["path"] == f"apikeys/demo/{key['id']}"
    assert vault["arn"].startswith("arn:aws:secretsmanager:") and vault["version"]
    stored = boto3.client("secretsmanager").get_secret_value(SecretId=vault["arn"])
    assert stored["SecretString"] == secret
    assert stored["VersionId"] == vault["version"]
    assert vaulted.http.get("/whoami", headers=bearer(secret)).json_body["id"] == key["id"]
    assert (
        secret not in vaulted.http.get(f"/communities/demo/apikeys/{key['id']}", headers=bearer(admin[1])).body.decode()
    )


def test_secret_lands_in_ssm_as_secure_string(vaulted, admin):
    answer = create(vaulted, admin[1], {"vault": {"target": "params", "path": "ci/deploy"}})
    assert answer.status_code == 201, answer.body
    vault = answer.json_body["api_key"]["vault"]
    assert vault["path"] == "/apikeys/demo/ci/deploy" and vault["version"] == 1
    parameter = boto3.client("ssm").get_parameter(Name=vault["path"], WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    assert parameter["Value"] == answer.json_body["secret"]


def test_reveal_false_keeps_the_secret_only_in_the_vault(vaulted, admin):
    answer = create(vaulted, admin[1], {"vault": {"target": "aws-secrets"}, "reveal": False})
    assert answer.status_code == 201, answer.body
    assert "secret" not in answer.json_body
    vault = answer.json_body["api_key"]["vault"]
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=vault["path"])["SecretString"]
    assert vaulted.http.get("/whoami", headers=bearer(secret)).status_code == 200


def test_kms_key_is_used_when_configured(monkeypatch, client, admin):
    kms_key = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
    set_vault_targets(monkeypatch, [{**SM, "kms_key_id": kms_key}, {**SSM, "kms_key_id": kms_key}])
    made = create(client, admin[1], {"vault": {"target": "aws-secrets"}})
    assert made.status_code == 201, made.body
    described = boto3.client("secretsmanager").describe_secret(SecretId=made.json_body["api_key"]["vault"]["arn"])
    assert described["KmsKeyId"] == kms_key
    made = create(client, admin[1], {"vault": {"target": "params"}})
    assert made.status_code == 201, made.body
    path = made.json_body["api_key"]["vault"]["path"]
    assert (
        boto3.client("ssm").get_parameter(Name=path, WithDecryption=True)["Parameter"]["Value"]
        == made.json_body["secret"]
    )


@pytest.mark.parametrize(
    ("target", "path", "words"),
    [
        ("aws-secrets", "../other/secret", "'..'"),
        ("aws-secrets", "a b", "may contain only"),
        ("aws-secrets", "x" * 600, "at most 512"),
        ("aws-secrets", "deploy-abc123", "six characters"),
        ("aws-secrets", "/absolute", "leading '/'"),
        ("aws-secrets", "folder/", "trailing '/'"),
        ("params", "a+b", "may contain only"),
        ("params", "/".join("d" * 16), "15 levels"),
        ("params", "a//b", "empty"),
    ],
)
def test_bad_paths_are_refused_and_nothing_is_written(vaulted, admin, target, path, words):
    answer = create(vaulted, admin[1], {"vault": {"target": target, "path": path}})
    assert answer.status_code == 400
    assert answer.json_body["Message"].startswith("vault.path:") and words in answer.json_body["Message"]
    listed = vaulted.http.get("/communities/demo/apikeys", headers=bearer(admin[1])).json_body["items"]
    assert len(listed) == 1  # the admin only
    assert stored_secrets(SM) == {} and stored_secrets(SSM) == {}


def test_unknown_target_names_the_field(vaulted, admin):
    answer = create(vaulted, admin[1], {"vault": {"target": "nowhere"}})
    assert answer.status_code == 400
    assert answer.json_body["Message"].startswith("vault.target: unknown vault target 'nowhere'")


def test_reveal_false_without_vault_is_refused(vaulted, admin):
    answer = create(vaulted, admin[1], {"reveal": False})
    assert answer.status_code == 400 and answer.json_body["Message"].startswith("reveal:")


def test_a_path_holding_someone_elses_secret_is_left_alone(vaulted, admin):
    boto3.client("secretsmanager").create_secret(Name="apikeys/demo/shared", SecretString="theirs")
    answer = create(vaulted, admin[1], {"vault": {"target": "aws-secrets", "path": "shared"}})
    assert answer.status_code == 502
    message = answer.json_body["Message"]
    assert "'aws-secrets'" in message and "not written for this key" in message
    assert boto3.client("secretsmanager").get_secret_value(SecretId="apikeys/demo/shared")["SecretString"] == "theirs"
    listed = vaulted.http.get("/communities/demo/apikeys", headers=bearer(admin[1])).json_body["items"]
    assert [item["name"] for item in listed] == ["fixture key"]


def test_revoke_deletes_or_marks_the_vaulted_copy(vaulted, admin):
    deleted = create(vaulted, admin[1], {"vault": {"target": "aws-secrets"}}).json_body["api_key"]
    marked = create(vaulted, admin[1], {"vault": {"target": "params"}}).json_body["api_key"]
    for key in (deleted, marked):
        revoked = vaulted.http.post(f"/communities/demo/apikeys/{key['id']}/revoke", headers=bearer(admin[1]))
        assert revoked.json_body["status"] == "revoked"
    assert stored_secrets(SM) == {}
    value = boto3.client("ssm").get_parameter(Name=marked["vault"]["path"], WithDecryption=True)["Parameter"]["Value"]
    assert value.startswith(f"REVOKED: API key {marked['id']}")
    tags = boto3.client("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId=marked["vault"]["path"])
    assert {"Key": "apikeys:status", "Value": "revoked"} in tags["TagList"]


def test_mark_on_revoke_in_secrets_manager(monkeypatch, client, admin):
    set_vault_targets(monkeypatch, [{**SM, "on_revoke": "mark"}])
    key = create(client, admin[1], {"vault": {"target": "aws-secrets"}}).json_body["api_key"]
    client.http.post(f"/communities/demo/apikeys/{key['id']}/revoke", headers=bearer(admin[1]))
    current = boto3.client("secretsmanager").get_secret_value(SecretId=key["vault"]["arn"])["SecretString"]
    assert current.startswith("REVOKED:")


def test_idempotent_retry_of_a_finished_create_returns_the_key_without_the_secret(vaulted, admin):
    first = create(vaulted, admin[1], {"vault": {"target": "aws-secrets"}}, **{"Idempotency-Key": "abc-1"})
    again = create(vaulted, admin[1], {"vault": {"target": "aws-secrets"}}, **{"Idempotency-Key": "abc-1"})
    assert first.status_code == again.status_code == 201
    assert again.json_body["api_key"]["id"] == first.json_body["api_key"]["id"]
    assert "secret" not in again.json_body and again.json_body["replayed"] is True
    assert len(stored_secrets(SM)) == 1
