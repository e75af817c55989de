"""The limits a caller can drive against, under real concurrency: custom roles per community and
live keys per community. Each is a count changed in the same transaction as what it counts,
conditionally, so racing creates cannot pass it however they interleave.

Real threads and real HTTP: moto's server mode, and, under ``DDB_BACKEND=dynamodb-local``,
DynamoDB Local (moto still serving the rest), which applies transactions concurrently as DynamoDB does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.errors import Conflict
from chalicelib.roles.caller import Caller
from chalicelib.roles.custom import MAX_CUSTOM_ROLES
from tests.deploy import dynamodb_local
from tests.security.conftest import count
from tests.security.test_concurrency import race

pytestmark = [pytest.mark.slow, pytest.mark.dynamodb]


@pytest.fixture
def racing_aws(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """DynamoDB as DDB_BACKEND names it, reached over HTTP by every thread; yields its name."""
    # Racing threads queue inside the test servers: the rig's queue, not DynamoDB latency.
    monkeypatch.setenv("APIKEYS_DDB_READ_TIMEOUT", "60")
    monkeypatch.setenv("APIKEYS_DDB_MAX_RETRIES", "5")
    backend = dynamodb_local.backend()
    if backend == dynamodb_local.DYNAMODB_LOCAL:
        endpoint = request.getfixturevalue("dynamodb_local_url")
        for name, value in {**dynamodb_local.table_environment(), "AWS_ENDPOINT_URL_DYNAMODB": endpoint}.items():
            monkeypatch.setenv(name, value)
    request.getfixturevalue("served_aws")
    if backend == dynamodb_local.DYNAMODB_LOCAL:
        dynamodb_local.empty_tables(wiring.store().models)
    yield backend


def _role(n: int) -> dict[str, Any]:
    return {"name": f"role_{n}", "description": "x" * 200, "permissions": ["intelligence:read"]}


def test_60_concurrent_role_creates_from_80_stop_at_the_cap(racing_aws: str) -> None:
    count("concurrency cases")
    operator = Caller.operator("capped")
    roles = wiring.custom_roles()
    for n in range(80):
        roles.create(operator, "capped", _role(n))
    results = race([lambda n=n: roles.create(operator, "capped", _role(n)) for n in range(80, 140)], workers=30)

    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, Conflict)]
    assert not unexpected, unexpected[:3]
    created = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(created) == MAX_CUSTOM_ROLES - 80, f"{len(created)} created on {racing_aws}"
    assert all(f"at most {MAX_CUSTOM_ROLES}" in str(r) for r in refused)
    assert len(roles.store.list("capped")) == MAX_CUSTOM_ROLES
    # A deletion frees a place, counted in the same transaction.
    roles.delete(operator, "capped", "role_0")
    roles.create(operator, "capped", _role(500))
    with pytest.raises(Conflict, match="at most"):
        roles.create(operator, "capped", _role(501))


def test_concurrent_creates_stop_at_the_live_key_limit(racing_aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    count("concurrency cases")
    monkeypatch.setenv("APIKEYS_MAX_KEYS_PER_COMMUNITY", "30")
    wiring.reset()
    operator = Caller.operator("limited")
    service = wiring.service()
    first = [service.create(operator, "limited", {"name": f"k{n}", "roles": ["ic_viewer"]}).key for n in range(20)]
    results = race(
        [lambda n=n: service.create(operator, "limited", {"name": f"r{n}", "roles": ["ic_viewer"]}) for n in range(40)],
        workers=20,
    )
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, Conflict)]
    assert not unexpected, unexpected[:3]
    created = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(created) == 10, f"{len(created)} created on {racing_aws}"
    # The whole message a person reads: how many, which keys count, and what to do.
    assert {str(r) for r in refused} == {
        "this community already has 30 live (active or pending) API keys, the most allowed; "
        "revoke keys it no longer needs (expired ones count until revoked)"
    }, refused[:1]
    listed = wiring.store().list_keys("limited", "all", "", 100, None, service.clock())
    assert len(listed.items) == 30

    # Revoking frees a place; so does a rotation without grace (its old key leaves as the new one comes).
    service.revoke(operator, "limited", first[0].key_id)
    service.create(operator, "limited", {"name": "after revoke", "roles": ["ic_viewer"]})
    with pytest.raises(Conflict, match="30 live"):
        service.create(operator, "limited", {"name": "one too many", "roles": ["ic_viewer"]})
    wiring.rotation().rotate(operator, "limited", first[1].key_id, {"grace": "immediate"})
    with pytest.raises(Conflict, match="30 live"):
        service.create(operator, "limited", {"name": "still one too many", "roles": ["ic_viewer"]})
