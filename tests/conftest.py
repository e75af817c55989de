"""Fixtures every suite shares: a clean AWS-looking environment, moto, the app and keys."""

from __future__ import annotations

import base64
import json
import socket
from typing import Any, Iterator

import pytest

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
    from chalicelib import wiring

    wiring.reset()
    yield
    wiring.reset()


@pytest.fixture
def moto_aws() -> Iterator[None]:
    """moto in-process, with the tables created."""
    from moto import mock_aws

    from chalicelib import wiring
    from chalicelib.settings import get_settings
    from chalicelib.store import create_tables, models_for

    with mock_aws():
        wiring.reset()
        create_tables(models_for(get_settings()))
        yield
        wiring.reset()


@pytest.fixture
def client(moto_aws: None) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app) as test_client:
        yield test_client


def make_key(community: str = "demo", roles: tuple[str, ...] = ("community_admin",), **extra: Any) -> tuple[str, str]:
    """Create a key as the operator; returns (key id, secret)."""
    from chalicelib import wiring
    from chalicelib.service import Caller

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
