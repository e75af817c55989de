"""Cold start to the first decision, against its floor; prints figures, asserts nothing.

    .venv/bin/python bench/cold_start.py [--runs 15]

Starts moto in server mode on loopback, creates the tables and one key, then alternates two
kinds of fresh interpreter (so that a busy moment hurts both alike):

- authorizer: ``import app`` (what Lambda's init runs) and one REST TOKEN event through the
  standalone authorizer's handler, allowed;
- floor: ``import boto3``, one client, one consistent GetItem of the same item.

For each, the wall time from spawning the interpreter to its answer (the policy returned, the
item read), medians, and their ratio (target ≤ 1.15 ×); the authorizer's own split between
import and first decision; and, for reference, spawn to exit. Lambda never ends the process
after an answer, so the interpreter's teardown (tens of ms of module cleanup) is no part of a
cold start; it is printed, not counted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/intelligence/reports/42"

AUTHORIZER = """
import json, sys, time
started = time.perf_counter()
import app
imported = time.perf_counter()
answer = app.app.handler_map["gateway_authorizer"](json.loads(sys.argv[1]), None)
decided = time.perf_counter()
assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow", answer
print(json.dumps({"import": imported - started, "first": decided - imported, "answered": time.time()}), file=sys.stderr)
"""

FLOOR = """
import json, sys, time
import boto3
item = boto3.client("dynamodb").get_item(
    TableName=sys.argv[1], Key={"key_id": {"S": sys.argv[2]}}, ConsistentRead=True
)["Item"]
assert item["status"]["S"] == "active"
print(json.dumps({"answered": time.time()}), file=sys.stderr)
"""


def _environment(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APIKEYS_"))}
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "APIKEYS_PEPPERS": "b1:" + base64.b64encode(b"b" * 32).decode(),
            "APIKEYS_VAULT_TARGETS": "[]",
            "APIKEYS_LOG_LEVEL": "INFO",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def _run(code: str, args: list[str], env: dict[str, str]) -> tuple[float, float, dict[str, float]]:
    """(spawn to answer, spawn to exit, what the process reported) in seconds."""
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    exited = time.time()
    if done.returncode != 0:
        raise RuntimeError(f"a fresh process failed:\n{done.stderr}")
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["answered"] - started, exited - started, report


def _seed(env: dict[str, str]) -> tuple[str, str, str]:
    """Tables and one key on the moto server; (keys table, key id, secret)."""
    os.environ.update(env)
    from chalicelib import wiring
    from chalicelib.keys.store import create_tables, models_for
    from chalicelib.roles.caller import Caller
    from chalicelib.settings import get_settings

    wiring.reset()
    settings = get_settings()
    create_tables(models_for(settings))
    created = wiring.service().create(Caller.operator("bench"), "bench", {"name": "bench key", "roles": ["ic_viewer"]})
    return settings.keys_table, created.key.key_id, created.secret


@dataclass
class Timings:
    """Seconds per run: spawn to answer and spawn to exit, and what each process reported."""

    answered: list[float] = field(default_factory=list)
    exited: list[float] = field(default_factory=list)
    reports: list[dict[str, float]] = field(default_factory=list)

    def add(self, run: tuple[float, float, dict[str, float]]) -> None:
        self.answered.append(run[0])
        self.exited.append(run[1])
        self.reports.append(run[2])

    def ms(self, name: str = "answered") -> float:
        """Median of spawn to answer (``answered``), spawn to exit (``exited``) or a reported split."""
        values = getattr(self, name) if name in ("answered", "exited") else [r[name] for r in self.reports]
        return statistics.median(values) * 1000


@contextlib.contextmanager
def seeded_moto() -> Iterator[tuple[dict[str, str], str, str, str]]:
    """A moto server on loopback with the tables and one key: (environment, keys table, key id, secret)."""
    from scripts.embedded_moto import serialized_moto_server
    from tests.conftest import free_port

    port = free_port()
    server = serialized_moto_server(port)
    server.start()
    try:
        env = _environment(f"http://127.0.0.1:{port}")
        yield (env, *_seed(env))
    finally:
        server.stop()


def alternate(
    code: str, args: list[str], env: dict[str, str], table: str, key_id: str, runs: int
) -> tuple[Timings, Timings]:
    """``runs`` fresh processes of ``code`` and of the floor, alternating so that a busy moment
    hurts both alike, after one untimed run of each (the file system's caches)."""
    _run(code, args, env)
    _run(FLOOR, [table, key_id], env)
    measured, floor = Timings(), Timings()
    for _ in range(runs):
        measured.add(_run(code, args, env))
        floor.add(_run(FLOOR, [table, key_id], env))
    return measured, floor


def print_machine() -> None:
    load = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps({"python": sys.version.split()[0], "cpu_count": os.cpu_count(), "loadavg": load}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    with seeded_moto() as (env, table, key_id, secret):
        event = json.dumps({"type": "TOKEN", "authorizationToken": f"Bearer {secret}", "methodArn": ARN})
        # Every decision here is the key's first in its process; keep last_used_at from
        # sparing later ones the bookkeeping write, so each run does what a cold start does.
        env["APIKEYS_LAST_USED_INTERVAL"] = "0"
        authorizer, floor = alternate(AUTHORIZER, [event], env, table, key_id, args.runs)

    a_ms, f_ms = authorizer.ms(), floor.ms()
    ax_ms, fx_ms = authorizer.ms("exited"), floor.ms("exited")
    print(f"cold start to the first decision, median of {args.runs} fresh interpreters each (moto server)")
    split = f"(import {authorizer.ms('import'):.1f}, first call {authorizer.ms('first'):.1f})"
    print("  spawn to answer")
    print(f"  authorizer: import app + one event     {a_ms:8.1f} ms   {split}")
    print(f"  floor: import boto3 + one GetItem      {f_ms:8.1f} ms")
    print(f"  ratio                                  {a_ms / f_ms:8.2f} ×   (target ≤ 1.15 ×)")
    print("  spawn to exit (teardown included; not part of a Lambda cold start)")
    print(f"  authorizer {ax_ms:8.1f} ms, floor {fx_ms:8.1f} ms, ratio {ax_ms / fx_ms:.2f} ×")
    print_machine()


if __name__ == "__main__":
    main()
