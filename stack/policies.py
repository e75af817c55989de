"""The IAM policies Chalice gives the functions (``iam_policy_file`` in ``.chalice/config.json``):

- ``api_policy``: the API handler's, and every function's without its own (the scheduled ones,
  ``publish_events``): the stage's tables and indexes, the secrets it reads, the vault targets it
  writes keys into, the KMS keys of both, usage plans, the events stream and bus, and the queue
  a failed invocation goes to;
- ``authorizer_policy``: both authorizers', much smaller: read a key, record its last use and
  nothing else, read the custom roles a key holds, read the pepper.

Every statement names its resources: tables by name, secrets and parameters by prefix, KMS keys
by alias, log groups by the functions' names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stack import lifecycle, observability, usage_plans
from stack.config import StackError, Stage
from stack.tables import arn as table_arn

# Every DynamoDB call the code makes, and no other (tests/deploy/test_stack_policies.py records
# them). TransactWriteItems is authorized per item by these actions.
API_TABLE_ACTIONS = [
    "dynamodb:BatchGetItem",  # a search page's keys, custom roles and leaked tokens, read by key
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
]
INDEX_ACTIONS = ["dynamodb:Query"]
# Write, mark, delete and restore its own secrets or parameters; never read one back.
VAULT_SECRET_ACTIONS = [
    "secretsmanager:CreateSecret",
    "secretsmanager:DeleteSecret",
    "secretsmanager:DescribeSecret",
    "secretsmanager:PutSecretValue",
    "secretsmanager:RestoreSecret",
    "secretsmanager:TagResource",
]
VAULT_PARAMETER_ACTIONS = [
    "ssm:AddTagsToResource",
    "ssm:DeleteParameter",
    "ssm:ListTagsForResource",
    "ssm:PutParameter",
]


def api_policy(stage: Stage) -> dict[str, Any]:
    vault_targets = [dict(t) for t in stage.settings.vault_targets]
    statements = _log_statements(stage)
    tables = stage.table_names
    statements.append(_allow("StageTables", API_TABLE_ACTIONS, [table_arn(t) for t in tables]))
    statements.append(_allow("StageIndexes", INDEX_ACTIONS, [f"{table_arn(t)}/index/*" for t in tables]))
    sources = _read_sources(stage, vault_targets)
    statements += _secret_statements(sources)
    # The scheduled functions (on this policy) hand a failed invocation to their dead-letter queue.
    queue = observability.names(stage)["queue"]
    statements.append(_allow("FailedInvocations", ["sqs:SendMessage"], f"arn:aws:sqs:*:*:{queue}"))
    kms_services = ["secretsmanager"]
    secret_prefixes = [_prefix(t) for t in vault_targets if t.get("kind") == "secretsmanager"]
    if secret_prefixes:
        resources = [f"arn:aws:secretsmanager:*:*:secret:{p}*" for p in secret_prefixes]
        statements.append(_allow("VaultSecrets", VAULT_SECRET_ACTIONS, resources))
    parameter_prefixes = [_prefix(t) for t in vault_targets if t.get("kind") == "ssm"]
    if parameter_prefixes:
        kms_services.append("ssm")
        resources = [f"arn:aws:ssm:*:*:parameter/{p.lstrip('/')}*" for p in parameter_prefixes]
        statements.append(_allow("VaultParameters", VAULT_PARAMETER_ACTIONS, resources))
    if any(s.startswith("ssm:") for s in sources) and "ssm" not in kms_services:
        kms_services.append("ssm")
    statements.append(
        _kms_statement(
            "StageKeys",
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            _kms_aliases(stage, vault_targets),
            kms_services,
        )
    )
    statements += usage_plans.policy_statements(stage)
    statements += lifecycle.policy_statements(stage)
    return {"Version": "2012-10-17", "Statement": statements}


def authorizer_policy(stage: Stage) -> dict[str, Any]:
    """Read a key, record its last use, read the community's custom roles, read the pepper."""
    from chalicelib.keys.reader import LAST_USE_PREFIX, LAST_USED_ATTRIBUTES

    settings = stage.settings
    statements = _log_statements(stage)
    statements.append(_allow("ReadKeyRecord", ["dynamodb:GetItem"], table_arn(settings.keys_table)))
    # UpdateItem exists for the keys' last-use items only: a compromised authorizer must not be
    # able to rewrite a key's status, roles or hash, nor write its key's own item at all.
    # dynamodb:LeadingKeys is the item's key; dynamodb:Attributes lists every attribute a request
    # names (key, update, condition); ReturnValues NONE keeps it from reading through the write.
    record_last_use = _allow("RecordLastUseOnly", ["dynamodb:UpdateItem"], table_arn(settings.keys_table))
    record_last_use["Condition"] = {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [LAST_USE_PREFIX + "*"]},
        "ForAllValues:StringEquals": {"dynamodb:Attributes": list(LAST_USED_ATTRIBUTES)},
        "StringEquals": {"dynamodb:ReturnValues": ["NONE"]},
    }
    statements.append(record_last_use)
    roles_table = getattr(settings, "roles_table", None)
    if roles_table:
        # Only the roles a key holds, by key (BatchGetItem): never the community's whole list.
        statements.append(_allow("ReadCustomRoles", ["dynamodb:BatchGetItem"], table_arn(roles_table)))
    sources = _pepper_sources(stage)
    statements += _secret_statements(sources)
    if sources:
        services = sorted({s.partition(":")[0] for s in sources})
        statements.append(_kms_statement("PepperKey", ["kms:Decrypt"], [f"alias/{stage.prefix}"], services))
    return {"Version": "2012-10-17", "Statement": statements}


