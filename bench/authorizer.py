"""Authorizer figures on moto in-process; prints them, asserts nothing.

    .venv/bin/python bench/authorizer.py [--rounds N]

1. a full standalone-authorizer decision (REST TOKEN event through the Lambda handler: parse,
   one consistent GetItem (chalicelib/keys/reader.py), hash, status, route map, policy, the JSON log
   line) against the floor: one raw boto3 GetItem of the same item, same moto, same run,
   interleaved; p50, p99 and their ratio;
2. a malformed-key rejection (bad checksum) through the same handler: p50, and the number
   of DynamoDB calls it made (counted at botocore, and at the verifier's lookup);
3. ``import app`` against ``import chalice, pynamodb.models``, each in fresh interpreters
   (medians of several runs).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _environment() -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "APIKEYS_PEPPERS_SOURCE"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "APIKEYS_PEPPERS": "b1:" + base64.b64encode(b"b" * 32).decode(),
            "APIKEYS_VAULT_TARGETS": "[]",
            "APIKEYS_AUTH_CACHE_TTL": "0",  # every decision reads the table: the honest figure
            "APIKEYS_LOG_LEVEL": "INFO",  # the decision line is written, to /dev/null
        }
    )


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _time(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    try:
        call()
    except Exception:  # noqa: BLE001, S110 - a refusal is what is being timed
        pass
    return time.perf_counter() - started


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:9.1f} µs"


def decisions(rounds: int) -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        from app import app
        from chalicelib import wiring
        from chalicelib.roles.caller import Caller
        from chalicelib.settings import get_settings
        from chalicelib.storage.models import create_tables, models_for

        wiring.reset()
        settings = get_settings()
        create_tables(models_for(settings))
        created = wiring.service().create(
            Caller.operator("bench"), "bench", {"name": "bench key", "roles": ["ic_viewer"]}
        )
        key_id, secret = created.key.key_id, created.secret
        handler = app.handler_map["gateway_authorizer"]
        arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/intelligence/reports/42"
        good = {"type": "TOKEN", "authorizationToken": f"Bearer {secret}", "methodArn": arn}
        bad_secret = secret[:-1] + ("A" if secret[-1] != "A" else "B")  # checksum no longer matches
        malformed = {"type": "TOKEN", "authorizationToken": f"Bearer {bad_secret}", "methodArn": arn}

        raw = boto3.client("dynamodb")
        floor_request = {"TableName": settings.keys_table, "Key": {"key_id": {"S": key_id}}, "ConsistentRead": True}

        verifier = wiring.verifier()
        real_stdout = sys.stdout
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the decision lines, while timing
        assert handler(good, None)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        calls = {"botocore": 0, "lookup": 0}
        client = wiring.store().models.ApiKey._get_connection().connection.client
        client.meta.events.register(
            "before-call.dynamodb.*", lambda **_: calls.__setitem__("botocore", calls["botocore"] + 1)
        )
        inner_lookup = verifier.lookup

        def counted_lookup(key: str) -> Any:
            calls["lookup"] += 1
            return inner_lookup(key)

        verifier.lookup = counted_lookup

        try:
            for _ in range(max(50, rounds // 10)):  # warm both paths
                handler(good, None)
                raw.get_item(**floor_request)
            decision, floor = [], []
            for _ in range(rounds):
                decision.append(_time(lambda: handler(good, None)))
                floor.append(_time(lambda: raw.get_item(**floor_request)))
            calls.update(botocore=0, lookup=0)
            rejection = [_time(lambda: handler(malformed, None)) for _ in range(rounds * 5)]
            malformed_calls = dict(calls)
        finally:
            sys.stdout.close()
            sys.stdout = real_stdout

    d50, d99 = _percentile(decision, 0.5), _percentile(decision, 0.99)
    f50, f99 = _percentile(floor, 0.5), _percentile(floor, 0.99)
    print(f"decision (standalone authorizer, REST TOKEN, cache off), {rounds} rounds on moto in-process")
    print(f"  decision   p50 {_us(d50)}   p99 {_us(d99)}")
    print(f"  GetItem    p50 {_us(f50)}   p99 {_us(f99)}   (raw boto3, the floor)")
    print(f"  ratio      p50 {d50 / f50:9.2f} ×     p99 {d99 / f99:9.2f} ×   (target p50 ≤ 1.3 ×)")
    print("malformed key (bad checksum) through the same handler")
    print(
        f"  rejection  p50 {_us(_percentile(rejection, 0.5))}   p99 {_us(_percentile(rejection, 0.99))}   "
        f"DynamoDB calls: {malformed_calls['botocore']} (botocore), {malformed_calls['lookup']} (lookups) "
        f"over {len(rejection)} rejections   (target ≤ 20 µs, 0 calls)"
    )


def _import_seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def imports(runs: int) -> None:
    app_times, dep_times = [], []
    for _ in range(runs):  # alternate, so that a busy moment hurts both alike
        app_times.append(_import_seconds("import app"))
        dep_times.append(_import_seconds("import chalice, pynamodb.models"))
    app_ms, dep_ms = statistics.median(app_times) * 1000, statistics.median(dep_times) * 1000
    print(f"imports, median of {runs} fresh interpreters each")
    print(f"  import app                       {app_ms:8.1f} ms")
    print(f"  import chalice, pynamodb.models  {dep_ms:8.1f} ms")
    print(f"  ratio                            {app_ms / dep_ms:8.2f} ×   (target ≤ 1.15 ×)")
    modules = subprocess.run(
        [sys.executable, "-c", "import sys, app; print(' '.join(sorted(m for m in ('boto3', 'pynamodb', 'hvac', "
         "'botocore', 'moto') if m in sys.modules)))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    print(f"  heavy modules loaded by import app: {modules or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--import-runs", type=int, default=9)
    args = parser.parse_args()
    _environment()
    decisions(args.rounds)
    imports(args.import_runs)
    load = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps({"python": sys.version.split()[0], "cpu_count": os.cpu_count(), "loadavg": load}))


if __name__ == "__main__":
    main()
