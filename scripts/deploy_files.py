"""Write the deployment files under .chalice/ from two sources of truth: the PynamoDB models
(``chalicelib.storage.models.build_models``) and each stage's environment in ``.chalice/config.json``.

    python scripts/deploy_files.py           # (re)write them after changing a model or a stage
    python scripts/deploy_files.py --check   # exit 1 if any file is out of date (the tests run this)

Per stage other than ``local`` it writes:

- ``resources-<stage>.json``: the DynamoDB tables as CloudFormation, for
  ``chalice package --merge-template`` (and deployable alone as the tables' own stack);
- ``resources-<stage>.tf.json``: the same tables for Terraform, applied next to ``chalice.tf.json``
  (Chalice merges templates for CloudFormation only);
- in both, what an operator sees (``scripts/observability.py``): alarms to an SNS topic, a
  dashboard, the API's access log (CloudFormation), dead-letter queue of the scheduled functions;
- ``resources-<stage>_override.tf.json``: settings on Chalice's own Terraform resources (a
  Terraform override file: the scheduled functions' dead-letter queue);
- ``policy-<stage>.json``: the API handler's IAM policy (and every function without its own);
- ``policy-authorizer-<stage>.json``: the smaller policy of both authorizers.

The stage's API Gateway usage plans (throttle, quota) are declared next to the tables, from
``.chalice/usage-plans.json``; each stage's ``APIKEYS_USAGE_PLANS`` must name them (checked here).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / ".chalice"
sys.path.insert(0, str(ROOT))

from scripts import lifecycle_stack, observability, people_stack  # noqa: E402 - needs the project root on the path

PROTECTED_STAGES = {"prod"}  # DynamoDB deletion protection on; dev tables may be thrown away
AUTHORIZER_FUNCTIONS = ("app_authorizer", "gateway_authorizer")
_DUMMY_PEPPER = "generator:" + base64.b64encode(b"\0" * 32).decode()

# Every DynamoDB call the code makes. TransactWriteItems is authorized per item by these actions.
API_TABLE_ACTIONS = [
    "dynamodb:BatchGetItem",  # a search page's keys, custom roles and leaked tokens, read by key
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
]
INDEX_ACTIONS = ["dynamodb:Query"]


# -- reading the sources ----------------------------------------------------------------------


def load_config() -> dict[str, Any]:
    return json.loads((CHALICE_DIR / "config.json").read_text())


def deployed_stages(config: dict[str, Any]) -> list[str]:
    return [name for name in config["stages"] if name != "local"]


def stage_environment(config: dict[str, Any], stage: str) -> dict[str, str]:
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}


def function_environment(config: dict[str, Any], stage: str, function: str) -> dict[str, str]:
    """One function's environment as Chalice merges it: top level, then stage, then the function's own."""
    own = config["stages"][stage].get("lambda_functions", {}).get(function, {})
    return {**stage_environment(config, stage), **own.get("environment_variables", {})}


def stage_settings(config: dict[str, Any], stage: str) -> Any:
    """The Settings a stage's Lambda would build, minus the pepper (read at run time)."""
    from chalicelib.settings import from_environ

    env = {k: v for k, v in stage_environment(config, stage).items() if k != "APIKEYS_PEPPERS_SOURCE"}
    return from_environ({**env, "APIKEYS_PEPPERS": _DUMMY_PEPPER})


def stage_models(config: dict[str, Any], stage: str) -> Any:
    from chalicelib.storage.models import models_for

    return models_for(stage_settings(config, stage))


