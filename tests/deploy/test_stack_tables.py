"""The generated tables, as a deployer relies on them: both formats declare the same tables (keys,
indexes with their projected attributes, time to live, stream), protected stages cannot lose a
table or the user pool, and a model the generator cannot render is refused, not half-written."""

from __future__ import annotations

from typing import Any

import pytest

from stack import documents, tables
from stack.config import PROTECTED_STAGES, StackError, Stage, load_config

CONFIG = load_config()
STAGES = [Stage(CONFIG, name) for name in CONFIG["stages"] if name != "local"]


def _cfn(stage: Stage) -> dict[str, dict[str, Any]]:
    found = {}
    for resource in documents.cloudformation(stage)["Resources"].values():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        p = resource["Properties"]
        found[p["TableName"]] = {
            "keys": [(k["AttributeName"], k["KeyType"]) for k in p["KeySchema"]],
            "indexes": {
                ix["IndexName"]: (
                    [(k["AttributeName"], k["KeyType"]) for k in ix["KeySchema"]],
                    ix["Projection"]["ProjectionType"],
                    ix["Projection"].get("NonKeyAttributes", []),
                )
                for ix in p.get("GlobalSecondaryIndexes", [])
            },
            "types": {a["AttributeName"]: a["AttributeType"] for a in p["AttributeDefinitions"]},
            "ttl": p.get("TimeToLiveSpecification", {}).get("AttributeName"),
            "stream": p.get("StreamSpecification", {}).get("StreamViewType"),
            "protected": p["DeletionProtectionEnabled"],
        }
    return found


def _tf_keys(block: dict[str, Any]) -> list[tuple[str, str]]:
    return [(block["hash_key"], "HASH"), *([(block["range_key"], "RANGE")] if "range_key" in block else [])]


def _tf(stage: Stage) -> dict[str, dict[str, Any]]:
    found = {}
    for r in documents.terraform(stage)["resource"]["aws_dynamodb_table"].values():
        found[r["name"]] = {
            "keys": _tf_keys(r),
            "indexes": {
                ix["name"]: (_tf_keys(ix), ix["projection_type"], ix.get("non_key_attributes", []))
                for ix in r.get("global_secondary_index", [])
            },
            "types": {a["name"]: a["type"] for a in r["attribute"]},
            "ttl": r.get("ttl", [{}])[0].get("attribute_name"),
            "stream": r.get("stream_view_type") if r.get("stream_enabled") else None,
            "protected": r.get("deletion_protection_enabled", False),
        }
    return found


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_both_formats_declare_the_same_tables_as_the_models(stage):
    cfn = _cfn(stage)
    assert cfn == _tf(stage)
    assert sorted(cfn) == sorted(stage.table_names)
    for name, table in cfn.items():
        key_attributes = {a for a, _ in table["keys"]} | {a for ix in table["indexes"].values() for a, _ in ix[0]}
        assert set(table["types"]) == key_attributes, f"{name}: declare exactly the key attributes"
    # The events table streams new images to publish_events; no other table streams.
    assert {name: t["stream"] for name, t in cfn.items() if t["stream"]} == {stage.settings.events_table: "NEW_IMAGE"}
    assert cfn[stage.settings.idempotency_table]["ttl"] == "expires"


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_a_protected_stage_cannot_lose_a_table_or_its_people(stage):
    protected = stage.name in PROTECTED_STAGES
    assert {t["protected"] for t in _cfn(stage).values()} == {protected}
    resources = documents.cloudformation(stage)["Resources"]
    kept = [r for r in resources.values() if r.get("Type") in ("AWS::DynamoDB::Table", "AWS::Cognito::UserPool")]
    assert all(r["DeletionPolicy"] == r["UpdateReplacePolicy"] == "Retain" for r in kept)
    pools = [r["Properties"]["DeletionProtection"] for r in kept if r["Type"] == "AWS::Cognito::UserPool"]
    assert pools == (["ACTIVE" if protected else "INACTIVE"] if stage.own.get("user_pool") else [])


def test_prod_is_protected_and_dev_is_not():
    assert "prod" in PROTECTED_STAGES and "dev" not in PROTECTED_STAGES
    assert {s.name for s in STAGES} >= {"dev", "prod"}


def test_a_model_with_a_local_secondary_index_is_refused():
    from pynamodb.attributes import UnicodeAttribute
    from pynamodb.indexes import AllProjection, LocalSecondaryIndex
    from pynamodb.models import Model

    class ByName(LocalSecondaryIndex):  # type: ignore[type-arg]
        class Meta:
            index_name = "by-name"
            projection = AllProjection()

        community = UnicodeAttribute(hash_key=True)
        name = UnicodeAttribute(range_key=True)

    class Listed(Model):
        class Meta:
            table_name = "t"

        community = UnicodeAttribute(hash_key=True)
        key_id = UnicodeAttribute(range_key=True)
        name = UnicodeAttribute()
        by_name = ByName()

    with pytest.raises(StackError, match="Listed: local secondary indexes"):
        tables.describe(Listed)
