"""Fixtures of the security suite (moto server mode, the real local run) and its tally."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.embedded_moto import serialized_moto_server
from scripts.lifeline import tied
from tests.conftest import free_port
from tests.security import hygiene, tally

ROOT = Path(__file__).resolve().parents[2]


def count(what: str, n: int = 1) -> None:
    """Add to the figures printed at the end: 'bad inputs', 'faults', 'concurrency cases'."""
    tally.count(what, n)


# -- moto in server mode ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """moto's server mode on loopback, one per test module: real HTTP, real threads."""
    port = free_port()
    server = serialized_moto_server(port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def served_aws(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app's settings pointed at a DynamoDB behind a real socket, tables created and empty:
    moto's server mode (one request at a time), or under ``DDB_BACKEND=dynamodb-local`` DynamoDB
    Local, which runs requests concurrently and answers contention as DynamoDB does
    (``TransactionConflict``). Every other service stays on the moto server."""
    from chalicelib import wiring
    from chalicelib.settings import get_settings
    from chalicelib.storage.models import create_tables, models_for
    from tests.deploy import dynamodb_local

    monkeypatch.setenv("AWS_ENDPOINT_URL", request.getfixturevalue("moto_server"))
    on_local = dynamodb_local.backend() == dynamodb_local.DYNAMODB_LOCAL
    if on_local:
        variables = {
            **dynamodb_local.table_environment(),
            "AWS_ENDPOINT_URL_DYNAMODB": request.getfixturevalue("dynamodb_local_url"),
        }
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
    wiring.reset()
    models = models_for(get_settings())
    create_tables(models)
    if on_local:
        dynamodb_local.empty_tables(models)
    yield
    wiring.reset()


# -- the real local run ----------------------------------------------------------------------


@dataclass
class LocalRun:
    url: str
    community: str
    admin_key: str
    admin_key_id: str

    def headers(self, secret: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret or self.admin_key}", "Content-Type": "application/json"}


def start_local_run(log_path: Path) -> tuple[subprocess.Popen[bytes], LocalRun]:
    """Start ``scripts/local.py``; its output goes to files (a pipe nobody drains would fill up
    and block the server's stdout writes, the authorizer's decision lines among them)."""
    port, moto_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APIKEYS_"))}
    env["PYTHONFAULTHANDLER"] = "1"  # a hung run can be asked for its threads (SIGABRT)
    out_path = log_path.with_suffix(".out")
    with log_path.open("wb") as log, out_path.open("wb") as out:
        process = subprocess.Popen(
            # tied: a killed test session takes the run with it; its own run.env, not the user's;
            # the deployed log lines, whole, for the secret hygiene to read
            tied([sys.executable, str(ROOT / "scripts" / "local.py"), "--port", str(port), "--moto-port",
                  str(moto_port), "--env-file", str(log_path.with_name("run.env")), "--full-logs"]),
            cwd=ROOT, env=env, stdout=out, stderr=log, start_new_session=True,
        )  # fmt: skip
    started: dict[str, Any] = {}
    deadline = time.monotonic() + 90
    while not started and time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"local run did not start: {log_path.read_text(errors='replace')[-2000:]}")
        for line in out_path.read_bytes().splitlines():
            if line.startswith(b"{") and b"admin_key" in line:
                started = json.loads(line)
        time.sleep(0.1)
    if not started:
        stop_local_run(process)
        raise RuntimeError("local run printed no admin key")
    hygiene.remember(started["admin_key"])
    run = LocalRun(f"http://127.0.0.1:{port}", started["community"], started["admin_key"], started["admin_key_id"])
    while time.monotonic() < deadline:
        try:
            requests.get(run.url + "/openapi.json", timeout=2)
            break
        except requests.ConnectionError:
            time.sleep(0.2)
    else:
        stop_local_run(process)
        raise RuntimeError("local run did not answer")
    return process, run


def stop_local_run(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRun]:
    """``scripts/local.py`` as a user runs it: moto server + tables + first admin + chalice local."""
    log_path = tmp_path_factory.mktemp("local-run") / "local.log"
    process, run = start_local_run(log_path)
    try:
        yield run
    finally:
        stop_local_run(process)
        for path in (log_path, log_path.with_suffix(".out")):
            for line in path.read_text(errors="replace").splitlines():
                if "admin_key" not in line:  # the one line meant to show the first key
                    hygiene.inspect("local run log", line)
