"""``bench/load.py --ddb-local N``: the load run on DynamoDB Local with N ``chalice local`` server
processes (each single-threaded; client threads spread over them), loopback only, bounded in time.

Per route: requests, req/s, p50/p99 and errors; and, measured at the same time from one more
thread, a raw boto3 GetItem of the calling key's item: the floor the authorizer route is compared
with (ratio of p50s), under the same load on the same engine.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent


def _environment(endpoint: str) -> dict[str, str]:
    from tests.deploy import dynamodb_local

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APIKEYS_"))}
    env.update(dynamodb_local.table_environment())
    env.update(
        AWS_ENDPOINT_URL_DYNAMODB=endpoint, AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="load",
        AWS_SECRET_ACCESS_KEY="load", APIKEYS_PEPPERS="l1:" + base64.b64encode(b"l" * 32).decode(),
        APIKEYS_VAULT_TARGETS="[]", APIKEYS_LOG_LEVEL="WARNING",
    )  # fmt: skip
    return env


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    chalice = Path(sys.executable).with_name("chalice")
    return subprocess.Popen(
        [str(chalice), "--project-dir", str(ROOT), "local", "--host", "127.0.0.1", "--port", str(port),
         "--stage", "local", "--no-autoreload"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run(servers: int, seconds: float, threads: int, keys: int, hammer: Any) -> dict[str, Any]:
    from tests.conftest import free_port
    from tests.deploy import dynamodb_local

    endpoint_iter = dynamodb_local.serve()
    endpoint = next(endpoint_iter)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        env = _environment(endpoint)
        os.environ.update(env)
        from chalicelib import wiring
        from chalicelib.roles.caller import Caller
        from chalicelib.settings import get_settings
        from chalicelib.storage.models import create_tables, models_for

        wiring.reset()
        create_tables(models_for(get_settings()))
        created = wiring.service().create(
            Caller.operator("load"), "load", {"name": "admin", "roles": ["community_admin"]}
        )
        for i in range(keys):
            wiring.service().create(Caller.operator("load"), "load", {"name": f"load {i}", "roles": ["ic_viewer"]})
        ports = [free_port() for _ in range(servers)]
        processes = [_serve(env, port) for port in ports]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        deadline = time.monotonic() + 90
        for url in urls:
            while True:
                try:
                    requests.get(url + "/openapi.json", timeout=2)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("chalice local did not answer") from None
                    time.sleep(0.2)
        headers = {"Authorization": f"Bearer {created.secret}"}
        for url in urls:  # each process builds its clients on its first request: not part of the figures
            for route in ("/whoami", "/communities/load/apikeys?limit=20"):
                requests.get(url + route, headers=headers, timeout=60)
        table = get_settings().keys_table
        import boto3

        client = boto3.client("dynamodb", endpoint_url=endpoint)
        results: dict[str, Any] = {}
        for route in ("/whoami", "/communities/load/apikeys?limit=20"):
            floor: list[float] = []
            stop = threading.Event()

            def sample(floor: list[float] = floor, stop: threading.Event = stop) -> None:
                while not stop.is_set():
                    started = time.perf_counter()
                    client.get_item(TableName=table, Key={"key_id": {"S": created.key.key_id}}, ConsistentRead=True)
                    floor.append(time.perf_counter() - started)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            results[f"GET {route}"] = hammer([url + route for url in urls], headers, seconds, threads)
            stop.set()
            sampler.join(timeout=10)
            ordered = sorted(floor) or [0.0]
            results[f"GET {route}"]["getitem_p50_ms"] = round(ordered[len(ordered) // 2] * 1000, 2)
        return results
    finally:
        for process in processes:
            _stop(process)
        endpoint_iter.close()
