"""The management function's cold start to its first answer, against the floor; prints figures,
asserts nothing.

    .venv/bin/python bench/management_cold_start.py [--runs 5]

Starts moto in server mode on loopback, creates the tables and one admin key (bench/cold_start.py's
helpers), then alternates two kinds of fresh interpreter (so that a busy moment hurts both alike):

- management: ``import app`` (what Lambda's init runs), then one ``POST /communities/bench/apikeys``
  through ``app.app`` with Chalice's local test client (the authorizer runs first, as behind API
  Gateway): the first request validates a body, the work request models add to a cold start;
- floor: ``import boto3``, one client, one consistent GetItem (bench/cold_start.py's floor).

For each, the wall time from spawning the interpreter to its exit (medians), the ratio, and the
management process's own split between ``import app`` and the first request.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile

from cold_start import FLOOR, _environment, _run, _seed

MANAGEMENT = """
import json, sys, time
started = time.perf_counter()
import app
imported = time.perf_counter()
from chalice.test import Client
with Client(app.app, project_dir=sys.argv[2]) as client:
    answer = client.http.post(
        "/communities/bench/apikeys",
        headers={"Authorization": "Bearer " + sys.argv[1], "Content-Type": "application/json"},
        body=json.dumps({"name": "cold start", "roles": ["ic_viewer"], "expires_in_days": 30}),
    )
answered = time.perf_counter()
assert answer.status_code == 201, answer.body
print(json.dumps({"import": imported - started, "first": answered - imported}), file=sys.stderr)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from scripts.embedded_moto import serialized_moto_server
    from tests.conftest import free_port

    port = free_port()
    server = serialized_moto_server(port)
    server.start()
    no_config = tempfile.TemporaryDirectory(prefix="bench-")  # Chalice's client: no stage config to apply
    try:
        env = _environment(f"http://127.0.0.1:{port}")
        table, key_id, _ = _seed(env)
        admin = _admin_key()
        env["APIKEYS_LAST_USED_INTERVAL"] = "0"  # each run's first verification does a cold start's write
        _run(MANAGEMENT, [admin, no_config.name], env)  # the file system's caches, for both
        _run(FLOOR, [table, key_id], env)
        management, floor, splits = [], [], []
        for _ in range(args.runs):
            elapsed, stderr = _run(MANAGEMENT, [admin, no_config.name], env)
            management.append(elapsed)
            splits.append(json.loads(stderr.strip().splitlines()[-1]))
            floor.append(_run(FLOOR, [table, key_id], env)[0])
    finally:
        server.stop()
        no_config.cleanup()

    m_ms, f_ms = statistics.median(management) * 1000, statistics.median(floor) * 1000
    import_ms = statistics.median(s["import"] for s in splits) * 1000
    first_ms = statistics.median(s["first"] for s in splits) * 1000
    print(f"management cold start to the first answer, median of {args.runs} fresh interpreters each (moto server)")
    split = f"(import {import_ms:.1f}, first request {first_ms:.1f})"
    print(f"  management: import app + one create    {m_ms:8.1f} ms   {split}")
    print(f"  floor: import boto3 + one GetItem      {f_ms:8.1f} ms")
    print(f"  ratio                                  {m_ms / f_ms:8.2f} ×")
    load = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps({"python": sys.version.split()[0], "cpu_count": os.cpu_count(), "loadavg": load}))


def _admin_key() -> str:
    """A key holding apikeys:manage in the seeded community, made in this process (the seed's key
    only reads)."""
    from chalicelib import wiring
    from chalicelib.roles.caller import Caller

    created = wiring.service().create(
        Caller.operator("bench"), "bench", {"name": "bench admin", "roles": ["community_admin"]}
    )
    return str(created.secret)


if __name__ == "__main__":
    main()
