"""What an operator sees of a deployed stage, for ``scripts/deploy_files.py``: the SNS topic alarms
notify, the alarms, one CloudWatch dashboard, the API's JSON access log, each function's log group
(with a retention: Lambda's own never expire), and the queue where the scheduled functions' failed
invocations land. Both formats are rendered from the same specs.

The EMF metrics (namespace ``apikeys``, dimensions ``stage`` and ``face``) are those
``chalicelib/metrics.py`` writes; the others are AWS's own (AWS/Lambda, AWS/DynamoDB, AWS/SQS).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

NAMESPACE = "apikeys"
OUTCOME_IDS = (("u", "Unauthorized"), ("a", "Allow"), ("d", "Deny"))
TOTAL = "FILL(u,0)+FILL(a,0)+FILL(d,0)"
PERIOD = 300
AUTHORIZERS = ("app_authorizer", "gateway_authorizer")
SCHEDULED = ("sweep_pending", "finish_grace", "remind_expiring")
FACES = {"app": "app_authorizer", "gateway": "gateway_authorizer"}
TABLE_OPERATIONS = ("GetItem", "Query", "TransactWriteItems", "UpdateItem", "PutItem", "DeleteItem", "BatchWriteItem")
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
    extra: dict[str, Any] = field(default_factory=dict)


def names(config: dict[str, Any], stage: str) -> dict[str, str]:
    app = config["app_name"]
    return {
        "prefix": f"{app}-{stage}",
        "topic": f"{app}-{stage}-alarms",
        "queue": f"{app}-{stage}-failed-invocations",
        "access_log": f"/aws/apigateway/{app}-{stage}-access",
        "dashboard": f"{app}-{stage}",
    }


def _function(config: dict[str, Any], stage: str, name: str) -> str:
    return f"{config['app_name']}-{stage}-{name}"


API_HANDLER = "api_handler"


def lambda_functions() -> list[str]:
    """Every function ``chalice package`` makes of the app, by Chalice's name for it: the API
    handler, the authorizers, the pure and the scheduled functions."""
    from app import app

    names = [API_HANDLER] if app.routes else []
    names += [auth.name for auth in app.builtin_auth_handlers]
    names += [function.name for function in app.pure_lambda_functions]
    names += [source.name for source in app.event_sources]
    return sorted(names)


def cfn_function_id(name: str) -> str:
    """The function's logical id in Chalice's SAM template."""
    from chalice.utils import to_cfn_resource_name

    return "APIHandler" if name == API_HANDLER else to_cfn_resource_name(name)


def alarms(config: dict[str, Any], stage: str, tables: list[str]) -> list[Alarm]:
    found: list[Alarm] = []
    for function in AUTHORIZERS + SCHEDULED:
        lambda_name = _function(config, stage, function)
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
        dims = {"stage": stage, "face": face}
        found.append(
            Alarm(
                f"{face}-unauthorized-rate",
                f"over half of the {face} authorizer's decisions are Unauthorized (at least 20 decisions "
                "in 5 minutes): a leaked-key scan, a broken client, or the table failing closed",
                {
                    k: Metric(NAMESPACE, name, dims)
                    for k, name in (("u", "Unauthorized"), ("a", "Allow"), ("d", "Deny"))
                },
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
                {"m": Metric(NAMESPACE, metric, {"stage": stage, "face": "api"})},
                1,
            )
        )
    for table in tables:
        for metric in ("ThrottledRequests", "SystemErrors"):
            ids = {
                f"m{i}": Metric("AWS/DynamoDB", metric, {"TableName": table, "Operation": op})
                for i, op in enumerate(TABLE_OPERATIONS)
            }
            found.append(
                Alarm(
                    f"{table.removeprefix(names(config, stage)['prefix'] + '-')}-{metric.lower()}",
                    f"DynamoDB {metric} on {table}",
                    ids,
                    1,
                    expression="+".join(f"FILL({i},0)" for i in ids),
                )
            )
    queue = names(config, stage)["queue"]
    found.append(
        Alarm(
            "failed-invocations",
            f"a scheduled function gave up on an invocation: see the queue {queue}",
            {"m": Metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue}, "Maximum")},
            1,
        )
    )
    return found


def _cfn_alarm(alarm: Alarm, config: dict[str, Any], stage: str) -> dict[str, Any]:
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
            "AlarmName": f"{names(config, stage)['prefix']}-{alarm.key}",
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


def _tf_alarm(alarm: Alarm, config: dict[str, Any], stage: str) -> dict[str, Any]:
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
        "alarm_name": f"{names(config, stage)['prefix']}-{alarm.key}",
        "alarm_description": alarm.description,
        "metric_query": queries,
        "threshold": alarm.threshold,
        "comparison_operator": alarm.comparison,
        "evaluation_periods": alarm.periods,
        "treat_missing_data": "notBreaching",
        "alarm_actions": ["${aws_sns_topic.alarms.arn}"],
        "ok_actions": ["${aws_sns_topic.alarms.arn}"],
    }


def dashboard_body(config: dict[str, Any], stage: str, region: str) -> str:
    """The dashboard's JSON; ``region`` is an expression of the format (Fn::Sub or Terraform)."""

    def widget(title: str, metrics: list[list[Any]], y: int, x: int = 0, stat: str = "Sum") -> dict[str, Any]:
        return {
            "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
            "properties": {"title": title, "region": region, "stat": stat, "period": PERIOD, "view": "timeSeries",
                           "metrics": metrics},
        }  # fmt: skip

    decisions = [
        [NAMESPACE, outcome, "stage", stage, "face", face]
        for face in FACES
        for outcome in ("Allow", "Deny", "Unauthorized")
    ]
    from chalicelib.metrics import REASON_CLASSES

    reasons = [[NAMESPACE, f"Reason_{r}", "stage", stage, "face", face] for face in FACES for r in REASON_CLASSES]
    latency = [
        [NAMESPACE, "DecisionLatency", "stage", stage, "face", face, {"stat": stat, "label": f"{face} {stat}"}]
        for face in FACES
        for stat in ("p50", "p99")
    ]
    api = [[NAMESPACE, m, "stage", stage, "face", "api"] for m in ("KeysCreated", "KeysRevoked", "KeysRotated",
                                                                   "VaultFailures", "StoreErrors")]  # fmt: skip
    scheduled = [[NAMESPACE, "PendingSwept", "stage", stage, "face", "sweeper"],
                 [NAMESPACE, "GraceFinished", "stage", stage, "face", "grace"]]  # fmt: skip
    lambdas = [
        ["AWS/Lambda", metric, "FunctionName", _function(config, stage, name)]
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


def cloudformation(config: dict[str, Any], stage: str, tables: list[str]) -> dict[str, Any]:
    """Resources to merge into Chalice's SAM template (``chalice package --merge-template``): new
    ones, and properties Chalice does not set on its own (access log, dead-letter queues)."""
    n = names(config, stage)
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
                "MessageRetentionPeriod": 1209600,
            },
        },
        "AccessLog": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": n["access_log"], "RetentionInDays": ACCESS_LOG_RETENTION_DAYS},
        },
        "RestAPI": {
            "Properties": {
                "TracingEnabled": _xray(config, stage),
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
                "DashboardBody": {"Fn::Sub": dashboard_body(config, stage, "${AWS::Region}")},
            },
        },
    }
    for function in lambda_functions():
        logical = cfn_function_id(function)
        # SAM would name it <stack>-<logical id>-<random>: the alarms, the dashboard and the IAM
        # policies' log-group statements name apikeys-<stage>-<function>, as Terraform's output does.
        name = f"{config['app_name']}-{stage}" + ("" if function == API_HANDLER else f"-{function}")  # Chalice's names
        resources[logical] = {"Properties": {"FunctionName": name}}
        resources[f"{logical}Logs"] = {
            "Type": "AWS::Logs::LogGroup",
            # Without it Lambda makes /aws/lambda/<name> on the first line, and keeps it forever.
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{{logical}}}"},
                "RetentionInDays": FUNCTION_LOG_RETENTION_DAYS,
            },
        }
    for function in SCHEDULED:
        logical = "".join(part.capitalize() for part in function.split("_"))
        resources.setdefault(logical, {}).setdefault("Properties", {})["DeadLetterQueue"] = {
            "Type": "SQS",
            "TargetArn": {"Fn::GetAtt": ["FailedInvocations", "Arn"]},
        }
    for alarm in alarms(config, stage, tables):
        logical = "Alarm" + "".join(part.capitalize() for part in alarm.key.replace("_", "-").split("-"))
        resources[logical] = _cfn_alarm(alarm, config, stage)
    return resources


