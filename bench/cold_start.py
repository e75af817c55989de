"""Cold start to the first decision as a stage deploys it, against its floor; prints figures,
asserts nothing.

    .venv/bin/python bench/cold_start.py [--stage dev] [--runs 15]

Starts moto in server mode on loopback and gives it what the stage's functions expect: the
tables named as in ``.chalice/config.json``, the pepper secret its ``APIKEYS_PEPPERS_SOURCE``
names (created in Secrets Manager or SSM), and one key. Each function runs with its own
environment from the stage's config (top level, stage, function, merged as Chalice merges them),
endpoint and credentials aside. Then it alternates fresh interpreters of three kinds, so that a
busy moment hurts all alike:

- each authorizer function (``gateway_authorizer``, ``app_authorizer``): import its handler's
  module (the ``Handler`` ``chalice package`` writes, what Lambda's init imports) and one REST
  TOKEN event through it, allowed: the pepper is read from its source on that first event;
- floor: ``import boto3``, read the same secret, one consistent GetItem of the same item, the
  way a plain boto3 function would.

For each, the wall time from spawning the interpreter to its answer (the policy returned, the
item read), medians, and their ratio (target ≤ 1.15 ×); the authorizer's own split between
import and first decision; and, for reference, spawn to exit and each process's CPU time.
Lambda never ends the process after an answer, so the interpreter's teardown (tens of ms of
module cleanup) is no part of a cold start; it is printed, not counted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import resource
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
AUTHORIZERS = ("gateway_authorizer", "app_authorizer")

# What Lambda does with a function's ``Handler``: import the module, call the name in it.
AUTHORIZER = """
import importlib, json, sys, time
started = time.perf_counter()
module, _, name = sys.argv[1].rpartition(".")
handler = getattr(importlib.import_module(module), name)
imported = time.perf_counter()
answer = handler(json.loads(sys.argv[2]), None)
decided = time.perf_counter()
assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow", answer
print(json.dumps({"import": imported - started, "first": decided - imported, "answered": time.time()}), file=sys.stderr)
"""

FLOOR = """
import json, sys, time
import boto3
kind, _, name = sys.argv[1].partition(":")
if kind == "secretsmanager":
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
else:
    secret = boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
item = boto3.client("dynamodb").get_item(
    TableName=sys.argv[2], Key={"key_id": {"S": sys.argv[3]}}, ConsistentRead=True
)["Item"]
assert secret and item["status"]["S"] == "active"
print(json.dumps({"answered": time.time()}), file=sys.stderr)
"""


@dataclass(frozen=True)
class Seeded:
    """What the moto server holds for a stage, and how each function of it is run."""

    stage: str
    config: dict[str, object]
    endpoint: str
    table: str
    key_id: str
    secret: str
    pepper_source: str

    def environment(self, function: str) -> dict[str, str]:
        """The function's environment from the stage's config; endpoint and credentials are moto's."""
        from stack.config import function_environment

        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APIKEYS_"))}
        env.update(function_environment(self.config, self.stage, function))
        env.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": "us-east-1",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        return env

    @property
    def floor_args(self) -> list[str]:
        return [self.pepper_source, self.table, self.key_id]


def _run(code: str, args: list[str], env: dict[str, str]) -> tuple[float, float, dict[str, float]]:
    """(spawn to answer, spawn to exit, what the process reported) in seconds; the report gains
    ``cpu``, the process's CPU time (user + system, teardown included), which a busy machine
    inflates far less than wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    exited = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"a fresh process failed:\n{done.stderr}")
    report = json.loads(done.stderr.strip().splitlines()[-1])
    report["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return report["answered"] - started, exited - started, report


def _create_pepper_secret(source: str) -> None:
    """The stage's pepper secret, where its ``APIKEYS_PEPPERS_SOURCE`` says (Secrets Manager or SSM)."""
    import boto3

    value = "b1:" + base64.b64encode(os.urandom(32)).decode()
    kind, _, name = source.partition(":")
    if kind == "secretsmanager":
        boto3.client("secretsmanager").create_secret(Name=name, SecretString=value)
    elif kind == "ssm":
        boto3.client("ssm").put_parameter(Name=name, Value=value, Type="SecureString")
    else:
        raise SystemExit(f"APIKEYS_PEPPERS_SOURCE {source!r}: the bench knows secretsmanager: and ssm:")


