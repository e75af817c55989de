"""What running the service costs: a million decisions and 1,000 creates; prints figures and a
Markdown table, asserts nothing.

    .venv/bin/python bench/cost.py [--stage dev] [--runs 20] [--cache-hits 0.9]

Measured (``bench/deployed_run.py``: fresh interpreters with the stage's settings, DynamoDB
Local and moto on loopback): the DynamoDB capacity each call consumes
(``ReturnConsumedCapacity=INDEXES``), the bytes each decision logs, and the warm duration of a
decision and of a create on this machine. From the packaged settings (``.chalice/config.json``,
as ``chalice package`` reads it): each function's memory size and X-Ray mode. Priced at the list
prices below (US East, N. Virginia; on-demand DynamoDB; REST API; x86 Lambda), free tiers left out.

Assumptions, each printed: a decision's last-use write happens on every decision (the worst
case: each key used less often than once per ``APIKEYS_LAST_USED_INTERVAL`` in its container);
with API Gateway's authorizer cache on, ``--cache-hits`` of the decisions are answered from it
(no Lambda, no read, no log line). Lambda's own START/END/REPORT lines are counted at
``LAMBDA_LINES_BYTES`` per invocation. Durations here are against DynamoDB Local on loopback:
in AWS a call to DynamoDB in the region takes a few ms, billed by the ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.deployed_run import measure, units  # noqa: E402 - needs the project root on the path
from bench.memory import configured_memory  # noqa: E402

# US East (N. Virginia) list prices, USD.
PRICES = {
    "lambda_request": 0.20 / 1e6,  # per request
    "lambda_gb_second": 0.0000166667,  # per GB-second, x86
    "ddb_wru": 0.625 / 1e6,  # on-demand, per write request unit
    "ddb_rru": 0.125 / 1e6,  # on-demand, per read request unit
    "apigw_rest_request": 3.50 / 1e6,  # REST API, first 333 million a month
    "logs_gb": 0.50,  # CloudWatch Logs ingestion (standard), per GB
    "xray_trace": 5.00 / 1e6,  # per trace recorded
    "secret_month": 0.40,  # Secrets Manager, per secret and month
    "secret_call": 0.05 / 1e4,  # Secrets Manager, per API call
    "metric_month": 0.30,  # CloudWatch custom metric, per metric and month (first 10,000)
}
LAMBDA_LINES_BYTES = 260  # START, END and REPORT: what Lambda itself logs per invocation
DETAILED_METRICS_PER_METHOD = 7  # Count, 4XX, 5XX, Latency, IntegrationLatency, CacheHit, CacheMiss


def _tracing(stage: str) -> dict[str, bool]:
    """Whether each function starts traces of its own (X-Ray Active), as packaged."""
    from stack.config import function_setting, load_config
    from stack.functions import lambda_functions

    config = load_config()
    return {name: bool(function_setting(config, stage, name, "xray", False)) for name in lambda_functions()}


def _routes() -> int:
    from app import app

    return sum(len(methods) for methods in app.routes.values())


def decision_costs(report: dict[str, Any], memory_mb: int, traced: bool, hit_ratio: float) -> list[tuple[str, float]]:
    """(line, USD) per million decisions, ``hit_ratio`` of them answered by API Gateway's cache."""
    decisions = 1e6
    invoked = decisions * (1 - hit_ratio)
    read_units = units(report["read_calls"], "read")
    write_units = units(report["write_calls"], "write")
    ms = report["warm_write_ms"]  # the dearer of the two: a read and the last-use write
    lines = [line for line in report["stdout"].splitlines() if '"authorizer.decision"' in line]
    log_bytes = statistics.mean(len(line.encode()) + 1 for line in lines) + LAMBDA_LINES_BYTES
    gb_seconds = invoked * memory_mb / 1024 * max(1, round(ms)) / 1000
    return [
        ("API Gateway REST requests", decisions * PRICES["apigw_rest_request"]),
        ("Lambda requests", invoked * PRICES["lambda_request"]),
        (f"Lambda duration ({memory_mb} MB × {max(1, round(ms))} ms)", gb_seconds * PRICES["lambda_gb_second"]),
        (f"DynamoDB read ({read_units:g} RRU: the key, strongly consistent)", invoked * read_units * PRICES["ddb_rru"]),
        (
            f"DynamoDB last-use write ({write_units:g} WRU, every decision: worst case)",
            invoked * write_units * PRICES["ddb_wru"],
        ),  # fmt: skip
        (f"CloudWatch Logs ({log_bytes:.0f} B a decision)", invoked * log_bytes / 1e9 * PRICES["logs_gb"]),
        (
            "X-Ray (authorizer " + ("Active" if traced else "PassThrough: no trace of its own") + ")",
            invoked * PRICES["xray_trace"] if traced else 0.0,
        ),  # fmt: skip
    ]


