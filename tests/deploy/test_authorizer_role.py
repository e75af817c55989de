"""The authorizers' role may record a key's last use and nothing else in the keys table.

moto does not enforce IAM, so the requests the code really sends (captured at botocore) are
judged here against the generated policy the way DynamoDB's fine-grained access control judges
them: ``dynamodb:Attributes`` is every top-level attribute a request names (key, update
expression, condition), ``dynamodb:ReturnValues`` is ``NONE`` unless the request says otherwise.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pynamodb.exceptions import UpdateError

from chalicelib import wiring
from chalicelib.keys import format as key_format
from tests.conftest import make_key

ROOT = Path(__file__).resolve().parents[2]
STAGES = [s for s in json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"] if s != "local"]
_WORDS = {
    "SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN", "attribute_exists",
    "attribute_not_exists", "attribute_type", "begins_with", "contains", "size", "if_not_exists", "list_append",
}  # fmt: skip


def named_attributes(params: dict[str, Any]) -> set[str]:
    names = set(params.get("Key", {})) | set(params.get("AttributeUpdates", {})) | set(params.get("Expected", {}))
    aliases = params.get("ExpressionAttributeNames", {})
    for field in ("UpdateExpression", "ConditionExpression"):
        for token in re.findall(r"[#:][A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*", params.get(field, "")):
            if token.startswith("#"):
                names.add(aliases[token])
            elif not token.startswith(":") and token not in _WORDS:
                names.add(token)
    return names


def update_allowed(policy: dict[str, Any], params: dict[str, Any]) -> bool:
    """Whether some Allow statement of ``policy`` grants this UpdateItem on its table."""
    table = params["TableName"]
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] != "Allow" or "dynamodb:UpdateItem" not in actions:
            continue
        if not statement["Resource"].endswith(f":table/{table}"):
            continue
        condition = statement.get("Condition", {})
        allowed = condition.get("ForAllValues:StringEquals", {}).get("dynamodb:Attributes")
        if allowed is not None and not named_attributes(params) <= set(allowed):
            continue
        returns = condition.get("StringEquals", {}).get("dynamodb:ReturnValues")
        if returns is not None and params.get("ReturnValues", "NONE") not in returns:
            continue
        return True
    return False


def stage_policy(stage: str, keys_table: str) -> dict[str, Any]:
    """The stage's generated authorizer policy, pointed at the table the test runs on."""
    text = (ROOT / ".chalice" / f"policy-authorizer-{stage}.json").read_text()
    return json.loads(text.replace(f"table/apikeys-{stage}-keys", f"table/{keys_table}"))


@pytest.fixture
def sent(moto_aws: None) -> list[dict[str, Any]]:
    """Every UpdateItem the last-used write's client sends, as API parameters."""
    captured: list[dict[str, Any]] = []
    client = wiring.store().touch_connection.connection.client
    client.meta.events.register(
        "provide-client-params.dynamodb.UpdateItem", lambda params, **_: captured.append(copy.deepcopy(params))
    )
    return captured


@pytest.mark.parametrize("stage", STAGES)
def test_the_last_used_write_is_what_the_role_allows(sent, stage):
    key_id, secret = make_key(roles=("ic_viewer",))
    wiring.verifier().verify(f"Bearer {secret}")
    assert wiring.store().get(key_id).last_used_at is not None
    [params] = sent
    assert named_attributes(params) == {"key_id", "last_used_at", "revoked_at"}
    assert update_allowed(stage_policy(stage, params["TableName"]), params)


@pytest.mark.parametrize("stage", STAGES)
def test_what_a_compromised_authorizer_would_write_is_refused(sent, stage):
    """Reactivate a revoked key, grant itself roles, swap the hash, or read through a write."""
    ApiKey = wiring.store().models.ApiKey
    connection = wiring.store().touch_connection
    key_id, _ = make_key(roles=("ic_viewer",))
    now = datetime.now(UTC)
    connection.update_item(key_id, actions=[ApiKey.status.set("active")])
    connection.update_item(key_id, actions=[ApiKey.roles.set(["community_admin"])])
    connection.update_item(key_id, actions=[ApiKey.key_hash.set("0" * 64)])
    connection.update_item(key_id, actions=[ApiKey.last_used_at.set(now)], return_values="ALL_OLD")
    with pytest.raises(UpdateError):  # the key is active: sent, and refused by the condition
        connection.update_item(key_id, actions=[ApiKey.last_used_at.set(now)], condition=ApiKey.status == "revoked")
    assert len(sent) == 5
    policy = stage_policy(stage, sent[0]["TableName"])
    assert [update_allowed(policy, params) for params in sent] == [False] * 5


@pytest.mark.parametrize("stage", STAGES)
def test_a_revoked_key_gets_no_last_used(sent, stage):
    from chalicelib.roles.caller import Caller

    key_id, secret = make_key(roles=("ic_viewer",))
    wiring.service().revoke(Caller.operator("demo"), "demo", key_id, None)
    with pytest.raises(UpdateError, match="ConditionalCheckFailed"):
        wiring.store().touch_last_used(key_format.parse(secret, "apk").key_id, datetime.now(UTC), 0)
    assert wiring.store().get(key_id).last_used_at is None  # the condition held
    assert update_allowed(stage_policy(stage, sent[0]["TableName"]), sent[0])