def _seed(seeded_env: dict[str, str]) -> tuple[str, str, str]:
    """Tables, the pepper secret and one key on the moto server; (keys table, key id, secret)."""
    os.environ.update(seeded_env)
    _create_pepper_secret(seeded_env["APIKEYS_PEPPERS_SOURCE"])
    from chalicelib import wiring
    from chalicelib.roles.caller import Caller
    from chalicelib.settings import get_settings
    from chalicelib.storage.models import create_tables, models_for

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
def seeded_moto(stage: str = "dev") -> Iterator[Seeded]:
    """A moto server on loopback holding what ``stage`` reads: its tables, its pepper secret, one key."""
    from scripts.embedded_moto import serialized_moto_server
    from stack.config import deployed_stages, load_config, stage_environment
    from tests.conftest import free_port

    config = load_config()
    if stage not in deployed_stages(config):
        raise SystemExit(f"no deployed stage {stage!r} in .chalice/config.json")
    if not stage_environment(config, stage).get("APIKEYS_PEPPERS_SOURCE"):
        raise SystemExit(f"stage {stage!r} sets no APIKEYS_PEPPERS_SOURCE: nothing to measure as deployed")
    port = free_port()
    server = serialized_moto_server(port)
    server.start()
    try:
        seeded = Seeded(stage, config, f"http://127.0.0.1:{port}", "", "", "", "")
        env = seeded.environment("api_handler")
        table, key_id, secret = _seed(env)
        yield Seeded(stage, config, seeded.endpoint, table, key_id, secret, env["APIKEYS_PEPPERS_SOURCE"])
    finally:
        server.stop()


def alternate(runs: int, kinds: dict[str, tuple[str, list[str], dict[str, str]]]) -> dict[str, Timings]:
    """``runs`` fresh processes of each kind (name → code, arguments, environment), taking turns
    so that a busy moment hurts all alike, after one untimed run of each (the file system's caches)."""
    for code, args, env in kinds.values():
        _run(code, args, env)
    timings = {name: Timings() for name in kinds}
    for _ in range(runs):
        for name, (code, args, env) in kinds.items():
            timings[name].add(_run(code, args, env))
    return timings


def floor_kind(seeded: Seeded, function: str) -> tuple[str, list[str], dict[str, str]]:
    """The floor, run with ``function``'s environment: plain boto3 reads the secret and the item."""
    return FLOOR, seeded.floor_args, seeded.environment(function)


def handler_strings() -> dict[str, str]:
    """Each authorizer function's ``Handler``, as ``chalice package`` writes it."""
    from app import app

    found = {f.name: f.handler_string for f in app.pure_lambda_functions}
    found.update({a.name: a.handler_string for a in app.builtin_auth_handlers})
    return {name: found[name] for name in AUTHORIZERS}


def print_machine() -> None:
    load = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps({"python": sys.version.split()[0], "cpu_count": os.cpu_count(), "loadavg": load}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    with seeded_moto(args.stage) as seeded:
        event = json.dumps({"type": "TOKEN", "authorizationToken": f"Bearer {seeded.secret}", "methodArn": ARN})
        kinds = {}
        for name, handler in handler_strings().items():
            env = seeded.environment(name)
            # Every decision here is the key's first in its process; keep last_used_at from
            # sparing later ones the bookkeeping write, so each run does what a cold start does.
            env["APIKEYS_LAST_USED_INTERVAL"] = "0"
            kinds[name] = (AUTHORIZER, [handler, event], env)
        kinds["floor"] = floor_kind(seeded, AUTHORIZERS[0])
        timings = alternate(args.runs, kinds)

    floor = timings.pop("floor")
    f_ms, fx_ms = floor.ms(), floor.ms("exited")
    print(
        f"cold start to the first decision, stage {args.stage}'s settings (pepper from "
        f"{seeded.pepper_source.partition(':')[0]}), median of {args.runs} fresh interpreters each (moto server)"
    )
    print("  spawn to answer")
    for name, measured in timings.items():
        split = f"(import {measured.ms('import'):.1f}, first decision {measured.ms('first'):.1f})"
        print(f"  {name + ': import handler + one event':<50}{measured.ms():8.1f} ms   {split}")
    print(f"  {'floor: boto3, the secret, one GetItem':<50}{f_ms:8.1f} ms")
    for name, measured in timings.items():
        print(f"  {'ratio, ' + name:<50}{measured.ms() / f_ms:8.2f} ×   (target ≤ 1.15 ×)")
    print("  spawn to exit (teardown included; not part of a Lambda cold start)")
    for name, measured in timings.items():
        ratio = measured.ms("exited") / fx_ms
        print(f"  {name} {measured.ms('exited'):8.1f} ms, floor {fx_ms:8.1f} ms, ratio {ratio:.2f} ×")
    print("  CPU time, user + system (teardown included; steadier than wall time on a busy machine)")
    for name, measured in timings.items():
        ratio = measured.ms("cpu") / floor.ms("cpu")
        print(f"  {name} {measured.ms('cpu'):8.1f} ms, floor {floor.ms('cpu'):8.1f} ms, ratio {ratio:.2f} ×")
    print_machine()


if __name__ == "__main__":
    main()
