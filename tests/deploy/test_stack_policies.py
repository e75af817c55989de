"""The generated IAM policies against the calls the code makes: every DynamoDB request a run of
the API, the scheduled functions and the authorizers sends (captured at botocore, under moto) is
granted by the policy of the function that sends it, on the table or index it names, and no
table action is granted that no request needs. Then the policy rules a stage's settings drive:
secret sources, vault targets, the KMS keys they name."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from stack import policies, tables
from stack.config import StackError, Stage, load_config
from stack.tables import arn as table_arn
from tests.conftest import as_json, bearer, make_key

CONFIG = load_config()
STAGES = [Stage(CONFIG, name) for name in CONFIG["stages"] if name != "local"]
# What IAM authorizes each item of a transaction as.
TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _grants(request: tuple[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) pairs one DynamoDB request needs, with the test's table names."""
    operation, params = request
    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{TRANSACT_ITEM_ACTIONS[kind]}", table_arn(body["TableName"]))
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    if operation == "TransactGetItems":
        return [("dynamodb:GetItem", table_arn(item["Get"]["TableName"])) for item in params["TransactItems"]]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", table_arn(table)) for table in params["RequestItems"]]
    resource = table_arn(params["TableName"])
    if params.get("IndexName"):
        resource += f"/index/{params['IndexName']}"
    return [(f"dynamodb:{operation}", resource)]


