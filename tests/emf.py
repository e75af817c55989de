"""The embedded metric format's rules, as CloudWatch applies them to a log line (the EMF
specification: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
CloudWatch drops a document that breaks one of them, silently: the metric never appears."""

from __future__ import annotations

import json
from typing import Any

UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}  # fmt: skip


def problems(document: Any) -> list[str]:
    """What makes ``document`` (a parsed line) an invalid EMF document; empty when it is valid."""
    found: list[str] = []
    if not isinstance(document, dict):
        return ["root: not an object"]
    aws = document.get("_aws")
    if not isinstance(aws, dict):
        return ["_aws: missing or not an object"]
    if not isinstance(aws.get("Timestamp"), int) or isinstance(aws.get("Timestamp"), bool):
        found.append("_aws.Timestamp: not an integer (milliseconds since the epoch)")
    directives = aws.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return [*found, "_aws.CloudWatchMetrics: missing or empty"]
    for i, directive in enumerate(directives):
        where = f"_aws.CloudWatchMetrics[{i}]"
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str) or not 1 <= len(namespace) <= 255:
            found.append(f"{where}.Namespace: not a string of 1-255 characters")
        dimension_sets = directive.get("Dimensions")
        if not isinstance(dimension_sets, list):
            found.append(f"{where}.Dimensions: not an array")
            dimension_sets = []
        for dimension_set in dimension_sets:
            if not isinstance(dimension_set, list) or len(dimension_set) > 30:
                found.append(f"{where}.Dimensions: a set is not an array of at most 30 names")
                continue
            for name in dimension_set:
                if not isinstance(document.get(name), str):
                    found.append(f"{where}.Dimensions: {name!r} is not a string member of the root")
        declared = directive.get("Metrics")
        if not isinstance(declared, list) or not 1 <= len(declared) <= 100:
            found.append(f"{where}.Metrics: not an array of 1-100 metrics")
            declared = []
        for metric in declared:
            name = metric.get("Name") if isinstance(metric, dict) else None
            if not isinstance(name, str) or not 1 <= len(name) <= 1024:
                found.append(f"{where}.Metrics: a name is not a string of 1-1024 characters")
                continue
            if "Unit" in metric and metric["Unit"] not in UNITS:
                found.append(f"{where}.Metrics: {name}: unknown unit {metric['Unit']!r}")
            value = document.get(name)
            values = value if isinstance(value, list) else [value]
            if (
                not values
                or len(values) > 100
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
            ):
                found.append(f"{where}.Metrics: {name}: the root member is not a number or an array of numbers")
    return found


def documents(output: str) -> list[dict[str, Any]]:
    """Every EMF document among the lines of ``output`` (other lines are ordinary logs)."""
    found = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            found.append(json.loads(line))
    return found


def metric_names(document: dict[str, Any]) -> set[str]:
    return {m["Name"] for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