def table_description(model: Any) -> dict[str, Any]:
    """What DynamoDB must hold for one model, read from the model class itself."""
    from pynamodb.attributes import TTLAttribute

    schema = model._get_schema()
    key_schema = {k["KeyType"]: k["AttributeName"] for k in schema["key_schema"]}
    indexes = []
    for index in sorted(schema["global_secondary_indexes"], key=lambda i: i["index_name"]):
        index_keys = {k["KeyType"]: k["AttributeName"] for k in index["key_schema"]}
        indexes.append(
            {
                "name": index["index_name"],
                "hash": index_keys["HASH"],
                "range": index_keys.get("RANGE"),
                "projection": index["projection"]["ProjectionType"],
                "non_key_attributes": sorted(index["projection"].get("NonKeyAttributes", [])),
            }
        )
    ttl = [a.attr_name for a in model.get_attributes().values() if isinstance(a, TTLAttribute)]
    return {
        "name": model.Meta.table_name,
        "hash": key_schema["HASH"],
        "range": key_schema.get("RANGE"),
        "attributes": {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]},
        "indexes": indexes,
        "lsi": [i["index_name"] for i in schema.get("local_secondary_indexes", [])],
        "ttl": ttl[0] if ttl else None,
        "stream": getattr(model.Meta, "stream_view_type", None),
    }


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# -- tables -----------------------------------------------------------------------------------


def cloudformation_tables(config: dict[str, Any], stage: str) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for model in stage_models(config, stage).all:
        table = table_description(model)
        if table["lsi"]:
            raise SystemExit(f"{model.__name__}: local secondary indexes are not generated yet")
        key_schema = [{"AttributeName": table["hash"], "KeyType": "HASH"}]
        if table["range"]:
            key_schema.append({"AttributeName": table["range"], "KeyType": "RANGE"})
        properties: dict[str, Any] = {
            "TableName": table["name"],
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": kind} for name, kind in sorted(table["attributes"].items())
            ],
            "KeySchema": key_schema,
        }
        if table["indexes"]:
            properties["GlobalSecondaryIndexes"] = [_cfn_index(index) for index in table["indexes"]]
        properties["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
        properties["SSESpecification"] = {"SSEEnabled": True, "SSEType": "KMS"}
        if table["ttl"]:
            properties["TimeToLiveSpecification"] = {"AttributeName": table["ttl"], "Enabled": True}
        if table["stream"]:
            properties["StreamSpecification"] = {"StreamViewType": table["stream"]}
        properties["DeletionProtectionEnabled"] = stage in PROTECTED_STAGES
        properties["Tags"] = [{"Key": "app", "Value": config["app_name"]}, {"Key": "stage", "Value": stage}]
        resources[f"{model.__name__}Table"] = {
            "Type": "AWS::DynamoDB::Table",
            # The tables outlive the stack: deleting or replacing one never drops keys or the audit trail.
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": properties,
        }
    resources.update(cloudformation_usage_plans(config, stage))
    tables = [model.Meta.table_name for model in stage_models(config, stage).all]
    resources.update(observability.cloudformation(config, stage, tables))
    people = people_stack.cloudformation(config, stage, protected=stage in PROTECTED_STAGES)
    for logical, resource in [*lifecycle_stack.cloudformation(config, stage).items(), *people.items()]:
        if logical in resources:  # a property of one of Chalice's functions: merge it in
            resources[logical].setdefault("Properties", {}).update(resource["Properties"])
        else:
            resources[logical] = resource
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{config['app_name']} {stage}: DynamoDB tables, alarms, dashboard, access log "
        "(generated by scripts/deploy_files.py)",
        "Resources": resources,
    }


def _cfn_index(index: dict[str, Any]) -> dict[str, Any]:
    key_schema = [{"AttributeName": index["hash"], "KeyType": "HASH"}]
    if index["range"]:
        key_schema.append({"AttributeName": index["range"], "KeyType": "RANGE"})
    projection: dict[str, Any] = {"ProjectionType": index["projection"]}
    if index["non_key_attributes"]:
        projection["NonKeyAttributes"] = index["non_key_attributes"]
    return {"IndexName": index["name"], "KeySchema": key_schema, "Projection": projection}


