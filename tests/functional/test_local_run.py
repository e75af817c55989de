"""The local run (README, docs/local-run.md), started for real and used over HTTP sockets like a newcomer would,
then stopped every way a run gets stopped: Ctrl-C, SIGTERM to its process group, SIGKILL."""

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
import requests
from markdown_it import MarkdownIt

from scripts.lifeline import tied
from tests.conftest import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
STOP_DEADLINE_S = 20  # what docs/local-run.md promises: nothing left within 20 s of a stop


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
            "ports": (port, moto_port), "env_file": env_file, "lines": lines, "folder": folder}  # fmt: skip


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
    assert refused.json() == {"message": "Unauthorized"}  # API Gateway's own 401 body, as docs/http-api.md says
    assert secret not in refused.text

    # What the run printed meanwhile: one short line per request, a refused key's reason, no metrics.
    # The run relays its server's lines from a thread: the last may land just after the answer.
    deadline = time.monotonic() + 20
    while True:
        printed = (local_run["folder"] / "local.log").read_text().splitlines()
        requests_seen = [line.split(" ", 1)[1] for line in printed if re.match(r"^\d\d:\d\d:\d\d \d{3} ", line)]
        if (requests_seen and requests_seen[-1] == "401 GET /whoami") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "201 POST /communities/demo/apikeys" in requests_seen
    assert f"200 POST /communities/demo/apikeys/{key['id']}/revoke" in requests_seen
    assert requests_seen[-1] == "401 GET /whoami"
    assert f"key refused: revoked (key {key['id']})" in "\n".join(printed)
    assert not [line for line in printed if "CloudWatchMetrics" in line or '"event"' in line]


def test_lifecycle_events_reach_the_runs_bus(local_run):
    """The run publishes the audit table's stream to its EventBridge bus and says so, per event."""
    url, headers = local_run["url"], {"Authorization": f"Bearer {local_run['admin']}"}
    base = f"{url}/communities/demo/apikeys"
    created = requests.post(base, json={"name": "Announced", "roles": ["ic_viewer"]}, headers=headers, timeout=10)
    key_id = created.json()["api_key"]["id"]
    requests.post(f"{base}/{key_id}/revoke", headers=headers, timeout=10)
    log = local_run["env_file"].parent / "local.log"
    wanted = [f"event on apikeys-local: API key created {key_id}", f"event on apikeys-local: API key revoked {key_id}"]
    deadline = time.monotonic() + 30
    while not all(line in log.read_text() for line in wanted):
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.3)
    assert created.json()["secret"] not in log.read_text()


