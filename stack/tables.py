"""The stage's DynamoDB tables, read from the PynamoDB model classes its settings build: keys,
global secondary indexes, time to live and stream as the models declare them; on demand,
point-in-time recovery, encryption at rest with KMS, deletion protection in protected stages,
and kept (``Retain``) when the stack goes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stack.config import StackError, Stage, snake


@dataclass(frozen=True)
class Index:
    name: str
    hash: str
    range: str | None
    projection: str
    non_key_attributes: list[str]


@dataclass(frozen=True)
class Table:
    name: str
    hash: str
    range: str | None
    attributes: dict[str, str]  # key attributes (table's and indexes') → S, N or B
    indexes: list[Index]
    ttl: str | None
    stream: str | None  # StreamViewType


def arn(table: str) -> str:
    return f"arn:aws:dynamodb:*:*:table/{table}"


def cfn_logical_id(model: Any) -> str:
    return f"{model.__name__}Table"


def tf_name(model: Any) -> str:
    return snake(model.__name__)


def describe(model: Any) -> Table:
    """What DynamoDB must hold for one model, read from the model class itself."""
    from pynamodb.attributes import TTLAttribute

    schema = model._get_schema()
    if schema.get("local_secondary_indexes"):
        raise StackError(f"{model.__name__}: local secondary indexes are not generated yet")
    indexes = []
    for index in sorted(schema["global_secondary_indexes"], key=lambda i: i["index_name"]):
        hash_key, range_key = _keys(index["key_schema"])
        indexes.append(
            Index(
                index["index_name"],
                hash_key,
                range_key,
                index["projection"]["ProjectionType"],
                sorted(index["projection"].get("NonKeyAttributes", [])),
            )
        )
    hash_key, range_key = _keys(schema["key_schema"])
    ttl = [a.attr_name for a in model.get_attributes().values() if isinstance(a, TTLAttribute)]
    return Table(
        name=model.Meta.table_name,
        hash=hash_key,
        range=range_key,
        attributes={a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]},
        indexes=indexes,
        ttl=ttl[0] if ttl else None,
        stream=getattr(model.Meta, "stream_view_type", None),
    )


def _keys(key_schema: list[dict[str, str]]) -> tuple[str, str | None]:
    by_type = {k["KeyType"]: k["AttributeName"] for k in key_schema}
    return by_type["HASH"], by_type.get("RANGE")


# -- CloudFormation ---------------------------------------------------------------------------


def cloudformation(stage: Stage) -> dict[str, Any]:
    return {cfn_logical_id(model): _cfn_table(describe(model), stage) for model in stage.models.all}


def _cfn_table(table: Table, stage: Stage) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "TableName": table.name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind} for name, kind in sorted(table.attributes.items())
        ],
        "KeySchema": _cfn_key_schema(table.hash, table.range),
    }
    if table.indexes:
        properties["GlobalSecondaryIndexes"] = [_cfn_index(index) for index in table.indexes]
    properties["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
    properties["SSESpecification"] = {"SSEEnabled": True, "SSEType": "KMS"}
    if table.ttl:
        properties["TimeToLiveSpecification"] = {"AttributeName": table.ttl, "Enabled": True}
    if table.stream:
        properties["StreamSpecification"] = {"StreamViewType": table.stream}
    properties["DeletionProtectionEnabled"] = stage.protected
    properties["Tags"] = stage.cfn_tags
    return {
        "Type": "AWS::DynamoDB::Table",
        # The tables outlive the stack: deleting or replacing one never drops keys or the audit trail.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
    }


def _cfn_key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    key_schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        key_schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return key_schema


def _cfn_index(index: Index) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": index.projection}
    if index.non_key_attributes:
        projection["NonKeyAttributes"] = index.non_key_attributes
    return {"IndexName": index.name, "KeySchema": _cfn_key_schema(index.hash, index.range), "Projection": projection}


# -- Terraform --------------------------------------------------------------------------------


def terraform(stage: Stage) -> dict[str, Any]:
    """``aws_dynamodb_table`` resources, by the model's name in snake case."""
    return {tf_name(model): _tf_table(describe(model), stage) for model in stage.models.all}


def _tf_table(table: Table, stage: Stage) -> dict[str, Any]:
    resource: dict[str, Any] = {"name": table.name, "billing_mode": "PAY_PER_REQUEST", **_tf_keys(table)}
    resource["attribute"] = [{"name": name, "type": kind} for name, kind in sorted(table.attributes.items())]
    if table.indexes:
        resource["global_secondary_index"] = [_tf_index(index) for index in table.indexes]
    resource["point_in_time_recovery"] = [{"enabled": True}]
    resource["server_side_encryption"] = [{"enabled": True}]
    if table.ttl:
        resource["ttl"] = [{"attribute_name": table.ttl, "enabled": True}]
    if table.stream:
        resource["stream_enabled"] = True
        resource["stream_view_type"] = table.stream
    if stage.protected:  # needs the AWS provider 4.56 or newer (Chalice asks for < 5)
        resource["deletion_protection_enabled"] = True
    resource["tags"] = stage.tags
    return resource


def _tf_keys(keyed: Table | Index) -> dict[str, str]:
    return {"hash_key": keyed.hash, **({"range_key": keyed.range} if keyed.range else {})}


def _tf_index(index: Index) -> dict[str, Any]:
    block: dict[str, Any] = {"name": index.name, **_tf_keys(index), "projection_type": index.projection}
    if index.non_key_attributes:
        block["non_key_attributes"] = index.non_key_attributes
    return block