def terraform_tables(config: dict[str, Any], stage: str) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for model in stage_models(config, stage).all:
        table = table_description(model)
        resource: dict[str, Any] = {
            "name": table["name"],
            "billing_mode": "PAY_PER_REQUEST",
            "hash_key": table["hash"],
        }
        if table["range"]:
            resource["range_key"] = table["range"]
        resource["attribute"] = [{"name": name, "type": kind} for name, kind in sorted(table["attributes"].items())]
        if table["indexes"]:
            resource["global_secondary_index"] = [_tf_index(index) for index in table["indexes"]]
        resource["point_in_time_recovery"] = [{"enabled": True}]
        resource["server_side_encryption"] = [{"enabled": True}]
        if table["ttl"]:
            resource["ttl"] = [{"attribute_name": table["ttl"], "enabled": True}]
        if table["stream"]:
            resource["stream_enabled"] = True
            resource["stream_view_type"] = table["stream"]
        if stage in PROTECTED_STAGES:  # needs the AWS provider 4.56 or newer (Chalice asks for < 5)
            resource["deletion_protection_enabled"] = True
        resource["tags"] = {"app": config["app_name"], "stage": stage}
        tables[_snake(model.__name__)] = resource
    names = [model.Meta.table_name for model in stage_models(config, stage).all]
    resources: dict[str, Any] = {
        "aws_dynamodb_table": tables,
        **observability.terraform(config, stage, names),
        **lifecycle_stack.terraform(config, stage),
        **people_stack.terraform(config, stage, protected=stage in PROTECTED_STAGES),
    }
    plans = terraform_usage_plans(config, stage)
    if plans:
        resources["aws_api_gateway_usage_plan"] = plans
    return {"resource": resources}


def _tf_index(index: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"name": index["name"], "hash_key": index["hash"]}
    if index["range"]:
        block["range_key"] = index["range"]
    block["projection_type"] = index["projection"]
    if index["non_key_attributes"]:
        block["non_key_attributes"] = index["non_key_attributes"]
    return block


# -- usage plans ------------------------------------------------------------------------------


def stage_usage_plans(config: dict[str, Any], stage: str) -> list[dict[str, Any]]:
    """The plans of ``.chalice/usage-plans.json`` with the stage's API Gateway names, checked
    against the stage's ``APIKEYS_USAGE_PLANS`` (a stage without that setting has none)."""
    settings = stage_settings(config, stage)
    if not settings.usage_plans:
        return []
    declared = json.loads((CHALICE_DIR / "usage-plans.json").read_text())["plans"]
    plans = [{**plan, "usage_plan_name": f"{config['app_name']}-{stage}-{plan['name']}"} for plan in declared]
    wanted = {(p["name"], p["usage_plan_name"]) for p in plans}
    configured = {(p.name, p.usage_plan_name) for p in settings.usage_plans}
    if configured != wanted:
        raise SystemExit(
            f"stage {stage}: APIKEYS_USAGE_PLANS must name {sorted(wanted)} by usage_plan_name "
            f"(.chalice/usage-plans.json), not {sorted(configured)}"
        )
    return plans


def _logical(name: str) -> str:
    return "UsagePlan" + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name))


def cloudformation_usage_plans(config: dict[str, Any], stage: str) -> dict[str, Any]:
    resources = {}
    for plan in stage_usage_plans(config, stage):
        resources[_logical(plan["name"])] = {
            "Type": "AWS::ApiGateway::UsagePlan",
            "Properties": {
                "UsagePlanName": plan["usage_plan_name"],
                "Description": plan["description"],
                "Throttle": {"RateLimit": plan["rate_limit"], "BurstLimit": plan["burst_limit"]},
                "Quota": {"Limit": plan["quota"]["limit"], "Period": plan["quota"]["period"]},
                "Tags": [{"Key": "app", "Value": config["app_name"]}, {"Key": "stage", "Value": stage}],
            },
        }
    return resources


