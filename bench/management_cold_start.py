"""The management function's cold start to its first answer, against the floor; prints figures,
asserts nothing.

    .venv/bin/python bench/management_cold_start.py [--runs 5]

Starts moto in server mode on loopback with what the stage reads (bench/cold_start.py's helpers:
its tables, its pepper secret) and one admin key, then alternates two kinds of fresh interpreter,
each with the API handler's environment from the stage's config (so that a busy moment hurts both
alike):

- management: ``import app`` (what Lambda's init runs), then one ``POST /communities/bench/apikeys``
  through ``app.app`` with Chalice's local test client (the authorizer runs first, as behind API
  Gateway): the first request validates a body, the work request models add to a cold start;
- floor: ``import boto3``, read the same pepper secret, one consistent GetItem (bench/cold_start.py's
  floor).

For each, the wall time from spawning the interpreter to its answer (medians; teardown is no part
of a Lambda cold start), the ratio, and the management process's own split between
``import app`` and the first request.
"""

from __future__ import annotations

import argparse
import tempfile

from cold_start import alternate, floor_kind, print_machine, seeded_moto

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
report = {"import": imported - started, "first": answered - imported, "answered": time.time()}
print(json.dumps(report), file=sys.stderr)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    no_config = tempfile.TemporaryDirectory(prefix="bench-")  # Chalice's client: no stage config to apply
    try:
        with seeded_moto(args.stage) as seeded:
            admin = _admin_key()
            env = seeded.environment("api_handler")
            env["APIKEYS_LAST_USED_INTERVAL"] = "0"  # each run's first verification does a cold start's write
            management_kind = (MANAGEMENT, [admin, no_config.name], env)
            timings = alternate(args.runs, {"management": management_kind, "floor": floor_kind(seeded, "api_handler")})
            management, floor = timings["management"], timings["floor"]
    finally:
        no_config.cleanup()

    m_ms, f_ms = management.ms(), floor.ms()
    print(
        f"management cold start to the first answer, stage {args.stage}'s settings, "
        f"median of {args.runs} fresh interpreters each (moto server)"
    )
    split = f"(import {management.ms('import'):.1f}, first request {management.ms('first'):.1f})"
    print(f"  management: import app + one create    {m_ms:8.1f} ms   {split}")
    print(f"  floor: boto3, the secret, one GetItem  {f_ms:8.1f} ms")
    print(f"  ratio                                  {m_ms / f_ms:8.2f} ×")
    print_machine()


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