def create_costs(report: dict[str, Any], memory_mb: int, traced: bool) -> list[tuple[str, float]]:
    """(line, USD) per 1,000 creates through the API (the app authorizer's answer cached)."""
    creates = 1000
    read_units = units(report["create_calls"], "read")
    write_units = units(report["create_calls"], "write")
    ms = max(1, round(report["warm_create_ms"]))
    gb_seconds = creates * memory_mb / 1024 * ms / 1000
    return [
        ("API Gateway REST requests", creates * PRICES["apigw_rest_request"]),
        ("Lambda requests", creates * PRICES["lambda_request"]),
        (f"Lambda duration ({memory_mb} MB × {ms} ms)", gb_seconds * PRICES["lambda_gb_second"]),
        (
            f"DynamoDB writes ({write_units:g} WRU a create: key, audit event, count, search entry, indexes)",
            creates * write_units * PRICES["ddb_wru"],
        ),  # fmt: skip
        (f"DynamoDB reads ({read_units:g} RRU a create)", creates * read_units * PRICES["ddb_rru"]),
        (
            "X-Ray (API handler " + ("Active: one trace a create" if traced else "PassThrough") + ")",
            creates * PRICES["xray_trace"] if traced else 0.0,
        ),  # fmt: skip
    ]


def table(rows: list[tuple[str, list[float]]], headers: list[str]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for label, values in rows:
        out.append(f"| {label} | " + " | ".join(f"${v:,.4f}" if v < 1 else f"${v:,.2f}" for v in values) + " |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cache-hits", type=float, default=0.9, help="share of decisions API Gateway's cache answers")
    args = parser.parse_args()

    reports = measure(args.stage, args.runs)
    memory, tracing = configured_memory(args.stage), _tracing(args.stage)
    authorizer, api = reports["authorizer"], reports["api"]

    off = decision_costs(authorizer, memory["gateway_authorizer"], tracing["gateway_authorizer"], 0.0)
    on = decision_costs(authorizer, memory["gateway_authorizer"], tracing["gateway_authorizer"], args.cache_hits)
    rows = [(label, [a, b]) for (label, a), (_, b) in zip(off, on, strict=True)]
    rows.append(("**total**", [sum(v for _, v in off), sum(v for _, v in on)]))
    hits = f"cache on ({args.cache_hits:.0%} hits)"
    print(f"## What it costs (stage {args.stage}, US East list prices)\n")
    print("### One million decisions\n")
    print(table(rows, ["", "cache off", hits]))

    creates = create_costs(api, memory["api_handler"], tracing["api_handler"])
    print("\n### 1,000 creates\n")
    print(table([*[(label, [v]) for label, v in creates], ("**total**", [sum(v for _, v in creates)])],
                ["", "1,000 creates"]))  # fmt: skip

    routes = _routes()
    print("\n### Monthly, whatever the traffic\n")
    monthly = [
        ("Each key whose secret is vaulted in Secrets Manager (per key)", PRICES["secret_month"]),
        ("The pepper secret (one per stage)", PRICES["secret_month"]),
        (
            f"Per-method API Gateway metrics, if turned on ({routes} methods × {DETAILED_METRICS_PER_METHOD})",
            routes * DETAILED_METRICS_PER_METHOD * PRICES["metric_month"],
        ),  # fmt: skip
    ]
    print(table([(label, [v]) for label, v in monthly], ["", "a month"]))

    print("\nmeasured: " + json.dumps({
        "decision": {"read_units": units(authorizer["read_calls"], "read"),
                     "write_units": units(authorizer["write_calls"], "write"),
                     "warm_read_ms": round(authorizer["warm_read_ms"], 2),
                     "warm_read_and_write_ms": round(authorizer["warm_write_ms"], 2),
                     "first_decision_process_ms": round(authorizer["cold_ms"], 1)},
        "create": {"read_units": units(api["create_calls"], "read"), "write_units": units(api["create_calls"], "write"),
                   "warm_ms": round(api["warm_create_ms"], 2)},
        "memory_mb": memory, "xray_active": tracing,
    }))  # fmt: skip
    print("prices (USD): " + json.dumps(PRICES))


if __name__ == "__main__":
    main()