def terraform_usage_plans(config: dict[str, Any], stage: str) -> dict[str, Any]:
    return {
        _snake(_logical(plan["name"])): {
            "name": plan["usage_plan_name"],
            "description": plan["description"],
            "throttle_settings": [{"rate_limit": plan["rate_limit"], "burst_limit": plan["burst_limit"]}],
            "quota_settings": [{"limit": plan["quota"]["limit"], "period": plan["quota"]["period"]}],
            "tags": {"app": config["app_name"], "stage": stage},
        }
        for plan in stage_usage_plans(config, stage)
    }


def _usage_plan_statements(config: dict[str, Any], stage: str) -> list[dict[str, Any]]:
    """Make, move and delete the keys' API Gateway keys, read the plans and their usage.

    Usage plan ids exist only once the stack does, so plans are named by path, not by id; only
    the API handler (and the sweeper, on its role) gets these, the authorizers none."""
    if not stage_usage_plans(config, stage):
        return []
    base = "arn:aws:apigateway:*::"
    return [
        {
            "Sid": "UsagePlanReads",
            "Effect": "Allow",
            "Action": ["apigateway:GET"],
            # GetUsagePlans (ids by name), GetUsagePlan, GetUsage, GetApiKeys by name (the sweeper).
            "Resource": [f"{base}/apikeys", f"{base}/usageplans", f"{base}/usageplans/*"],
        },
        {
            "Sid": "UsagePlanKeyCreate",
            "Effect": "Allow",
            "Action": ["apigateway:POST"],
            "Resource": [f"{base}/apikeys", f"{base}/usageplans/*/keys"],
        },
        {
            "Sid": "UsagePlanKeyDelete",
            "Effect": "Allow",
            "Action": ["apigateway:DELETE"],
            "Resource": [f"{base}/apikeys/*", f"{base}/usageplans/*/keys/*"],
        },
    ]


# -- IAM policies -----------------------------------------------------------------------------


def _table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:*:*:table/{name}"


def _log_statements(config: dict[str, Any], stage: str) -> list[dict[str, Any]]:
    # Chalice names the API handler <app>-<stage> and every other function <app>-<stage>-<name>.
    base = f"arn:aws:logs:*:*:log-group:/aws/lambda/{config['app_name']}-{stage}"
    groups = [base, f"{base}-*"]
    return [
        {"Sid": "OwnLogGroups", "Effect": "Allow", "Action": ["logs:CreateLogGroup"], "Resource": groups},
        {
            "Sid": "OwnLogStreams",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{group}:*" for group in groups],
        },
    ]


def _secret_read_resource(source: str) -> tuple[str, str]:
    """(action, resource ARN) that reads one ``secretsmanager:<name>`` or ``ssm:<name>`` source."""
    kind, _, name = source.partition(":")
    if kind == "secretsmanager":
        if name.startswith("arn:"):
            return "secretsmanager:GetSecretValue", name
        # Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
        return "secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:*:*:secret:{name}-??????"
    if kind == "ssm":
        return "ssm:GetParameter", f"arn:aws:ssm:*:*:parameter/{name.lstrip('/')}"
    raise SystemExit(f"unknown secret source {source!r}: secretsmanager:<name> or ssm:<name>")


def _read_sources(env: dict[str, str], vault_targets: Iterable[dict[str, Any]]) -> list[str]:
    """Secrets read at run time: the peppers, and any vault credentials given as a ``*_source``."""
    sources = [env["APIKEYS_PEPPERS_SOURCE"]] if env.get("APIKEYS_PEPPERS_SOURCE") else []
    for target in vault_targets:
        sources += [str(v) for k, v in target.items() if k.endswith("_source") and v]
    return sources


def _kms_aliases(config: dict[str, Any], stage: str, vault_targets: Iterable[dict[str, Any]]) -> list[str]:
    """The stage's own key (it encrypts the pepper secret) and every key a vault target names."""
    aliases = {f"alias/{config['app_name']}-{stage}"}
    for target in vault_targets:
        for field in ("kms_key_id", "kms_key"):
            value = target.get(field)
            if value:
                aliases.add(str(value) if str(value).startswith("alias/") else f"alias/{value}")
    return sorted(aliases)


