"""Fixtures every suite shares: a clean AWS-looking environment, moto, the app and keys."""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest


def _share_botocore_loader() -> None:
    """Every test builds its clients anew (moto must be active before a client exists), and
    PynamoDB makes a fresh botocore session per connection, each parsing DynamoDB's service
    model again: ~150 ms a client. Sessions that share one loader parse it once per process."""
    import botocore.loaders
    import botocore.session
    import pynamodb.connection.base

    loader = botocore.loaders.create_loader()

    def get_session() -> botocore.session.Session:
        session = botocore.session.Session()
        session.register_component("data_loader", loader)
        return session

    pynamodb.connection.base.get_session = get_session  # type: ignore[attr-defined]


_share_botocore_loader()


def _hypothesis_profile() -> None:
    """In CI (``CI=true``) Hypothesis and Schemathesis draw the same examples every run, so a
    submission is judged on a repeatable suite; on a developer's machine they explore anew each
    run, and whatever they find is reproduced with the seed they print."""
    from hypothesis import Phase, settings

    # No deadline anywhere: a per-example time limit is a timed assertion, and on a shared,
    # loaded machine it fails examples that are merely slow (seen: 454 ms against 200 ms).
    settings.register_profile("default", deadline=None)
    settings.register_profile("ci", derandomize=True, database=None, deadline=None)
    # Under mutmut a failure is all that is asked: no shrinking nor explaining of the example,
    # which costs many times the run that found it (mutmut stops at the first failing test).
    settings.register_profile(
        "mutation",
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.reuse, Phase.generate),
    )
    if os.environ.get("MUTANT_UNDER_TEST", "") not in ("", "stats"):
        settings.load_profile("mutation")
    elif os.environ.get("CI") == "true":
        settings.load_profile("ci")
    else:
        settings.load_profile("default")


_hypothesis_profile()

PEPPER = base64.b64encode(b"p" * 32).decode()
OLD_PEPPER = base64.b64encode(b"o" * 32).decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and our settings; never a real AWS endpoint, never a developer's profile."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "APIKEYS_PEPPERS_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("APIKEYS_PEPPERS", f"p2:{PEPPER},p1:{OLD_PEPPER}")
    monkeypatch.setenv("APIKEYS_VAULT_TARGETS", "[]")
    monkeypatch.setenv("APIKEYS_LEAK_KEYS_URL", "")  # GitHub's keys are served on loopback where a test needs them
    from chalicelib import wiring

    wiring.reset()
    yield
    wiring.reset()


@pytest.fixture
def moto_aws(request: pytest.FixtureRequest) -> Iterator[None]:
    """moto in-process, with the tables created. Under ``DDB_BACKEND=dynamodb-local`` DynamoDB is
    DynamoDB Local instead (the session's tables, emptied for each test); moto serves the rest."""
    from moto import mock_aws

    from chalicelib import wiring
    from chalicelib.settings import get_settings
    from chalicelib.storage.models import create_tables, models_for
    from tests.deploy import dynamodb_local

    config = None
    if dynamodb_local.backend() == dynamodb_local.DYNAMODB_LOCAL:
        endpoint = request.getfixturevalue("dynamodb_local_url")
        monkeypatch = request.getfixturevalue("monkeypatch")
        for name, value in {**dynamodb_local.table_environment(), "AWS_ENDPOINT_URL_DYNAMODB": endpoint}.items():
            monkeypatch.setenv(name, value)
        config = dynamodb_local.moto_config(endpoint)
    with mock_aws(config=config):
        wiring.reset()
        models = models_for(get_settings())
        create_tables(models)
        if config is not None:
            dynamodb_local.empty_tables(models)
        yield
        wiring.reset()


@pytest.fixture(scope="session")
def dynamodb_local_url() -> Iterator[str]:
    """DynamoDB Local on loopback for the whole session (only started under DDB_BACKEND=dynamodb-local)."""
    from tests.deploy import dynamodb_local

    yield from dynamodb_local.serve()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under DDB_BACKEND=dynamodb-local run only the tests that reach DynamoDB: through ``moto_aws``,
    behind a real socket through ``served_aws`` (tests/security), or through a fixture of their own
    that picks the backend (marked ``dynamodb``)."""
    from tests.deploy import dynamodb_local

    if "MUTANT_UNDER_TEST" in os.environ:
        # mutmut (`make mutation`) stops a mutant's run at the first failure, and orders the
        # tests by the time of their call alone: the unit tests first, whose setup costs nothing,
        # so a killed mutant is known before a functional test starts its own AWS.
        items.sort(key=lambda item: not item.nodeid.startswith("tests/unit/"))
    if dynamodb_local.backend() != dynamodb_local.DYNAMODB_LOCAL:
        return
    reach = ("moto_aws", "served_aws")
    kept = [
        item
        for item in items
        if any(name in getattr(item, "fixturenames", ()) for name in reach)
        or item.get_closest_marker("dynamodb") is not None
    ]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


@pytest.fixture
def client(moto_aws: None) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app) as test_client:
        yield test_client


def make_key(community: str = "demo", roles: tuple[str, ...] = ("community_admin",), **extra: Any) -> tuple[str, str]:
    """Create a key as the operator; returns (key id, secret)."""
    from chalicelib import wiring
    from chalicelib.roles.caller import Caller

    body = {"name": extra.pop("name", "fixture key"), "roles": list(roles), **extra}
    created = wiring.service().create(Caller.operator(community), community, body)
    return created.key.key_id, created.secret


@pytest.fixture
def admin(moto_aws: None) -> tuple[str, str]:
    """An admin key of community ``demo``: (id, secret)."""
    return make_key()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


def as_json(body: Any) -> str:
    return json.dumps(body)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto in server mode on loopback, for tests that cross a real socket; yields its URL."""
    from scripts.embedded_moto import serialized_moto_server

    port = free_port()
    server = serialized_moto_server(port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def pytest_configure(config: pytest.Config) -> None:
    """Secret hygiene watches the whole session: every log line, error body and authorizer context."""
    from tests.security.hygiene import HygienePlugin
    from tests.security.tally import TallyPlugin

    if not config.pluginmanager.has_plugin("apikeys-hygiene"):
        config.pluginmanager.register(HygienePlugin(), "apikeys-hygiene")
        config.pluginmanager.register(TallyPlugin(), "apikeys-security-tally")


def pytest_unconfigure(config: pytest.Config) -> None:
    """The controller removes the session's shared folder, and what was packaged there."""
    from tests import worker_share

    worker_share.remove(config)
