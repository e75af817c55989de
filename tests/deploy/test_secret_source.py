"""Peppers in production: read from Secrets Manager or SSM (moto here), once per container."""

from __future__ import annotations

import base64

import boto3
import pytest

from tests.conftest import as_json, bearer

NEW = base64.b64encode(b"n" * 32).decode()
OLD = base64.b64encode(b"o" * 32).decode()


@pytest.fixture
def pepper_source(monkeypatch, moto_aws):
    """Settings read the peppers from a source; the container's cache starts and ends empty."""
    from chalicelib import secret_source, wiring

    monkeypatch.delenv("APIKEYS_PEPPERS")
    secret_source.read.cache_clear()

    def use(source: str) -> None:
        monkeypatch.setenv("APIKEYS_PEPPERS_SOURCE", source)
        wiring.reset()

    yield use
    secret_source.read.cache_clear()


def test_peppers_from_secrets_manager_serve_the_app(pepper_source):
    from chalice.test import Client

    from app import app
    from chalicelib.settings import get_settings
    from tests.conftest import make_key

    boto3.client("secretsmanager").create_secret(Name="apikeys/dev/peppers", SecretString=f"k2:{NEW},k1:{OLD}")
    pepper_source("secretsmanager:apikeys/dev/peppers")
    assert [p.id for p in get_settings().peppers] == ["k2", "k1"]
    _, secret = make_key()
    with Client(app) as client:
        answer = client.http.get("/whoami", headers=bearer(secret))
        assert answer.status_code == 200, answer.body
        created = client.http.post(
            "/communities/demo/apikeys",
            headers=bearer(secret),
            body=as_json({"name": "from the pepper secret", "roles": ["ic_viewer"]}),
        )
        assert created.status_code == 201


def test_peppers_from_an_ssm_secure_string(pepper_source):
    from chalicelib.settings import get_settings

    boto3.client("ssm").put_parameter(Name="/apikeys/dev/peppers", Value=f"k2:{NEW}", Type="SecureString")
    pepper_source("ssm:/apikeys/dev/peppers")
    assert [p.id for p in get_settings().peppers] == ["k2"]


def test_the_secret_is_read_once_per_container(pepper_source):
    from chalicelib import secret_source
    from chalicelib.settings import get_settings, reset_settings

    sm = boto3.client("secretsmanager")
    sm.create_secret(Name="apikeys/dev/peppers", SecretString=f"k1:{OLD}")
    pepper_source("secretsmanager:apikeys/dev/peppers")
    assert [p.id for p in get_settings().peppers] == ["k1"]
    sm.put_secret_value(SecretId="apikeys/dev/peppers", SecretString=f"k2:{NEW},k1:{OLD}")
    reset_settings()
    assert [p.id for p in get_settings().peppers] == ["k1"], "a warm container keeps what it read"
    secret_source.read.cache_clear()  # what a new container starts with
    reset_settings()
    assert [p.id for p in get_settings().peppers] == ["k2", "k1"]


def test_a_bad_source_or_a_missing_secret_is_an_error(pepper_source):
    from chalicelib.errors import SettingsError
    from chalicelib.settings import get_settings

    pepper_source("vault:apikeys/dev/peppers")
    with pytest.raises(SettingsError):
        get_settings()
    pepper_source("secretsmanager:apikeys/dev/absent")
    with pytest.raises(Exception) as raised:
        get_settings()
    assert "ResourceNotFound" in type(raised.value).__name__ or "ResourceNotFound" in str(raised.value)