def test_the_printed_person_signs_in_with_the_runs_cognito_and_acts_under_their_name(local_run):
    """The username and password the run prints, signed in as the console does (InitiateAuth,
    USER_PASSWORD_AUTH) against the run's moto Cognito; its real tokens reach the API."""
    import boto3

    person = next(json.loads(line)["person"] for line in local_run["lines"] if line.startswith('{"person"'))
    assert (
        f"A person in demo:community_admin signs in to the console as {person['username']} "
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


@pytest.fixture(scope="module")
def project_venv(tmp_path_factory) -> Path:
    """A virtualenv as ``make`` leaves it: the project installed (``pip install --no-deps -e .``),
    so ``bin/apikeys`` exists; its packages are this interpreter's (a .pth), nothing downloaded."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (site / "dev-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
                    "--no-deps", "--no-build-isolation", "-e", str(ROOT)], check=True, timeout=300)  # fmt: skip
    return venv


def test_the_cli_console_script_helps_in_plain_words_and_points_at_the_run_settings(project_venv):
    apikeys = project_venv / "bin" / "apikeys"
    bare = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}  # none of a run's settings
    helped = subprocess.run([str(apikeys), "--help"], env=bare, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: apikeys ")
    assert "``" not in helped.stdout and "set -a; . .local/run.env; set +a" in helped.stdout
    refused = subprocess.run([str(apikeys), "list", "--community", "demo"], cwd=project_venv, env=bare,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "APIKEYS_PEPPERS is not set" in refused.stderr and "set -a; . .local/run.env; set +a" in refused.stderr
    module_form = subprocess.run([sys.executable, "-m", "chalicelib.cli", "--help"], cwd=ROOT, env=bare,
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
    assert module_form.stdout.startswith("usage: python -m chalicelib.cli ")


def readme_first_session() -> str:
    """The first ``bash`` block under the README's "A first session", as a newcomer pastes it."""
    parsed = MarkdownIt("commonmark").parse((ROOT / "README.md").read_text())
    heading = next(i for i, token in enumerate(parsed) if token.type == "inline" and token.content == "A first session")
    return next(token.content for token in parsed[heading:] if token.type == "fence" and token.info == "bash")


def paste_into_bash(block: str, run: dict, folder: Path, venv: Path) -> subprocess.CompletedProcess[str]:
    """``block`` in a fresh bash that stops at the first failure, from a folder laid out like a
    clone (``.venv``, ``.local/run.env`` of this run) and with none of the test's settings."""
    (folder / ".local").mkdir(parents=True)
    shutil.copy2(run["env_file"], folder / ".local" / "run.env")
    (folder / ".venv").symlink_to(venv)
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(["bash", "-c", "set -euo pipefail\n" + block], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_readme_first_session_runs_as_pasted(local_run, tmp_path, project_venv):
    block = readme_first_session()
    assert "<" not in block.replace("<<", ""), "a placeholder like <id> is a redirection in bash"
    done = paste_into_bash(block, local_run, tmp_path, project_venv)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    answers = done.stdout.splitlines()
    assert json.loads(answers[0])["community"] == "demo"  # whoami
    assert answers[-1] == "401"  # the revoked key is refused
    assert '"status":"revoked"' in answers[-2]


def test_the_first_session_fails_on_an_error_answer(local_run, tmp_path, project_venv):
    """What makes the test above able to fail: an error answer stops the block, its body shown."""
    block = readme_first_session().replace('"roles": ["ic_viewer"]', '"roles": ["no_such_role"]')
    done = paste_into_bash(block, local_run, tmp_path, project_venv)
    assert done.returncode == 22, done.stderr  # curl --fail-with-body
    assert "roles: unknown role 'no_such_role'" in done.stdout + done.stderr
    assert "401" not in done.stdout.splitlines()


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
    said = (local_run["folder"] / "local.log").read_text().splitlines()
    stopped = "the API and console (chalice local), OpenBao, the lifecycle events poller, moto"
    assert said[-1] == f"Stopped {stopped}; removed {local_run['env_file']}."
    assert "Aborted!" not in said


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


def run_with_a_busy_port(which: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """``scripts/local.py`` while something else listens on its API port or its moto port."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        busy = other.getsockname()[1]
        ports = {"--port": free_port(), "--moto-port": free_port(), which: busy}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APIKEYS_"))}
        process = subprocess.Popen(
            tied([sys.executable, str(ROOT / "scripts" / "local.py"), "--port", str(ports["--port"]),
                  "--moto-port", str(ports["--moto-port"]), "--env-file", "/nonexistent/run.env"]),
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:  # a hang: take everything it started with it
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        assert running_in_session(process.pid) == [], "the refused run left something running"
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), busy


@pytest.mark.parametrize(
    ("option", "variable", "role"),
    [("--port", "PORT", "the API and console"), ("--moto-port", "MOTO_PORT", "moto, the embedded AWS backend")],
    ids=["api port", "moto port"],
)
def test_a_busy_port_is_one_line_before_anything_is_printed(option, variable, role):
    done, busy = run_with_a_busy_port(option)
    assert done.returncode == 2
    assert done.stdout == ""  # no admin key, no banner pointing at someone else's server
    assert done.stderr.count("\n") == 1, done.stderr  # one line, no traceback
    line = done.stderr.strip()
    assert line.startswith(f"error: port {busy} on 127.0.0.1 is in use, so {role} cannot listen there; ")
    suggested = re.search(rf"make run {variable}=(\d+) \(or scripts/local.py {option} (\d+)\)$", line)
    assert suggested and suggested[1] == suggested[2]
    with socket.socket() as sock:  # the port it suggests is one a server could listen on
        sock.bind(("127.0.0.1", int(suggested[1])))


def test_moto_on_a_port_taken_after_the_check_says_so_and_stops(tmp_path):
    """The race the early check cannot close: moto's own bind fails; start() raises at once
    instead of waiting on a server thread that werkzeug ended with sys.exit(1)."""
    from scripts.embedded_moto import PortBusy, serialized_moto_server

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        moto = serialized_moto_server(other.getsockname()[1])
        with pytest.raises(PortBusy, match=f"moto cannot listen on 127.0.0.1:{other.getsockname()[1]}"):
            moto.start()
        moto.stop()  # nothing was started: nothing to stop, and no error


def test_make_run_takes_its_ports():
    planned = subprocess.run(["make", "-n", "run", "PORT=8123", "MOTO_PORT=5123"], cwd=ROOT, capture_output=True,
                             text=True, timeout=30)  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    assert "scripts/local.py --port 8123 --moto-port 5123" in planned.stdout
