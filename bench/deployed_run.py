"""A stage's functions run as Lambda runs them, for ``bench/memory.py`` and ``bench/cost.py``.

Backends on loopback: DynamoDB Local (it reports the capacity a call consumes, index writes
included) with the stage's own tables, and moto's server for the rest (the stage's pepper secret
in Secrets Manager). Each measured function runs in a fresh interpreter with the stage's
environment from ``.chalice/config.json`` (the pepper read from Secrets Manager, as deployed),
called the way Lambda calls it: the module's handler with an event and a context. The process
reports its peak resident memory (``VmHWM``), its warm durations and the DynamoDB capacity
its calls consumed (``ReturnConsumedCapacity=INDEXES``, read after the timed calls).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COMMUNITY = "bench"
ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/api/GET/intelligence/reports/42"

# Shared by both measured processes: a Lambda context, the capacity log on the one DynamoDB
# client the container uses (the API's PynamoDB connections send through it too), and the report.
_PRELUDE = """
import json, resource, statistics, sys, time
started = time.perf_counter()
import app
from chalicelib import wiring

class Context:
    def __init__(self, n):
        self.aws_request_id = f"00000000-0000-4000-8000-{n:012d}"
        self.memory_limit_in_mb = 0

def peak_mib():
    # VmHWM: this process image's peak resident set. ru_maxrss would do, but Linux carries it
    # over fork and exec, so a child reports its parent's peak when that was higher (the bench's).
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def timed(call, runs):
    durations = []
    for n in range(runs):
        begun = time.perf_counter()
        call(n)
        durations.append((time.perf_counter() - begun) * 1000)
    return statistics.median(durations)
"""

AUTHORIZER = (
    _PRELUDE
    + """
secrets, runs = json.loads(sys.argv[1]), int(sys.argv[2])
handler = app.app.handler_map["gateway_authorizer"]
def decide(secret, n):
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {secret}", "methodArn": sys.argv[3]}
    answer = handler(event, Context(n))
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow", answer
first = time.perf_counter()
decide(secrets[0], 0)
cold_ms = (time.perf_counter() - started) * 1000
rss_first = peak_mib()
# Warm: the same key again (read, no write within the interval), then keys used for the first
# time in this container (read and the last-use write).
read_ms = timed(lambda n: decide(secrets[0], n), runs)
write_ms = timed(lambda n: decide(secrets[1 + n], n), runs)
from tests.deploy.dynamodb_local import CapacityLog  # after the peaks: the bench's, not Lambda's
log = CapacityLog().attach(wiring.key_reader().client)
decide(secrets[0], 0)
read_only = log.calls[:]
log.clear()
decide(secrets[-1], 0)
print(json.dumps({
    "rss_mib": rss_first, "rss_mib_after": peak_mib(), "cold_ms": cold_ms,
    "warm_read_ms": read_ms, "warm_write_ms": write_ms,
    "read_calls": read_only, "write_calls": log.calls,
}), file=sys.stderr)
"""
)

API = (
    _PRELUDE
    + """
caller, runs = json.loads(sys.argv[1]), int(sys.argv[2])
def create(n):
    body = json.dumps({"name": f"bench key {n}", "description": "made by bench", "roles": ["ic_viewer"]})
    event = {
        "resource": "/communities/{community}/apikeys", "path": f"/communities/{caller['community']}/apikeys",
        "httpMethod": "POST", "headers": {"Content-Type": "application/json", "Host": "abcdef123.execute-api"},
        "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"community": caller["community"]}, "stageVariables": None, "body": body,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": "/communities/{community}/apikeys", "httpMethod": "POST", "stage": "api",
            "requestId": f"r-{n}", "path": f"/api/communities/{caller['community']}/apikeys",
            "identity": {"sourceIp": "192.0.2.10"}, "authorizer": caller,
        },
    }
    answer = app.app(event, Context(n))
    assert answer["statusCode"] == 201, answer
