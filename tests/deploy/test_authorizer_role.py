"""The authorizers' role may record a key's last use and nothing else in the keys table.

moto does not enforce IAM, so the requests the code really sends (captured at botocore) are
judged here against the generated policy the way DynamoDB's fine-grained access control judges
them: ``dynamodb:LeadingKeys`` is the item's partition key value, ``dynamodb:Attributes`` every
top-level attribute a request names (key, update expression, condition),
``dynamodb:ReturnValues`` is ``NONE`` unless the request says otherwise.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pynamodb.exceptions import UpdateError

from chalicelib import wiring
from chalicelib.keys import format as key_format
from chalicelib.keys.reader import LAST_USE_PREFIX
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
        leading = condition.get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
        partition = next(iter(params["Key"].values()))["S"]  # the keys table's key is its partition key
        if leading is not None and not any(fnmatch.fnmatchcase(partition, pattern) for pattern in leading):
            continue
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
    assert params["Key"] == {"key_id": {"S": LAST_USE_PREFIX + key_id}}, "the last-use item, not the key's"
    assert named_attributes(params) == {"key_id", "last_used_at"}
    assert update_allowed(stage_policy(stage, params["TableName"]), params)


@pytest.mark.parametrize("stage", STAGES)
def test_what_a_compromised_authorizer_would_write_is_refused(sent, stage):
    """Reactivate a revoked key, grant itself roles, swap the hash, write the key's own item,
    read through a write, or write those attributes on a last-use item's key."""
    ApiKey = wiring.store().models.ApiKey
    connection = wiring.store().touch_connection
    key_id, _ = make_key(roles=("ic_viewer",))
    used = LAST_USE_PREFIX + key_id
    now = datetime.now(UTC)
    connection.update_item(key_id, actions=[ApiKey.status.set("active")])
    connection.update_item(key_id, actions=[ApiKey.roles.set(["community_admin"])])
    connection.update_item(key_id, actions=[ApiKey.key_hash.set("0" * 64)])
    connection.update_item(key_id, actions=[ApiKey.last_used_at.set(now)])
    connection.update_item(used, actions=[ApiKey.last_used_at.set(now)], return_values="ALL_OLD")
    connection.update_item(used, actions=[ApiKey.status.set("active")])
    with pytest.raises(UpdateError):  # the key is active: sent, and refused by the condition
        connection.update_item(key_id, actions=[ApiKey.last_used_at.set(now)], condition=ApiKey.status == "revoked")
    assert len(sent) == 7
    policy = stage_policy(stage, sent[0]["TableName"])
    assert [update_allowed(policy, params) for params in sent] == [False] * 7


def test_a_revoked_key_gets_no_last_used(sent):
    """The authorizer refuses a revoked key before any write: its last use stays the one before."""
    from chalicelib.authorizer.verifier import Unauthorized
    from chalicelib.roles.caller import Caller

    key_id, secret = make_key(roles=("ic_viewer",))
    wiring.service().revoke(Caller.operator("demo"), "demo", key_id, None)
    with pytest.raises(Unauthorized):
        wiring.verifier().verify(f"Bearer {secret}")
    assert sent == []
    assert wiring.store().get(key_id).last_used_at is None


@pytest.mark.parametrize("stage", STAGES)
def test_a_use_within_the_interval_is_not_written_again(sent, stage):
    """A second container (no memory of the first's write) sends the write; the condition keeps
    the first time, and the role allows the attempt."""
    key_id, _ = make_key(roles=("ic_viewer",))
    first = datetime(2030, 1, 1, tzinfo=UTC)
    wiring.store().touch_last_used(key_id, first, 60)
    with pytest.raises(UpdateError, match="ConditionalCheckFailed"):
        wiring.store().touch_last_used(key_id, first.replace(second=30), 60)
    assert wiring.store().get(key_id).last_used_at == first
    assert key_format.is_key_id(key_id) and not key_id.startswith("#")
    assert all(update_allowed(stage_policy(stage, params["TableName"]), params) for params in sent)
