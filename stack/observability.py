"""What an operator sees of a deployed stage: the SNS topic alarms notify, the alarms, one
CloudWatch dashboard, the API's JSON access log, each function's log group (with a retention:
Lambda's own never expire), and the queue where the scheduled functions' and the stream's failed
invocations land. Both formats are rendered from the same specs.

The service's own metrics (namespace ``apikeys``, dimensions ``stage`` and ``face``) are those
``chalicelib/metrics.py`` writes; the others are AWS's own (AWS/Lambda, AWS/DynamoDB, AWS/SQS).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalicelib.metrics import NAMESPACE, REASON_CLASSES
from stack.config import Stage, camel
from stack.functions import AUTHORIZERS, SCHEDULED, cfn_function_id, function_name, lambda_functions

OUTCOME_IDS = (("u", "Unauthorized"), ("a", "Allow"), ("d", "Deny"))
TOTAL = "FILL(u,0)+FILL(a,0)+FILL(d,0)"
PERIOD = 300
FACES = {"app": "app_authorizer", "gateway": "gateway_authorizer"}
TABLE_OPERATIONS = ("GetItem", "Query", "TransactWriteItems", "UpdateItem", "PutItem", "DeleteItem", "BatchWriteItem")
# The failed-invocations queue, as the other subjects' resources name it.
FAILED_QUEUE_CFN = {"Fn::GetAtt": ["FailedInvocations", "Arn"]}
FAILED_QUEUE_TF = "${aws_sqs_queue.failed_invocations.arn}"
QUEUE_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's longest
# JSON, one line per request; never a header: the Authorization header holds the key.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "keyId": "$context.authorizer.key_id",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "method": "$context.httpMethod",
        "resource": "$context.resourcePath",
        "sourceIp": "$context.identity.sourceIp",
        "time": "$context.requestTimeEpoch",
        "authorizerError": "$context.authorizer.error",
        # The Lambda request ids of the authorizer's and the integration's invocations: the
        # decision line (``request_id``) and the handler's log lines join a request on them.
        "authorizerRequestId": "$context.authorizer.requestId",
        "integrationRequestId": "$context.integration.requestId",
    },
    separators=(",", ":"),
)

# API Gateway's execution log: errors only, and never the data trace (full requests, headers
# included: the Authorization header holds the key).
EXECUTION_LOG_LEVEL = "ERROR"

# Per-method ("detailed") API Gateway metrics are custom metrics, seven per route and method, each
# billed like any custom metric; no alarm or widget reads them. The stage's own metrics (Count,
# 4XXError, 5XXError, Latency, IntegrationLatency per API and stage) are free and always sent.
DETAILED_METRICS = False

# Each function's log group, declared so its lines expire. The access log (365 days) keeps every
# request's key id, status and both Lambda request ids for a year; the functions' own lines
# (decisions with their reasons, errors) for a quarter: long enough to look into a leak reported late.
FUNCTION_LOG_RETENTION_DAYS = 90
ACCESS_LOG_RETENTION_DAYS = 365


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: dict[str, str]
    stat: str = "Sum"


@dataclass(frozen=True)
class Alarm:
    key: str  # resource name suffix
    description: str
    metrics: dict[str, Metric]  # id → metric
    threshold: float
    expression: str = ""  # metric math over the ids; empty: the one metric itself
    comparison: str = "GreaterThanOrEqualToThreshold"
    periods: int = 1


def names(stage: Stage) -> dict[str, str]:
    return {
        "topic": f"{stage.prefix}-alarms",
        "queue": f"{stage.prefix}-failed-invocations",
        "access_log": f"/aws/apigateway/{stage.prefix}-access",
        "dashboard": stage.prefix,
    }


# -- what is watched --------------------------------------------------------------------------


def alarms(stage: Stage) -> list[Alarm]:
    found: list[Alarm] = []
    for function in AUTHORIZERS + SCHEDULED:
        lambda_name = function_name(stage, function)
        for metric in ("Errors", "Throttles"):
            if function in SCHEDULED and metric == "Throttles":
                continue
            what = "failed" if function in SCHEDULED else f"{metric.lower()}: keys are being refused"
            found.append(
                Alarm(
                    f"{function}-{metric.lower()}",
                    f"{lambda_name} {what}",
                    {"m": Metric("AWS/Lambda", metric, {"FunctionName": lambda_name})},
                    1,
                )
            )
    for face in FACES:
        dims = {"stage": stage.name, "face": face}
        found.append(
            Alarm(
                f"{face}-unauthorized-rate",
                f"over half of the {face} authorizer's decisions are Unauthorized (at least 20 decisions "
                "in 5 minutes): a leaked-key scan, a broken client, or the table failing closed",
                {k: Metric(NAMESPACE, name, dims) for k, name in OUTCOME_IDS},
                50,
                expression=f"IF({TOTAL} >= 20, 100*FILL(u,0)/({TOTAL}), 0)",
                comparison="GreaterThanThreshold",
            )
        )
    for metric, label in (("VaultFailures", "a vault refused or timed out"), ("StoreErrors", "the key store failed")):
        found.append(
            Alarm(
                metric.lower(),
                f"{label} (API handler, 503/502 answers)",
                {"m": Metric(NAMESPACE, metric, {"stage": stage.name, "face": "api"})},
                1,
            )
        )
    for table in stage.table_names:
        for metric in ("ThrottledRequests", "SystemErrors"):
            ids = {
                f"m{i}": Metric("AWS/DynamoDB", metric, {"TableName": table, "Operation": op})
                for i, op in enumerate(TABLE_OPERATIONS)
            }
            found.append(
                Alarm(
                    f"{table.removeprefix(stage.prefix + '-')}-{metric.lower()}",
                    f"DynamoDB {metric} on {table}",
                    ids,
                    1,
                    expression="+".join(f"FILL({i},0)" for i in ids),
                )
            )
    queue = names(stage)["queue"]
    found.append(
        Alarm(
            "failed-invocations",
            f"a scheduled function gave up on an invocation: see the queue {queue}",
            {"m": Metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue}, "Maximum")},
            1,
        )
    )
    return found


def dashboard_body(stage: Stage, region: str) -> str:
    """The dashboard's JSON; ``region`` is an expression of the format (Fn::Sub or Terraform)."""

    def widget(title: str, metrics: list[list[Any]], y: int, x: int = 0, stat: str = "Sum") -> dict[str, Any]:
        return {
            "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
            "properties": {"title": title, "region": region, "stat": stat, "period": PERIOD, "view": "timeSeries",
                           "metrics": metrics},
        }  # fmt: skip

    def own(metric: str, face: str, *options: dict[str, str]) -> list[Any]:
        return [NAMESPACE, metric, "stage", stage.name, "face", face, *options]

    decisions = [own(outcome, face) for face in FACES for outcome in ("Allow", "Deny", "Unauthorized")]
    reasons = [own(f"Reason_{r}", face) for face in FACES for r in REASON_CLASSES]
    latency = [
        own("DecisionLatency", face, {"stat": stat, "label": f"{face} {stat}"})
        for face in FACES
        for stat in ("p50", "p99")
    ]
    api = [own(m, "api") for m in ("KeysCreated", "KeysRevoked", "KeysRotated", "VaultFailures", "StoreErrors")]
    scheduled = [own("PendingSwept", "sweeper"), own("GraceFinished", "grace")]
    lambdas = [
        ["AWS/Lambda", metric, "FunctionName", function_name(stage, name)]
        for name in AUTHORIZERS + SCHEDULED
        for metric in ("Errors", "Throttles")
    ]
    widgets = [
        widget("Authorizer decisions by outcome", decisions, 0),
        widget("Authorizer decisions by reason", reasons, 0, 12),
        widget("Decision latency (ms)", latency, 6, stat="p50"),
        widget("Keys created, revoked, rotated; vault and store failures", api, 6, 12),
        widget("Scheduled functions: swept, grace finished", scheduled, 12),
        widget("Lambda errors and throttles", lambdas, 12, 12),
    ]
    return json.dumps({"widgets": widgets}, separators=(",", ":"))


