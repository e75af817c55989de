"""Search against the listing as a community grows, on DynamoDB Local; prints figures, asserts nothing.

    .venv/bin/python bench/search.py [--repeat 5] [--warmup 2]

Starts DynamoDB Local on loopback (``tests/deploy/dynamodb_local.py``, installed by
``scripts/ddb-local.sh``), creates the tables, and bulk-loads communities with BatchWriteItem:
100 keys, 10,000 keys of which 90% revoked, and 10,000 keys all active. In each, the oldest key
is the only one named "Zebra crossing sensor". Through the service in-process (``KeyService.list``,
what the route calls), for each community, the median of ``--repeat`` runs of:

- the floor: a list page of 50 active keys;
- a search that matches no key (status active, then all);
- a search that matches one key, the oldest (status active);

with the DynamoDB requests each made (counted at botocore) and its time against the floor's
(targets at 10,000 keys: no match ≤ 4 requests and ≤ 25 ×; one match ≤ 5 requests).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COMMUNITIES = (("c100", 100, 0.0), ("c10k-revoked", 10_000, 0.9), ("c10k-active", 10_000, 0.0))


def _environment(endpoint: str) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "APIKEYS_PEPPERS_SOURCE"):
        os.environ.pop(name, None)
    from tests.deploy.dynamodb_local import table_environment

    os.environ.update(
        {
            **table_environment(),
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "APIKEYS_PEPPERS": "b1:" + base64.b64encode(b"b" * 32).decode(),
            "APIKEYS_VAULT_TARGETS": "[]",
            "APIKEYS_DDB_READ_TIMEOUT": "30",  # a cold JVM; figures are medians of warm runs anyway
        }
    )


def _load(store: Any) -> None:
    from chalicelib.keys.records import ACTIVE, REVOKED
    from tests.bulk import bulk_keys

    start = datetime.now(UTC) - timedelta(days=1)
    for community, count, revoked in COMMUNITIES:
        every = round(1 / (1 - revoked))  # 90% revoked: one key in ten stays active
        began = time.perf_counter()
        bulk_keys(
            store,
            community,
            count,
            start=start,
            name=lambda i: "Zebra crossing sensor" if i == 0 else f"service key {i}",
            description=lambda i: f"ingest pipeline for tenant {i % 50}",
            status=lambda i, every=every: ACTIVE if i % every == 0 else REVOKED,
        )
        print(f"loaded {community}: {count} keys ({revoked:.0%} revoked) in {time.perf_counter() - began:.1f} s")


def _measure(call: Callable[[], dict[str, Any]], calls: list[str], repeat: int) -> tuple[float, int, int]:
    """Median seconds, DynamoDB requests of one run, items of the answer."""
    times, answer = [], {}
    for _ in range(repeat):
        calls.clear()
        began = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - began)
    return statistics.median(times), len(calls), len(answer["items"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2, help="untimed passes over every operation first")
    args = parser.parse_args()

    from tests.deploy.dynamodb_local import serve

    server = serve()
    endpoint = next(server)
    try:
        _environment(endpoint)
        from chalicelib import wiring
        from chalicelib.roles.caller import Caller
        from chalicelib.settings import get_settings
        from chalicelib.storage.models import create_tables, models_for

        wiring.reset()
        create_tables(models_for(get_settings()))
        _load(wiring.store())
        service = wiring.service()
        calls: list[str] = []
        wiring.key_reader().client.meta.events.register(
            "before-call.dynamodb", lambda model, **_: calls.append(model.name)
        )

        runs = (
            ("list page of 50 (floor)", {"status": "active", "limit": "50"}),
            ("search, no match, active", {"status": "active", "limit": "50", "search": "no such key"}),
            ("search, no match, all", {"status": "all", "limit": "50", "search": "no such key"}),
            ("search, one match (oldest)", {"status": "active", "limit": "50", "search": "ZEBRA"}),
        )

        def listed(community: str, params: dict[str, str]) -> Any:
            operator = Caller.operator(community)
            return lambda: service.list(operator, community, params)

        # DynamoDB Local is a JVM: its first queries run interpreted, before the JIT compiles them
        # (a first page of 50 takes 4x a later one). DynamoDB itself is always warm: every
        # operation runs untimed first, in every community, so no figure pays for the warm-up.
        for _ in range(args.warmup):
            for community, _, _ in COMMUNITIES:
                for _, params in runs:
                    listed(community, params)()

        print(f"\nDynamoDB Local on loopback, service in-process, median of {args.repeat} runs")
        print(f"{'community':<14}{'operation':<30}{'time':>10}{'requests':>10}{'items':>7}{'× page':>9}")
        for community, _, _ in COMMUNITIES:
            floor = None
            for label, params in runs:
                seconds, requests, items = _measure(listed(community, params), calls, args.repeat)
                floor = floor or seconds
                print(
                    f"{community:<14}{label:<30}{seconds * 1000:8.1f} ms{requests:>10}{items:>7}"
                    f"{seconds / floor:8.1f} ×"
                )
        print("targets at 10,000 keys: no match ≤ 4 requests and ≤ 25 × the page; one match ≤ 5 requests")
    finally:
        server.close()
    load = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps({"python": sys.version.split()[0], "cpu_count": os.cpu_count(), "loadavg": load}))


if __name__ == "__main__":
    main()
