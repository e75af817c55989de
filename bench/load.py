"""A bounded load run against the local run on loopback; prints figures, asserts nothing.

    .venv/bin/python bench/load.py [--seconds 20] [--threads 8] [--url http://127.0.0.1:8000 --key apk_...]
    .venv/bin/python bench/load.py --ddb-local 2 [--seconds 10] [--threads 4]   # DynamoDB Local, 2 servers

Without ``--url`` it starts ``scripts/local.py`` itself (moto server mode + chalice local) on free
ports and stops it at the end. Two phases, each ``--seconds`` long with ``--threads`` client threads
(each with its own keep-alive session): ``GET /whoami`` (authorizer-protected: parse, one consistent
read, hash, status) and ``GET /communities/{c}/apikeys?limit=20`` (authorizer + a listing query),
over a community holding ``--keys`` keys. For each: requests, req/s, p50/p99 latency, and error
counts by status. Stops by itself.

The figures measure chalice local and moto on this machine, not Lambda and DynamoDB: they show the
service holds up under concurrent callers (no errors, no hung requests), and what the local run
can serve, not production latency.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def hammer(url: str | list[str], headers: dict[str, str], seconds: float, threads: int) -> dict[str, Any]:
    """``url``, or a list of them: thread ``i`` calls ``url[i % len(url)]`` (one server per URL)."""
    urls = [url] if isinstance(url, str) else url
    stop_at = time.monotonic() + seconds
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    lock = threading.Lock()

    def worker(url: str) -> None:
        session = requests.Session()
        mine: list[float] = []
        seen: Counter[str] = Counter()
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                status = str(session.get(url, headers=headers, timeout=10).status_code)
            except requests.RequestException as error:
                status = type(error).__name__
            mine.append(time.perf_counter() - started)
            seen[status] += 1
        with lock:
            latencies.extend(mine)
            statuses.update(seen)

    began = time.monotonic()
    pool = [threading.Thread(target=worker, args=(urls[i % len(urls)],), daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=seconds + 30)
    elapsed = time.monotonic() - began
    total = sum(statuses.values())
    ordered = sorted(latencies) or [0.0]
    return {
        "requests": total,
        "req_per_s": round(total / elapsed, 1),
        "ok": statuses.get("200", 0),
        "errors": {k: v for k, v in statuses.items() if k != "200"},
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--keys", type=int, default=50, help="keys created in the community before the run")
    parser.add_argument("--url", help="a running local run; started here when absent")
    parser.add_argument("--key", help="an admin key of --community at --url")
    parser.add_argument("--community", default="demo")
    parser.add_argument("--ddb-local", type=int, metavar="N", help="DynamoDB Local and N chalice local processes")
    args = parser.parse_args()

    if args.ddb_local:
        from bench.load_ddb_local import run

        figures = run(args.ddb_local, args.seconds, args.threads, args.keys, hammer)
        print(f"load on DynamoDB Local: {args.ddb_local} server processes, {args.threads} threads x {args.seconds:g} s")
        for route, each in figures.items():
            errors = ", ".join(f"{k}: {v}" for k, v in sorted(each["errors"].items())) or "none"
            print(
                f"  {route:40s} {each['requests']:6d} requests  {each['req_per_s']:7.1f} req/s  "
                f"p50 {each['p50_ms']:6.1f} ms  "
                f"p99 {each['p99_ms']:6.1f} ms  errors: {errors}  raw GetItem p50 {each['getitem_p50_ms']:.2f} ms  "
                f"ratio {each['p50_ms'] / max(each['getitem_p50_ms'], 1e-3):.1f} ×"
            )
        print(json.dumps(figures))
        return 0

    process = None
    if args.url is None:
        import tempfile

        from tests.security.conftest import start_local_run, stop_local_run

        log = Path(tempfile.mkdtemp(prefix="apikeys-load-")) / "local.log"
        process, run = start_local_run(log)
        url, key, community = run.url, run.admin_key, run.community
    else:
        if not args.key:
            parser.error("--key is required with --url")
        url, key, community = args.url.rstrip("/"), args.key, args.community
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    try:
        for i in range(args.keys):
            made = requests.post(
                f"{url}/communities/{community}/apikeys",
                headers=headers,
                data=json.dumps({"name": f"load {i}", "roles": ["ic_viewer"]}),
                timeout=10,
            )
            made.raise_for_status()
        results = {
            "GET /whoami": hammer(f"{url}/whoami", headers, args.seconds, args.threads),
            f"GET /communities/{community}/apikeys?limit=20": hammer(
                f"{url}/communities/{community}/apikeys?limit=20", headers, args.seconds, args.threads
            ),
        }
    finally:
        if process is not None:
            stop_local_run(process)
    print(f"load: {args.threads} threads x {args.seconds:g} s per route, {args.keys} keys, local run at {url}")
    for route, figures in results.items():
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(figures["errors"].items())) or "none"
        print(
            f"  {route:45s} {figures['requests']:6d} requests  {figures['req_per_s']:7.1f} req/s  "
            f"p50 {figures['p50_ms']:6.1f} ms  p99 {figures['p99_ms']:6.1f} ms  errors: {errors}"
        )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