# -- CloudFormation ---------------------------------------------------------------------------


def cloudformation(stage: Stage) -> dict[str, Any]:
    """Resources to merge into Chalice's SAM template (``chalice package --merge-template``): new
    ones, and properties Chalice does not set on its own (access log, dead-letter queues)."""
    n = names(stage)
    resources: dict[str, Any] = {
        "AlarmTopic": {
            "Type": "AWS::SNS::Topic",
            # Subscribe an address, a chat hook or a pager to this topic to receive the alarms.
            "Properties": {"TopicName": n["topic"], "KmsMasterKeyId": "alias/aws/sns"},
        },
        "FailedInvocations": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": n["queue"],
                "SqsManagedSseEnabled": True,
                "MessageRetentionPeriod": QUEUE_RETENTION_SECONDS,
            },
        },
        "AccessLog": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": n["access_log"], "RetentionInDays": ACCESS_LOG_RETENTION_DAYS},
        },
        "RestAPI": {
            "Properties": {
                "TracingEnabled": stage.xray,
                "MethodSettings": [
                    {
                        "ResourcePath": "/*",
                        "HttpMethod": "*",
                        "MetricsEnabled": DETAILED_METRICS,
                        "LoggingLevel": EXECUTION_LOG_LEVEL,
                        "DataTraceEnabled": False,
                    }
                ],  # fmt: skip
                "AccessLogSetting": {
                    "DestinationArn": {"Fn::GetAtt": ["AccessLog", "Arn"]},
                    "Format": ACCESS_LOG_FORMAT,
                },
            }
        },
        "Dashboard": {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": n["dashboard"],
                "DashboardBody": {"Fn::Sub": dashboard_body(stage, "${AWS::Region}")},
            },
        },
    }
    for function in lambda_functions():
        logical = cfn_function_id(function)
        # SAM would name it <stack>-<logical id>-<random>: the alarms, the dashboard and the IAM
        # policies' log-group statements name apikeys-<stage>-<function>, as Terraform's output does.
        resources[logical] = {"Properties": {"FunctionName": function_name(stage, function)}}
        resources[f"{logical}Logs"] = {
            "Type": "AWS::Logs::LogGroup",
            # Without it Lambda makes /aws/lambda/<name> on the first line, and keeps it forever.
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{{logical}}}"},
                "RetentionInDays": FUNCTION_LOG_RETENTION_DAYS,
            },
        }
    for function in SCHEDULED:
        resources.setdefault(cfn_function_id(function), {}).setdefault("Properties", {})["DeadLetterQueue"] = {
            "Type": "SQS",
            "TargetArn": FAILED_QUEUE_CFN,
        }
    for alarm in alarms(stage):
        resources["Alarm" + camel(alarm.key)] = _cfn_alarm(alarm, stage)
    return resources


