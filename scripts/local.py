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
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--moto-port", type=int, default=5010)
    parser.add_argument("--community", default="demo")
    args = parser.parse_args()

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log drowns the output

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=args.moto_port, verbose=False)
    moto.start()
    os.environ.update(local_environment(f"http://127.0.0.1:{args.moto_port}"))
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
        print(json.dumps({"community": args.community, "admin_key_id": created.key.key_id, "admin_key": created.secret}))
        print(f"Console and API: http://{args.host}:{args.port}/  (Ctrl-C stops everything)", flush=True)
        chalice = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("chalice")),
                "--project-dir", str(ROOT),
                "local", "--host", args.host, "--port", str(args.port), "--stage", "local", "--no-autoreload",
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
        moto.stop()


if __name__ == "__main__":
    sys.exit(main())