create(0)
cold_ms = (time.perf_counter() - started) * 1000
rss_first = peak_mib()
create_ms = timed(lambda n: create(1 + n), runs)
from tests.deploy.dynamodb_local import CapacityLog  # after the peaks: the bench's, not Lambda's
log = CapacityLog().attach(wiring.key_reader().client)
create(10_000)
print(json.dumps({
    "rss_mib": rss_first, "rss_mib_after": peak_mib(), "cold_ms": cold_ms, "warm_create_ms": create_ms,
    "create_calls": log.calls,
}), file=sys.stderr)
"""
)


def stage_environment(stage: str) -> dict[str, str]:
    from stack.config import load_config
    from stack.config import stage_environment as configured

    return configured(load_config(), stage)


@contextlib.contextmanager
def backends(stage: str) -> Iterator[dict[str, str]]:
    """DynamoDB Local and moto on loopback, the stage's tables and pepper secret; yields the
    environment a function of the stage runs with there."""
    from scripts.embedded_moto import serialized_moto_server
    from tests.conftest import free_port
    from tests.deploy import dynamodb_local

    port = free_port()
    moto = serialized_moto_server(port)
    moto.start()
    try:
        for endpoint in dynamodb_local.serve():
            env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APIKEYS_"))}
            env.update(stage_environment(stage))
            env.update(
                AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ENDPOINT_URL_DYNAMODB=endpoint,
                AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(ROOT),
            )  # fmt: skip
            _seed_stage(env)
            yield env
    finally:
        moto.stop()


def _seed_stage(env: dict[str, str]) -> None:
    import boto3

    from chalicelib.settings import from_environ
    from chalicelib.storage.models import create_tables, models_for

    session = boto3.Session(region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")
    name = env["APIKEYS_PEPPERS_SOURCE"].partition(":")[2]
    pepper = "b1:" + base64.b64encode(b"b" * 32).decode()
    session.client("secretsmanager", endpoint_url=env["AWS_ENDPOINT_URL"]).create_secret(Name=name, SecretString=pepper)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = from_environ({**env, "APIKEYS_PEPPERS": pepper})
        create_tables(models_for(settings))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make_keys(env: dict[str, str], count: int) -> list[str]:
    """``count`` keys of the bench community (ic_viewer), made by the operator; their secrets."""
    code = (
        "import json, sys\nfrom chalicelib import wiring\nfrom chalicelib.roles.caller import Caller\n"
        "service = wiring.service()\nprint(json.dumps([service.create(Caller.operator(sys.argv[1]), sys.argv[1],"
        " {'name': f'k{n}', 'roles': ['ic_viewer']}).secret for n in range(int(sys.argv[2]))]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, COMMUNITY, str(count)], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return list(json.loads(done.stdout))


def run(code: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One fresh interpreter running ``code``; what it reported, and ``stdout``: what it logged."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"a fresh process failed:\n{done.stderr}")
    return {**json.loads(done.stderr.strip().splitlines()[-1]), "stdout": done.stdout}


def measure(stage: str, runs: int) -> dict[str, dict[str, Any]]:
    """The authorizer's and the API handler's reports, each from a fresh interpreter."""
    with backends(stage) as env:
        secrets = make_keys(env, runs + 2)
        authorizer = run(AUTHORIZER, [json.dumps(secrets), str(runs), ARN], env)
        from chalicelib.roles.catalog import PERMISSIONS

        # What the app's authorizer hands the API handler for an administrator's key.
        admin = {"key_id": "bench-admin", "community": COMMUNITY, "roles": "community_admin",
                 "permissions": ",".join(sorted(PERMISSIONS))}  # fmt: skip
        api = run(API, [json.dumps(admin), str(runs)], env)
    return {"authorizer": authorizer, "api": api}


WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def units(calls: list[list[Any]], kind: str) -> float:
    """Read (``read``) or write (``write``) capacity units over reported calls, indexes included
    (``CapacityUnits`` is the call's total: the table's and each index's)."""
    wanted = (lambda name: name in WRITES) if kind == "write" else (lambda name: name not in WRITES)
    return sum(c["CapacityUnits"] for name, consumed in calls if wanted(name) for c in consumed)
