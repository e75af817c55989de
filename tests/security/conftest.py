"""Fixtures of the security suite (moto server mode, the real local run) and its tally."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from tests.conftest import free_port
from tests.security import hygiene

ROOT = Path(__file__).resolve().parents[2]

TALLY: Counter[str] = Counter()
_OUTCOMES: Counter[str] = Counter()


def count(what: str, n: int = 1) -> None:
    """Add to the figures printed at the end: 'bad inputs', 'faults', 'concurrency cases'."""
    TALLY[what] += n


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/security/" not in report.nodeid.replace("\\", "/"):
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _OUTCOMES[report.outcome] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _OUTCOMES:
        return
    terminalreporter.section("security suite")
    terminalreporter.write_line(
        f"bad inputs tried: {TALLY['bad inputs']}, faults injected: {TALLY['faults']}, "
        f"concurrency cases: {TALLY['concurrency cases']} ({TALLY['concurrent calls']} concurrent calls), "
        f"access checks: {TALLY['access checks']}, generated keys checked: {TALLY['generated keys']}"
    )
    terminalreporter.write_line(
        f"tests: {_OUTCOMES['passed']} passed, {_OUTCOMES['failed']} failed, {_OUTCOMES['skipped']} skipped"
    )


# -- moto in server mode ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """moto's server mode on loopback, one per test module: real HTTP, real threads."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def served_aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app's settings pointed at the moto server, tables created."""
    from chalicelib import wiring
    from chalicelib.settings import get_settings
    from chalicelib.store import create_tables, models_for

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    wiring.reset()
    create_tables(models_for(get_settings()))
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
    port, moto_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APIKEYS_"))}
    env["PYTHONFAULTHANDLER"] = "1"  # a hung run can be asked for its threads (SIGABRT)
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "local.py"), "--port", str(port), "--moto-port", str(moto_port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    started: dict[str, Any] = {}
    while not started:
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=10)
            raise RuntimeError(f"local run did not start: {log_path.read_text(errors='replace')[-2000:]}")
        if line.startswith(b"{") and b"admin_key" in line:
            started = json.loads(line)
    hygiene.remember(started["admin_key"])
    run = LocalRun(f"http://127.0.0.1:{port}", started["community"], started["admin_key"], started["admin_key_id"])
    deadline = time.monotonic() + 60
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
        if process.stdout is not None:
            hygiene.inspect("local run output", process.stdout.read().decode(errors="replace"))
        for line in log_path.read_text(errors="replace").splitlines():
            hygiene.inspect("local run log", line)
