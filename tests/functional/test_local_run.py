"""The README's local run, started for real and used over HTTP sockets like a newcomer would."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def local_run():
    port, moto_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APIKEYS_"))}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "local.py"), "--port", str(port), "--moto-port", str(moto_port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    first = None
    for line in process.stdout:
        if line.startswith('{"community"'):
            first = json.loads(line)
            break
    assert first is not None, "the local run printed no admin key"
    wait_for_port(port)
    yield {"url": f"http://127.0.0.1:{port}", "admin": first["admin_key"], "process": process,
           "ports": (port, moto_port)}  # fmt: skip
    if process.poll() is None:
        process.kill()


def test_newcomer_flow_over_http(local_run):
    url, headers = local_run["url"], {"Authorization": f"Bearer {local_run['admin']}"}
    base = f"{url}/communities/demo/apikeys"
    assert requests.get(f"{url}/whoami", headers=headers, timeout=10).json()["community"] == "demo"

    created = requests.post(base, json={"name": "Threat feed", "description": "TIP sync", "roles": ["ic_viewer"]},
                            headers=headers, timeout=10)  # fmt: skip
    assert created.status_code == 201
    key, secret = created.json()["api_key"], created.json()["secret"]
    assert requests.get(f"{url}/whoami", headers={"Authorization": f"Bearer {secret}"}, timeout=10).status_code == 200

    listed = requests.get(base, headers=headers, timeout=10).json()["items"]
    assert listed[0]["id"] == key["id"]
    found = requests.get(base, params={"search": "tip sync"}, headers=headers, timeout=10).json()["items"]
    assert [i["id"] for i in found] == [key["id"]]
    edited = requests.patch(f"{base}/{key['id']}", json={"description": "TIP sync v2"}, headers=headers, timeout=10)
    assert edited.json()["description"] == "TIP sync v2"
    revoked = requests.post(f"{base}/{key['id']}/revoke", headers=headers, timeout=10)
    assert revoked.json()["status"] == "revoked"
    by_status = requests.get(base, params={"status": "revoked"}, headers=headers, timeout=10).json()["items"]
    assert [i["id"] for i in by_status] == [key["id"]]
    refused = requests.get(f"{url}/whoami", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert refused.status_code == 401
    assert secret not in refused.text


def test_ctrl_c_stops_everything_it_started(local_run):
    process = local_run["process"]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(port_is_closed(p) for p in local_run["ports"]):
        time.sleep(0.2)
    assert all(port_is_closed(p) for p in local_run["ports"])
