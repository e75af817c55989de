"""Real threads against moto's server mode (real HTTP to DynamoDB's API on loopback): the store's
conditions and transactions must hold the guarantees under races, not the Python process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.errors import Conflict
from chalicelib.roles.caller import Caller
from tests.security.conftest import count

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def patient_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test server handles one request at a time, so 32 racing threads queue inside it for
    seconds on a loaded 2-core machine: that queue is the test rig, not DynamoDB latency, and the
    production read timeout (2 s) would turn it into spurious StoreErrors."""
    monkeypatch.setenv("APIKEYS_DDB_READ_TIMEOUT", "60")
    monkeypatch.setenv("APIKEYS_DDB_MAX_RETRIES", "5")


@pytest.fixture(autouse=True)
def conflicts_counted(patient_clients: None, served_aws: None) -> Iterator[None]:
    """DynamoDB Local cancels overlapping transactions (``TransactionConflict``) as DynamoDB does;
    the tally says how many the store committed again (moto's serialized server: none)."""
    yield
    count("transaction conflicts retried", wiring.store().conflicts_retried)


def race(calls: list[Callable[[], Any]], workers: int = 25) -> list[Any]:
    """Run every call at once (as far as threads go); each result or the exception it raised."""
    barrier = threading.Barrier(min(workers, len(calls)))

    def run(call: Callable[[], Any]) -> Any:
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            pass
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - the caller sorts outcomes
            return error

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(run, calls))
    count("concurrent calls", len(calls))
    return results


def events_of(community: str, key_id: str | None = None) -> list[Any]:
    events, _ = wiring.store().list_events(community, key_id, 1000, None)
    return events


def test_50_concurrent_revokes_and_edits_of_one_key(served_aws: None) -> None:
    count("concurrency cases")
    operator = Caller.operator("race")
    service = wiring.service()
    key = service.create(operator, "race", {"name": "n-start", "roles": ["ic_viewer"]}).key
    calls: list[Callable[[], Any]] = []
    for i in range(50):
        if i % 2:
            calls.append(lambda i=i: ("revoke", service.revoke(operator, "race", key.key_id, {"reason": f"r{i}"})))
        else:
            calls.append(lambda i=i: ("edit", service.edit(operator, "race", key.key_id, {"name": f"n-{i}"})))
    results = race(calls)

    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, Conflict)]
    assert not unexpected, unexpected
    revokes = [r[1] for r in results if not isinstance(r, Exception) and r[0] == "revoke"]
    edits = [r[1] for r in results if not isinstance(r, Exception) and r[0] == "edit"]
    assert len(revokes) == 25, "every revoke answers the revoked key (the first revokes, the rest repeat)"
    assert {r.status for r in revokes} == {"revoked"}
    assert len({(r.revoked_at, r.revoked_by) for r in revokes}) == 1, "one revocation, seen by all"

    final = wiring.store().get(key.key_id)
    trail = sorted(events_of("race", key.key_id), key=lambda e: e.event_id)
    assert [e.action for e in trail].count("revoke") == 1
    assert final.status == "revoked"
    revoke_at = next(i for i, e in enumerate(trail) if e.action == "revoke")
    assert all(e.action != "edit" for e in trail[revoke_at + 1 :]), "an edit landed after the revocation"

    # No lost edit: every edit that answered success is in the trail, and the edits form one chain
    # (each one's "before" is the previous one's "after"), ending at the stored name.
    edit_events = [e for e in trail if e.action == "edit"]
    assert {e.name for e in edits} <= {e.details["after"]["name"] for e in edit_events}
    assert len(edit_events) == len(edits)
    following = {e.details["before"]["name"]: e.details["after"]["name"] for e in edit_events}
    assert len(following) == len(edit_events), "two edits were applied to the same version"
    name, steps = "n-start", 0
    while name in following:
        name, steps = following[name], steps + 1
    assert steps == len(edit_events) and name == final.name


def test_200_concurrent_creates_with_distinct_idempotency_keys(served_aws: None) -> None:
    count("concurrency cases")
    operator = Caller.operator("burst")
    service = wiring.service()
    calls = [
        lambda i=i: service.create(operator, "burst", {"name": f"k{i}", "roles": ["ic_viewer"]}, f"idem-{i}")
        for i in range(200)
    ]
    results = race(calls, workers=32)
    failures = [r for r in results if isinstance(r, Exception)]
    assert not failures, failures[:3]
    assert len({r.key.key_id for r in results}) == 200
    assert len({r.secret for r in results}) == 200 and None not in {r.secret for r in results}
    listed = wiring.store().list_keys("burst", "all", "", 100, None, service.clock())
    seen = len(listed.items)
    while listed.last is not None:
        listed = wiring.store().list_keys(
            "burst", "all", "", 100, (listed.last.key_id, listed.last.created_at), service.clock()
        )
        seen += len(listed.items)
    assert seen == 200
    assert [e.action for e in events_of("burst")].count("create") == 200


def test_20_concurrent_creates_with_one_idempotency_key(served_aws: None) -> None:
    count("concurrency cases")
    operator = Caller.operator("same")
    service = wiring.service()
    body = {"name": "once", "roles": ["ic_viewer"]}
    results = race(
        [lambda: service.create(operator, "same", dict(body), "the-same-key") for _ in range(20)], workers=20
    )
    failures = [r for r in results if isinstance(r, Exception)]
    assert not failures, failures[:3]
    assert len({r.key.key_id for r in results}) == 1
    assert sum(r.secret is not None for r in results) == 1, "the secret is shown once"
    assert sum(r.replayed for r in results) == 19
    listed = wiring.store().list_keys("same", "all", "", 100, None, service.clock())
    assert len(listed.items) == 1
    assert [e.action for e in events_of("same")].count("create") == 1
