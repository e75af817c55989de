"""The generated alarms and dashboard against what the code emits: every metric of the service's
namespace they read is one ``chalicelib`` writes (by name, stage and face), every AWS metric names
a function, table or queue the stage deploys, and no two alarms share a resource name (a
collision would silently drop one from the template)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from chalicelib import metrics
from stack import observability
from stack.config import Stage, load_config
from stack.functions import function_name, lambda_functions

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config()
STAGES = [Stage(CONFIG, name) for name in CONFIG["stages"] if name != "local"]


def emitted() -> set[tuple[str, str]]:
    """(face, metric name) pairs the code writes, read from its source: every
    ``metrics.count(<face>, <name>)``, and each authorizer's decision metrics for every face a
    decision is logged under (``face="..."`` in chalicelib)."""
    counted: set[tuple[str, str]] = set()
    decision_faces: set[str] = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            function = node.func
            if isinstance(function, ast.Attribute) and function.attr == "count" and len(node.args) >= 2:
                face, name = node.args[:2]
                if isinstance(face, ast.Constant) and isinstance(name, ast.Constant):
                    counted.add((str(face.value), str(name.value)))
            for keyword in node.keywords:
                if keyword.arg == "face" and isinstance(keyword.value, ast.Constant):
                    decision_faces.add(str(keyword.value.value))
    decision = {*metrics.OUTCOME_METRICS.values(), "DecisionLatency", *(f"Reason_{r}" for r in metrics.REASON_CLASSES)}
    return counted | {(face, name) for face in decision_faces for name in decision}


def test_the_source_scan_finds_what_the_code_emits():
    found = emitted()
    assert {("api", "VaultFailures"), ("sweeper", "PendingSwept"), ("grace", "GraceFinished")} <= found
    assert {("app", "Unauthorized"), ("gateway", "DecisionLatency")} <= found


def _watched(stage: Stage) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric, dimensions) of every alarm's metrics and every dashboard line."""
    found = [
        (metric.namespace, metric.name, metric.dimensions)
        for alarm in observability.alarms(stage)
        for metric in alarm.metrics.values()
    ]
    body = json.loads(observability.dashboard_body(stage, "us-east-1"))
    for widget in body["widgets"]:
        for line in widget["properties"]["metrics"]:
            namespace, name, *rest = [part for part in line if not isinstance(part, dict)]
            found.append((namespace, name, dict(zip(rest[::2], rest[1::2], strict=True))))
    return found


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_every_metric_watched_is_one_the_code_or_aws_emits_for_this_stage(stage):
    code = emitted()
    functions = {function_name(stage, name) for name in lambda_functions()}
    queue = observability.names(stage)["queue"]
    for namespace, name, dimensions in _watched(stage):
        if namespace == metrics.NAMESPACE:
            assert set(dimensions) == set(metrics.DIMENSIONS), (name, dimensions)
            assert dimensions["stage"] == stage.name, (name, dimensions)
            assert (dimensions["face"], name) in code, f"{name} of face {dimensions['face']} is never written"
        elif namespace == "AWS/Lambda":
            assert dimensions == {"FunctionName": dimensions["FunctionName"]}
            assert dimensions["FunctionName"] in functions, dimensions
        elif namespace == "AWS/DynamoDB":
            assert dimensions["TableName"] in stage.table_names, dimensions
        elif namespace == "AWS/SQS":
            assert dimensions == {"QueueName": queue}
        else:
            pytest.fail(f"unexpected namespace {namespace}")


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_every_alarm_gets_a_resource_of_its_own_in_both_formats(stage):
    alarms = observability.alarms(stage)
    cfn = [r for r in observability.cloudformation(stage).values() if r.get("Type") == "AWS::CloudWatch::Alarm"]
    tf = observability.terraform(stage)["aws_cloudwatch_metric_alarm"]
    names = {alarm.key for alarm in alarms}
    assert len(names) == len(alarms)
    assert len(cfn) == len(tf) == len(alarms), "two alarms took one resource name"
    assert {r["Properties"]["AlarmName"] for r in cfn} == {a["alarm_name"] for a in tf.values()}
    assert {r["Properties"]["AlarmName"] for r in cfn} == {f"{stage.prefix}-{key}" for key in names}