def _cfn_alarm(alarm: Alarm, stage: Stage) -> dict[str, Any]:
    metrics: list[dict[str, Any]] = []
    if alarm.expression:
        metrics.append({"Id": "e", "Expression": alarm.expression, "Label": alarm.key, "ReturnData": True})
    for metric_id, metric in alarm.metrics.items():
        metrics.append(
            {
                "Id": metric_id,
                "MetricStat": {
                    "Metric": {
                        "Namespace": metric.namespace,
                        "MetricName": metric.name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in metric.dimensions.items()],
                    },
                    "Period": PERIOD,
                    "Stat": metric.stat,
                },
                "ReturnData": not alarm.expression,
            }
        )
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": f"{stage.prefix}-{alarm.key}",
            "AlarmDescription": alarm.description,
            "Metrics": metrics,
            "Threshold": alarm.threshold,
            "ComparisonOperator": alarm.comparison,
            "EvaluationPeriods": alarm.periods,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": "AlarmTopic"}],
            "OKActions": [{"Ref": "AlarmTopic"}],
        },
    }


# -- Terraform --------------------------------------------------------------------------------


def terraform(stage: Stage) -> dict[str, Any]:
    """New resources, applied beside ``chalice.tf.json``."""
    n = names(stage)
    return {
        "aws_sns_topic": {"alarms": {"name": n["topic"], "kms_master_key_id": "alias/aws/sns"}},
        "aws_sqs_queue": {
            "failed_invocations": {
                "name": n["queue"],
                "sqs_managed_sse_enabled": True,
                "message_retention_seconds": QUEUE_RETENTION_SECONDS,
            }
        },  # fmt: skip
        "aws_cloudwatch_metric_alarm": {
            alarm.key.replace("-", "_"): _tf_alarm(alarm, stage) for alarm in alarms(stage)
        },
        "aws_cloudwatch_log_group": {
            "access_log": {"name": n["access_log"], "retention_in_days": ACCESS_LOG_RETENTION_DAYS},
            **{
                f"{function}_logs": {
                    "name": f"/aws/lambda/${{aws_lambda_function.{function}.function_name}}",
                    "retention_in_days": FUNCTION_LOG_RETENTION_DAYS,
                }
                for function in lambda_functions()
            },
        },
        # Chalice's Terraform makes the stage inside ``aws_api_gateway_deployment``, which has no
        # access log setting: the stage is a resource of its own here (the override below takes
        # it out of the deployment), as the AWS provider recommends.
        "aws_api_gateway_stage": {
            "rest_api": {
                "stage_name": stage.setting("api_gateway_stage", "api"),
                "rest_api_id": "${aws_api_gateway_rest_api.rest_api.id}",
                "deployment_id": "${aws_api_gateway_deployment.rest_api.id}",
                "xray_tracing_enabled": stage.xray,
                "access_log_settings": [
                    {"destination_arn": "${aws_cloudwatch_log_group.access_log.arn}", "format": ACCESS_LOG_FORMAT}
                ],
                "tags": stage.tags,
            }
        },
        "aws_api_gateway_method_settings": {
            "rest_api": {
                "rest_api_id": "${aws_api_gateway_rest_api.rest_api.id}",
                "stage_name": "${aws_api_gateway_stage.rest_api.stage_name}",
                "method_path": "*/*",
                "settings": [
                    {
                        "metrics_enabled": DETAILED_METRICS,
                        "logging_level": EXECUTION_LOG_LEVEL,
                        "data_trace_enabled": False,
                    }
                ],
            }
        },  # fmt: skip
        "aws_cloudwatch_dashboard": {
            "main": {
                "dashboard_name": n["dashboard"],
                "dashboard_body": dashboard_body(stage, "${data.aws_region.chalice.name}"),
            }
        },
    }