def _kms_statement(sid: str, actions: list[str], aliases: list[str], services: list[str]) -> dict[str, Any]:
    # Keys are named by alias: the policy needs no account id or key id, and nothing else matches.
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": "arn:aws:kms:*:*:key/*",
        "Condition": {
            "ForAnyValue:StringEquals": {"kms:ResourceAliases": aliases},
            "StringLike": {"kms:ViaService": [f"{service}.*.amazonaws.com" for service in services]},
        },
    }


def _prefix(target: dict[str, Any]) -> str:
    for field in ("prefix", "name_prefix", "path_prefix"):
        if target.get(field):
            return str(target[field])
    raise SystemExit(f"vault target {target.get('name')!r} names no prefix: the policy cannot be scoped")


def api_policy(config: dict[str, Any], stage: str) -> dict[str, Any]:
    env = stage_environment(config, stage)
    settings = stage_settings(config, stage)
    models = stage_models(config, stage)
    tables = [model.Meta.table_name for model in models.all]
    vault_targets = [dict(t) for t in settings.vault_targets]
    statements = _log_statements(config, stage)
    statements.append(
        {
            "Sid": "StageTables",
            "Effect": "Allow",
            "Action": API_TABLE_ACTIONS,
            "Resource": [_table_arn(t) for t in tables],
        }
    )
    statements.append(
        {
            "Sid": "StageIndexes",
            "Effect": "Allow",
            "Action": INDEX_ACTIONS,
            "Resource": [f"{_table_arn(t)}/index/*" for t in tables],
        }
    )
    statements += _secret_statements(_read_sources(env, vault_targets))
    # The scheduled functions (on this policy) hand a failed invocation to their dead-letter queue.
    queue = observability.names(config, stage)["queue"]
    statements.append(
        {"Sid": "FailedInvocations", "Effect": "Allow", "Action": ["sqs:SendMessage"],
         "Resource": f"arn:aws:sqs:*:*:{queue}"}
    )  # fmt: skip
    kms_services = ["secretsmanager"]
    secret_prefixes = [_prefix(t) for t in vault_targets if t.get("kind") == "secretsmanager"]
    if secret_prefixes:
        statements.append(
            {
                "Sid": "VaultSecrets",
                "Effect": "Allow",
                # Write, mark, delete and restore its own secrets; never read one back.
                "Action": [
                    "secretsmanager:CreateSecret",
                    "secretsmanager:DeleteSecret",
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:RestoreSecret",
                    "secretsmanager:TagResource",
                ],
                "Resource": [f"arn:aws:secretsmanager:*:*:secret:{p}*" for p in secret_prefixes],
            }
        )
    parameter_prefixes = [_prefix(t) for t in vault_targets if t.get("kind") == "ssm"]
    if parameter_prefixes:
        kms_services.append("ssm")
        statements.append(
            {
                "Sid": "VaultParameters",
                "Effect": "Allow",
                "Action": [
                    "ssm:AddTagsToResource",
                    "ssm:DeleteParameter",
                    "ssm:ListTagsForResource",
                    "ssm:PutParameter",
                ],
                "Resource": [f"arn:aws:ssm:*:*:parameter/{p.lstrip('/')}*" for p in parameter_prefixes],
            }
        )
    if any(s.startswith("ssm:") for s in _read_sources(env, vault_targets)) and "ssm" not in kms_services:
        kms_services.append("ssm")
    statements.append(
        _kms_statement(
            "StageKeys",
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            _kms_aliases(config, stage, vault_targets),
            kms_services,
        )
    )
    statements += _usage_plan_statements(config, stage)
    statements += lifecycle_stack.policy_statements(config, stage, models.KeyEvent.Meta.table_name)
    return {"Version": "2012-10-17", "Statement": statements}


def authorizer_policy(config: dict[str, Any], stage: str) -> dict[str, Any]:
    """Read a key, record its last use, read the community's custom roles, read the pepper."""
    env = stage_environment(config, stage)
    settings = stage_settings(config, stage)
    statements = _log_statements(config, stage)
    from chalicelib.storage.key_store import DynamoStore

    statements.append(
        {
            "Sid": "ReadKeyRecord",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem"],
            "Resource": _table_arn(settings.keys_table),
        }
    )
    # UpdateItem exists for the keys' last-use items only: a compromised authorizer must not be
    # able to rewrite a key's status, roles or hash, nor write its key's own item at all.
    # dynamodb:LeadingKeys is the item's key; dynamodb:Attributes lists every attribute a request
    # names (key, update, condition); ReturnValues NONE keeps it from reading through the write.
    from chalicelib.keys.reader import LAST_USE_PREFIX

    statements.append(
        {
            "Sid": "RecordLastUseOnly",
            "Effect": "Allow",
            "Action": ["dynamodb:UpdateItem"],
            "Resource": _table_arn(settings.keys_table),
            "Condition": {
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [LAST_USE_PREFIX + "*"]},
                "ForAllValues:StringEquals": {"dynamodb:Attributes": list(DynamoStore.LAST_USED_ATTRIBUTES)},
                "StringEquals": {"dynamodb:ReturnValues": ["NONE"]},
            },
        }
    )
    roles_table = getattr(settings, "roles_table", None)
    if roles_table:
        statements.append(
            {
                "Sid": "ReadCustomRoles",
                "Effect": "Allow",
                # Only the roles a key holds, by key (BatchGetItem): never the community's whole list.
                "Action": ["dynamodb:BatchGetItem"],
                "Resource": _table_arn(roles_table),
            }
        )
    sources = [env["APIKEYS_PEPPERS_SOURCE"]] if env.get("APIKEYS_PEPPERS_SOURCE") else []
    statements += _secret_statements(sources)
    if sources:
        services = sorted({s.partition(":")[0] for s in sources})
        statements.append(
            _kms_statement("PepperKey", ["kms:Decrypt"], [f"alias/{config['app_name']}-{stage}"], services)
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _secret_statements(sources: list[str]) -> list[dict[str, Any]]:
    by_action: dict[str, list[str]] = {}
    for source in sources:
        action, resource = _secret_read_resource(source)
        by_action.setdefault(action, []).append(resource)
    return [
        {"Sid": f"ReadSecrets{i}", "Effect": "Allow", "Action": [action], "Resource": sorted(set(resources))}
        for i, (action, resources) in enumerate(sorted(by_action.items()))
    ]


# -- files ------------------------------------------------------------------------------------


def _terraform_overrides(config: dict[str, Any], stage: str) -> dict[str, Any]:
    overrides = observability.terraform_overrides()
    resources = overrides["resource"]
    for more in (lifecycle_stack.terraform_overrides(), people_stack.terraform_overrides(config, stage)):
        for kind, blocks in more.items():
            for name, attributes in blocks.items():  # one resource may get settings from several
                resources.setdefault(kind, {}).setdefault(name, {}).update(attributes)
    return overrides


def expected_files() -> dict[Path, str]:
    config = load_config()
    files: dict[Path, str] = {}
    for stage in deployed_stages(config):
        for name, document in (
            (f"resources-{stage}.json", cloudformation_tables(config, stage)),
            (f"resources-{stage}.tf.json", terraform_tables(config, stage)),
            (f"resources-{stage}_override.tf.json", _terraform_overrides(config, stage)),
            (f"policy-{stage}.json", api_policy(config, stage)),
            (f"policy-authorizer-{stage}.json", authorizer_policy(config, stage)),
        ):
            files[CHALICE_DIR / name] = json.dumps(document, indent=2) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if a file differs from what would be written")
    args = parser.parse_args(argv)
    stale = []
    for path, text in expected_files().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path.relative_to(ROOT))
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("out of date (run python scripts/deploy_files.py): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