def _allow(sid: str, actions: list[str], resource: str | list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}


def _log_statements(stage: Stage) -> list[dict[str, Any]]:
    # Chalice names the API handler <app>-<stage> and every other function <app>-<stage>-<name>.
    base = f"arn:aws:logs:*:*:log-group:/aws/lambda/{stage.prefix}"
    groups = [base, f"{base}-*"]
    return [
        _allow("OwnLogGroups", ["logs:CreateLogGroup"], groups),
        _allow("OwnLogStreams", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{group}:*" for group in groups]),
    ]


# -- secrets and keys -------------------------------------------------------------------------


def _pepper_sources(stage: Stage) -> list[str]:
    source = stage.environment.get("APIKEYS_PEPPERS_SOURCE")
    return [source] if source else []


def _read_sources(stage: Stage, vault_targets: Iterable[dict[str, Any]]) -> list[str]:
    """Secrets read at run time: the peppers, and any vault credentials given as a ``*_source``."""
    sources = _pepper_sources(stage)
    for target in vault_targets:
        sources += [str(v) for k, v in target.items() if k.endswith("_source") and v]
    return sources


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
    raise StackError(f"unknown secret source {source!r}: secretsmanager:<name> or ssm:<name>")


def _secret_statements(sources: list[str]) -> list[dict[str, Any]]:
    by_action: dict[str, list[str]] = {}
    for source in sources:
        action, resource = _secret_read_resource(source)
        by_action.setdefault(action, []).append(resource)
    return [
        _allow(f"ReadSecrets{i}", [action], sorted(set(resources)))
        for i, (action, resources) in enumerate(sorted(by_action.items()))
    ]


def _kms_aliases(stage: Stage, vault_targets: Iterable[dict[str, Any]]) -> list[str]:
    """The stage's own key (it encrypts the pepper secret) and every key a vault target names."""
    aliases = {f"alias/{stage.prefix}"}
    for target in vault_targets:
        for field in ("kms_key_id", "kms_key"):
            value = target.get(field)
            if value:
                aliases.add(str(value) if str(value).startswith("alias/") else f"alias/{value}")
    return sorted(aliases)


def _kms_statement(sid: str, actions: list[str], aliases: list[str], services: list[str]) -> dict[str, Any]:
    # Keys are named by alias: the policy needs no account id or key id, and nothing else matches.
    statement = _allow(sid, actions, "arn:aws:kms:*:*:key/*")
    statement["Condition"] = {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": aliases},
        "StringLike": {"kms:ViaService": [f"{service}.*.amazonaws.com" for service in services]},
    }
    return statement


def _prefix(target: dict[str, Any]) -> str:
    for field in ("prefix", "name_prefix", "path_prefix"):
        if target.get(field):
            return str(target[field])
    raise StackError(f"vault target {target.get('name')!r} names no prefix: the policy cannot be scoped")