def _tf_alarm(alarm: Alarm, stage: Stage) -> dict[str, Any]:
    queries: list[dict[str, Any]] = []
    if alarm.expression:
        queries.append({"id": "e", "expression": alarm.expression, "label": alarm.key, "return_data": True})
    for metric_id, metric in alarm.metrics.items():
        queries.append(
            {
                "id": metric_id,
                "return_data": not alarm.expression,
                "metric": [
                    {
                        "namespace": metric.namespace,
                        "metric_name": metric.name,
                        "dimensions": dict(metric.dimensions),
                        "period": PERIOD,
                        "stat": metric.stat,
                    }
                ],
            }
        )
    return {
        "alarm_name": f"{stage.prefix}-{alarm.key}",
        "alarm_description": alarm.description,
        "metric_query": queries,
        "threshold": alarm.threshold,
        "comparison_operator": alarm.comparison,
        "evaluation_periods": alarm.periods,
        "treat_missing_data": "notBreaching",
        "alarm_actions": ["${aws_sns_topic.alarms.arn}"],
        "ok_actions": ["${aws_sns_topic.alarms.arn}"],
    }


def terraform_overrides() -> dict[str, Any]:
    """Settings on Chalice's own Terraform resources (a Terraform override file merges them)."""
    dead_letter = [{"target_arn": FAILED_QUEUE_TF}]
    return {
        "resource": {
            "aws_lambda_function": {name: {"dead_letter_config": dead_letter} for name in SCHEDULED},
            # The stage is ``aws_api_gateway_stage.rest_api`` (see ``terraform``); a new API
            # document still makes a new deployment, through ``triggers`` instead of the stage's
            # description. ``null`` unsets an attribute in an override file.
            "aws_api_gateway_deployment": {
                "rest_api": {
                    "stage_name": None,
                    "stage_description": None,
                    "triggers": {"api_document": "${md5(local.chalice_api_swagger)}"},
                }
            },
        },
        "output": {"EndpointURL": {"value": "${aws_api_gateway_stage.rest_api.invoke_url}"}},
    }
