"""The README's local run, started for real and used over HTTP sockets like a newcomer would,
then stopped every way a run gets stopped: Ctrl-C, SIGTERM to its process group, SIGKILL."""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from scripts.lifeline import tied
from tests.conftest import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
STOP_DEADLINE_S = 20  # what the README promises: nothing left within 20 s of a stop


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


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces


def running_in_session(session: int) -> list[str]:
    """Every live (not zombie) process of the session the run was started in, as command lines."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None or fields[0] == "Z" or int(fields[3]) != session:
            continue
        try:
            found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip())
        except OSError:
            continue
    return found


def descendants(root: int) -> dict[int, str]:
    """pid -> start time of every process below ``root`` (the start time tells a reused pid)."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            started[int(entry.name)] = fields[19]
    found, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found[pid] = started[pid]
        todo.extend(children.get(pid, []))
    return found


def still_running(processes: dict[int, str]) -> list[int]:
    alive = []
    for pid, start in processes.items():
        fields = _stat_fields(pid)
        if fields is not None and fields[19] == start and fields[0] != "Z":
            alive.append(pid)
    return alive


def start_run(folder: Path) -> dict:
    """``scripts/local.py`` in its own session (so its group and session are only what it
    started), its output in a file nobody has to drain, its settings file in ``folder``."""
    port, moto_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APIKEYS_"))}
    env_file, log_path = folder / "run.env", folder / "local.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            tied([sys.executable, str(ROOT / "scripts" / "local.py"), "--port", str(port),
                  "--moto-port", str(moto_port), "--env-file", str(env_file)]),
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 120
    lines: list[str] = []
    while not any(line.startswith("CLI on this run:") for line in lines):
        assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
        time.sleep(0.2)
        lines = log_path.read_text().splitlines()
    first = next(json.loads(line) for line in lines if line.startswith('{"community"'))
    wait_for_port(port)
    return {"url": f"http://127.0.0.1:{port}", "admin": first["admin_key"], "process": process,
            "ports": (port, moto_port), "env_file": env_file, "lines": lines}  # fmt: skip


def assert_nothing_left(run: dict, started: dict[int, str]) -> None:
    process = run["process"]
    deadline = time.monotonic() + STOP_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None and not running_in_session(process.pid) and not still_running(started):
            if all(port_is_closed(port) for port in run["ports"]):
                break
        time.sleep(0.2)
    assert process.poll() is not None, "the run itself is still there"
    assert running_in_session(process.pid) == []
    assert still_running(started) == []
    assert [port for port in run["ports"] if not port_is_closed(port)] == []


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    run = start_run(tmp_path_factory.mktemp("local-run"))
    yield run
    if run["process"].poll() is None:
        os.killpg(run["process"].pid, signal.SIGKILL)
        run["process"].wait()


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
    assert refused.json() == {"message": "Unauthorized"}  # API Gateway's own 401 body, as the README says
    assert secret not in refused.text


def test_the_printed_person_signs_in_with_the_runs_cognito_and_acts_under_their_name(local_run):
    """The username and password the run prints, signed in as the console does (InitiateAuth,
    USER_PASSWORD_AUTH) against the run's moto Cognito; its real tokens reach the API."""
    import boto3

    person = next(json.loads(line)["person"] for line in local_run["lines"] if line.startswith('{"person"'))
    assert (
        f"A person in demo:community_admin signs in to the user pool as {person['username']} "
        f"with password {person['password']}"
    ) in local_run["lines"]
    cognito = boto3.client(
        "cognito-idp", endpoint_url=f"http://127.0.0.1:{local_run['ports'][1]}", region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",
    )  # fmt: skip
    signed_in = cognito.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH", ClientId=person["client_id"],
        AuthParameters={"USERNAME": person["username"], "PASSWORD": person["password"]},
    )["AuthenticationResult"]  # fmt: skip
    url = local_run["url"]
    for token in (signed_in["IdToken"], signed_in["AccessToken"]):
        who = requests.get(f"{url}/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        assert who["name"] == person["username"]
        assert [(c["community"], c["roles"]) for c in who["communities"]] == [("demo", ["community_admin"])]
    created = requests.post(
        f"{url}/communities/demo/apikeys", json={"name": "Made by a person", "roles": ["ic_viewer"]},
        headers={"Authorization": f"Bearer {signed_in['IdToken']}"}, timeout=10,
    )  # fmt: skip
    assert created.status_code == 201
    assert created.json()["api_key"]["created_by_name"] == person["username"]
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH", ClientId=person["client_id"],
            AuthParameters={"USERNAME": person["username"], "PASSWORD": person["password"] + "x"},
        )  # fmt: skip
    settings = local_run["env_file"].read_text()
    assert f"APIKEYS_OIDC_AUDIENCE={person['client_id']}" in settings
    assert f"APIKEYS_OIDC_ISSUER=https://cognito-idp.us-east-1.amazonaws.com/{person['user_pool_id']}" in settings


def test_cli_through_run_env_acts_on_the_run(local_run):
    """The printed recipe, run as printed from a shell that has none of the run's settings."""
    env_file = local_run["env_file"]
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # it holds the pepper
    recipe = next(line for line in local_run["lines"] if line.startswith("CLI on this run:"))
    assert f"set -a; . {env_file}; set +a;" in recipe
    shell_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    script = (f"set -a; . '{env_file}'; set +a; exec '{sys.executable}' -m chalicelib.cli create-key "
              "--community demo --name 'From the CLI' --role ic_viewer")  # fmt: skip
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=shell_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)

    whoami = requests.get(f"{local_run['url']}/whoami", headers={"Authorization": f"Bearer {made['secret']}"},
                          timeout=10)  # fmt: skip
    assert whoami.status_code == 200
    assert whoami.json()["id"] == made["id"] and whoami.json()["community"] == "demo"
    admin = {"Authorization": f"Bearer {local_run['admin']}"}
    listed = requests.get(f"{local_run['url']}/communities/demo/apikeys", headers=admin, timeout=10).json()["items"]
    assert made["id"] in [item["id"] for item in listed]


def test_default_run_env_is_git_ignored():
    done = subprocess.run(["git", "check-ignore", "-q", ".local/run.env"], cwd=ROOT, check=False)
    assert done.returncode == 0, ".local/run.env holds the pepper: it must never be committed"


def test_ctrl_c_stops_everything_it_started(local_run):
    """Also when the suite runs with SIGINT ignored (a background job, nohup, a CI launcher): the
    run inherits that and must still obey Ctrl-C."""
    process = local_run["process"]
    started = descendants(process.pid)
    assert started, "the run should have started chalice local (and OpenBao)"
    process.send_signal(signal.SIGINT)
    assert_nothing_left(local_run, started)
    assert process.returncode == 0
    assert not local_run["env_file"].exists(), "run.env outlived its run"


def test_sigterm_to_the_process_group_stops_everything(tmp_path):
    run = start_run(tmp_path)
    started = descendants(run["process"].pid)
    assert started
    os.killpg(run["process"].pid, signal.SIGTERM)
    assert_nothing_left(run, started)
    assert not run["env_file"].exists()


def test_sigkill_of_the_run_leaves_nothing_running(tmp_path):
    """The run gets no chance to clean up; the kernel stops its children (parent-death signal)."""
    run = start_run(tmp_path)
    started = descendants(run["process"].pid)
    assert started
    run["process"].kill()
    assert_nothing_left(run, started)