def _allowed(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an Allow statement names this action on this resource (conditions aside: the
    authorizer's UpdateItem condition is judged in test_authorizer_role.py)."""
    import fnmatch

    for statement in policy["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if action in statement["Action"] and any(fnmatch.fnmatchcase(resource, r) for r in resources):
            return True
    return False


def _on_stage_tables(stage: Stage, grants: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The test's table names replaced by the stage's (the same settings field)."""
    from chalicelib.settings import get_settings

    here = get_settings()
    renamed = {
        table_arn(getattr(here, field)): table_arn(getattr(stage.settings, field))
        for field in type(here).__dataclass_fields__
        if field.endswith("_table")
    }
    found = set()
    for action, resource in grants:
        table, _, rest = resource.partition("/index/")
        found.add((action, renamed[table] + (f"/index/{rest}" if rest else "")))
    return found


def _keys_named(requests: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, frozenset[str]]]:
    """(table, attribute names) of every item key the requests send, transactions and batches included."""
    named = []
    for _, params in requests:
        items = [body for item in params.get("TransactItems", []) for body in item.values()]
        items += [{"TableName": table, "Key": key} for table, batch in params.get("RequestItems", {}).items()
                  for key in batch.get("Keys", [])]  # fmt: skip
        items += [params] if "Key" in params else []
        named += [(item["TableName"], frozenset(item["Key"])) for item in items if "Key" in item]
    return named


def assert_keys_are_the_generated_tables_keys(requests: list[tuple[str, dict[str, Any]]]) -> None:
    """The generator's tables have the keys the code sends, its raw boto3 reads and writes included."""
    from chalicelib.settings import get_settings
    from chalicelib.storage.models import models_for

    described = [tables.describe(model) for model in models_for(get_settings()).all]
    keys = {t.name: frozenset(k for k in (t.hash, t.range) if k) for t in described}
    named = _keys_named(requests)
    assert named
    assert not [(table, key) for table, key in named if keys[table] != key]


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch, moto_aws: None) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every DynamoDB request any client sends from here on: (operation, parameters)."""
    from botocore.client import BaseClient

    sent: list[tuple[str, dict[str, Any]]] = []
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            sent.append((operation, copy.deepcopy(params)))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    yield sent


def _api_and_scheduled_run(client: Any) -> None:
    """What the API handler and the functions on its policy do: keys (create, idempotent create,
    list, search, read, edit, rotate, revoke), custom roles, audit events, the schedules."""
    _, admin = make_key()
    base = "/communities/demo"
    role = client.http.post(f"{base}/roles", headers=bearer(admin),
                            body=as_json({"name": "hunter", "permissions": ["intelligence:read"]}))  # fmt: skip
    assert role.status_code == 201, role.body
    assert client.http.patch(f"{base}/roles/hunter", headers=bearer(admin),
                             body=as_json({"description": "x"})).status_code == 200  # fmt: skip
    headers = {**bearer(admin), "Idempotency-Key": "policy-run"}
    for _ in range(2):
        created = client.http.post(f"{base}/apikeys", headers=headers, body=as_json({"name": "a", "roles": ["hunter"]}))
        assert created.status_code == 201, created.body
    key_id = created.json_body["api_key"]["id"]
    for path in (f"{base}/apikeys", f"{base}/apikeys?search=a", f"{base}/apikeys/{key_id}",
                 f"{base}/apikeys/{key_id}/events", f"{base}/events", f"{base}/roles"):  # fmt: skip
        assert client.http.get(path, headers=bearer(admin)).status_code == 200, path
    assert client.http.patch(f"{base}/apikeys/{key_id}", headers=bearer(admin),
                             body=as_json({"name": "b"})).status_code == 200  # fmt: skip
    rotated = client.http.post(f"{base}/apikeys/{key_id}/rotate", headers=bearer(admin), body=as_json({"grace": "1h"}))
    assert rotated.status_code == 201, rotated.body
    new_id = rotated.json_body["api_key"]["id"]
    for revoked in (key_id, new_id):
        answer = client.http.post(f"{base}/apikeys/{revoked}/revoke", headers=bearer(admin), body=as_json({}))
        assert answer.status_code == 200, answer.body
    assert client.http.delete(f"{base}/roles/hunter", headers=bearer(admin)).status_code == 204
    scheduled = client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    for function in ("sweep_pending", "finish_grace", "remind_expiring"):
        client.lambda_.invoke(function, scheduled)


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_the_api_policy_grants_every_table_request_of_the_api_and_schedules_and_no_other_action(
    requests: list[tuple[str, dict[str, Any]]], client: Any, stage: Stage
) -> None:
    _api_and_scheduled_run(client)
    assert_keys_are_the_generated_tables_keys(requests)
    needed = _on_stage_tables(stage, [grant for request in requests for grant in _grants(request)])
    policy = policies.api_policy(stage)
    refused = sorted(grant for grant in needed if not _allowed(policy, *grant))
    assert not refused, f"requests the API policy does not grant: {refused}"
    [tables] = [s for s in policy["Statement"] if s["Sid"] == "StageTables"]
    unused = set(tables["Action"]) - {action for action, _ in needed}
    assert not unused, f"table actions granted that no request needs: {sorted(unused)}"


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_the_authorizer_policy_grants_every_request_of_a_decision(
    requests: list[tuple[str, dict[str, Any]]], stage: Stage
) -> None:
    """A decision of a cold container: read the key, record its use, read the custom roles it holds."""
    from chalicelib import wiring
    from chalicelib.roles.caller import Caller

    wiring.custom_roles().create(
        Caller.operator("demo"), "demo", {"name": "hunter", "permissions": ["intelligence:read"]}
    )
    _, secret = make_key(roles=("hunter",))
    wiring.reset()
    requests.clear()  # the role and the key were made by an operator
    wiring.verifier().authorize(f"Bearer {secret}", face="gateway", method="GET", path="/intelligence/reports/1")
    assert_keys_are_the_generated_tables_keys(requests)
    needed = _on_stage_tables(stage, [grant for request in requests for grant in _grants(request)])
    assert {action for action, _ in needed} == {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"}
    policy = policies.authorizer_policy(stage)
    refused = sorted(grant for grant in needed if not _allowed(policy, *grant))
    assert not refused, f"requests the authorizer policy does not grant: {refused}"


def _dev_with(**environment: str) -> Stage:
    config = copy.deepcopy(CONFIG)
    config["stages"]["dev"]["environment_variables"].update(environment)
    return Stage(config, "dev")


def _statement(policy: dict[str, Any], action: str) -> dict[str, Any]:
    [statement] = [s for s in policy["Statement"] if action in s["Action"]]
    return statement


def test_secret_sources_are_read_by_name_and_their_keys_through_their_service():
    targets = [
        {"name": "ssm", "kind": "ssm", "path_prefix": "/apikeys/dev/k/", "kms_key_id": "apikeys-dev-vault",
         "token_source": "ssm:/apikeys/dev/vault-token"},
    ]  # fmt: skip
    stage = _dev_with(
        APIKEYS_PEPPERS_SOURCE="secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:p-AbCdEf",
        APIKEYS_VAULT_TARGETS=json.dumps(targets),
    )
    api = policies.api_policy(stage)
    assert _statement(api, "secretsmanager:GetSecretValue")["Resource"] == [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:p-AbCdEf"  # an ARN is used as it is
    ]
    assert _statement(api, "ssm:GetParameter")["Resource"] == ["arn:aws:ssm:*:*:parameter/apikeys/dev/vault-token"]
    assert _statement(api, "ssm:PutParameter")["Resource"] == ["arn:aws:ssm:*:*:parameter/apikeys/dev/k/*"]
    assert not [s for s in api["Statement"] if "secretsmanager:CreateSecret" in s["Action"]], "no such target"
    kms = _statement(api, "kms:Encrypt")["Condition"]
    assert kms["ForAnyValue:StringEquals"]["kms:ResourceAliases"] == ["alias/apikeys-dev", "alias/apikeys-dev-vault"]
    assert kms["StringLike"]["kms:ViaService"] == ["secretsmanager.*.amazonaws.com", "ssm.*.amazonaws.com"]
    # The authorizers read the pepper alone, and may only decrypt with the stage's key.
    authorizer = policies.authorizer_policy(stage)
    assert not [s for s in authorizer["Statement"] if "ssm:GetParameter" in s["Action"]]
    pepper_key = _statement(authorizer, "kms:Decrypt")
    assert pepper_key["Action"] == ["kms:Decrypt"]
    assert pepper_key["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"] == ["alias/apikeys-dev"]
    for statement in api["Statement"] + authorizer["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert "*" not in resources, statement


@pytest.mark.parametrize(
    ("environment", "reason"),
    [
        ({"APIKEYS_PEPPERS_SOURCE": "vault:apikeys/dev/peppers"}, "unknown secret source 'vault:"),
        (
            {"APIKEYS_VAULT_TARGETS": json.dumps([{"name": "loose", "kind": "secretsmanager"}])},
            "vault target 'loose' names no prefix",
        ),
    ],
)
def test_a_secret_the_policy_cannot_name_is_refused(environment, reason):
    with pytest.raises(StackError, match=reason):
        policies.api_policy(_dev_with(**environment))