def terraform(config: dict[str, Any], stage: str, tables: list[str]) -> dict[str, Any]:
    """New resources, applied beside ``chalice.tf.json``."""
    n = names(config, stage)
    return {
        "aws_sns_topic": {"alarms": {"name": n["topic"], "kms_master_key_id": "alias/aws/sns"}},
        "aws_sqs_queue": {
            "failed_invocations": {
                "name": n["queue"],
                "sqs_managed_sse_enabled": True,
                "message_retention_seconds": 1209600,
            }
        },  # fmt: skip
        "aws_cloudwatch_metric_alarm": {
            alarm.key.replace("-", "_"): _tf_alarm(alarm, config, stage) for alarm in alarms(config, stage, tables)
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
                "stage_name": _stage_setting(config, stage, "api_gateway_stage", "api"),
                "rest_api_id": "${aws_api_gateway_rest_api.rest_api.id}",
                "deployment_id": "${aws_api_gateway_deployment.rest_api.id}",
                "xray_tracing_enabled": _xray(config, stage),
                "access_log_settings": [
                    {"destination_arn": "${aws_cloudwatch_log_group.access_log.arn}", "format": ACCESS_LOG_FORMAT}
                ],
                "tags": {"app": config["app_name"], "stage": stage},
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
                "dashboard_body": dashboard_body(config, stage, "${data.aws_region.chalice.name}"),
            }
        },
    }


def terraform_overrides() -> dict[str, Any]:
    """Settings on Chalice's own Terraform resources (a Terraform override file merges them)."""
    dead_letter = [{"target_arn": "${aws_sqs_queue.failed_invocations.arn}"}]
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


def _stage_setting(config: dict[str, Any], stage: str, name: str, default: Any) -> Any:
    return config["stages"][stage].get(name, config.get(name, default))


def _xray(config: dict[str, Any], stage: str) -> bool:
    """X-Ray is a stage option (``"xray": true`` in .chalice/config.json): Chalice traces the
    functions, the packaged stack traces the API's stage too."""
    return bool(_stage_setting(config, stage, "xray", False))
