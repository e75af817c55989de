"""Vault targets without a network: configuration, choices, default paths and each backend's
naming rules, and that importing the app loads no vault client."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from chalicelib.errors import ValidationError, VaultFailure
from chalicelib.vaults import VaultConfigError, VaultRegistry

TARGETS = [
    {"name": "aws-secrets", "kind": "secretsmanager", "name_prefix": "apikeys/", "kms_key_id": None},
    {"name": "params", "kind": "ssm", "path_prefix": "/apikeys/", "on_revoke": "mark"},
    {
        "name": "bao",
        "kind": "openbao",
        "address": "http://127.0.0.1:8200",
        "mount": "secret",
        "auth": {"method": "token", "token_env": "BAO_TOKEN"},
    },
]
KEY_ID = "AbCdEfGh12345678"


@pytest.fixture
def registry() -> VaultRegistry:
    return VaultRegistry.from_settings(TARGETS)


def test_choices_are_names_and_kinds_only(registry):
    assert registry.choices() == [
        {"name": "aws-secrets", "kind": "secretsmanager"},
        {"name": "params", "kind": "ssm"},
        {"name": "bao", "kind": "openbao"},
    ]


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("aws-secrets", f"apikeys/demo/{KEY_ID}"),
        ("params", f"/apikeys/demo/{KEY_ID}"),
        ("bao", f"apikeys/demo/{KEY_ID}"),
    ],
)
def test_default_path_is_community_and_key_id(registry, target, path):
    location = registry.resolve(target, None, "demo", KEY_ID)
    assert location["path"] == path and location["target"] == target and location["key_id"] == KEY_ID


def test_a_given_path_stays_inside_the_communitys_folder(registry):
    assert registry.resolve("aws-secrets", "ci/deploy", "demo", KEY_ID)["path"] == "apikeys/demo/ci/deploy"


@pytest.mark.parametrize(
    ("target", "path", "words"),
    [
        ("aws-secrets", "a/../b", "'..'"),
        ("aws-secrets", "sp ace", "may contain only"),
        ("aws-secrets", "é", "may contain only"),
        ("aws-secrets", "x" * 500, "at most 512"),
        ("aws-secrets", "name-ABC123", "six characters"),
        ("aws-secrets", "/abs", "leading '/'"),
        ("params", "a:b", "may contain only"),
        ("params", "x" * 1000, "at most 1011"),
        ("params", "/".join("abcdefghijklmnop"), "15 levels"),
        ("params", "a/./b", "'.' segments"),
        ("bao", "a*b", "may contain only"),
        ("bao", "..", "'..'"),
        ("bao", "dir/", "trailing '/'"),
    ],
)
def test_paths_are_checked_per_backend(registry, target, path, words):
    with pytest.raises(ValidationError) as refused:
        registry.resolve(target, path, "demo", KEY_ID)
    assert refused.value.field == "vault.path" and words in str(refused.value)


def test_ssm_reserved_names():
    registry = VaultRegistry.from_settings([{"name": "p", "kind": "ssm", "path_prefix": "/"}])
    with pytest.raises(ValidationError, match="reserved"):
        registry.resolve("p", None, "AWSteam", KEY_ID)


def test_unknown_target(registry):
    with pytest.raises(ValidationError) as refused:
        registry.resolve("elsewhere", None, "demo", KEY_ID)
    assert refused.value.field == "vault.target" and "aws-secrets, params, bao" in str(refused.value)


def test_a_location_whose_target_was_removed_is_a_vault_failure(registry):
    with pytest.raises(VaultFailure, match="no longer configured"):
        registry.discard({"target": "gone", "path": "x", "key_id": KEY_ID})


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"name": "x", "kind": "nosuch"}, "kind must be one of"),
        ({"name": "Bad Name", "kind": "ssm"}, "vault target name"),
        ({"name": "x", "kind": "ssm", "colour": "red"}, "unknown field 'colour'"),
        ({"name": "x", "kind": "ssm", "on_revoke": "shred"}, "on_revoke"),
        ({"name": "x", "kind": "ssm", "path_prefix": "apikeys"}, "start and end with '/'"),
        ({"name": "x", "kind": "secretsmanager", "name_prefix": "a b/"}, "name_prefix"),
        ({"name": "b", "kind": "openbao", "address": "ftp://x", "auth": {"method": "token"}}, "http(s) URL"),
        (
            {"name": "b", "kind": "openbao", "address": "https://x", "auth": {"method": "token", "token": "s.x"}},
            "inline",
        ),
        ({"name": "b", "kind": "openbao", "address": "https://x", "auth": {"method": "ldap"}}, "auth must be"),
        (
            {"name": "b", "kind": "openbao", "address": "https://x", "auth": {"method": "token"}, "verify": "false"},
            "verify must be",
        ),
    ],
)
def test_configuration_mistakes_are_named(config, words):
    with pytest.raises(VaultConfigError, match=None) as refused:
        VaultRegistry.from_settings([config])
    assert words in str(refused.value)


def test_a_name_configured_twice():
    with pytest.raises(VaultConfigError, match="twice"):
        VaultRegistry.from_settings([{"name": "x", "kind": "ssm"}, {"name": "x", "kind": "secretsmanager"}])


def test_prefix_is_another_spelling_of_each_kinds_prefix():
    registry = VaultRegistry.from_settings(
        [{"name": "s", "kind": "secretsmanager", "prefix": "keys/"}, {"name": "p", "kind": "ssm", "prefix": "/keys/"}]
    )
    assert registry.resolve("s", None, "demo", KEY_ID)["path"] == f"keys/demo/{KEY_ID}"
    assert registry.resolve("p", None, "demo", KEY_ID)["path"] == f"/keys/demo/{KEY_ID}"


def test_tls_verification_off_is_logged(caplog):
    config = {"name": "b", "kind": "openbao", "address": "https://bao.internal:8200", "verify": False}
    with caplog.at_level(logging.WARNING, logger="apikeys.vaults"):
        VaultRegistry.from_settings([{**config, "auth": {"method": "token", "token_env": "T"}}])
    assert "TLS certificate verification is OFF" in caplog.text


def test_missing_token_variable_fails_naming_the_variable_not_a_value(monkeypatch):
    monkeypatch.delenv("BAO_TOKEN", raising=False)
    target = VaultRegistry.from_settings(TARGETS).targets["bao"]
    with pytest.raises(VaultFailure, match="BAO_TOKEN"):
        target.client()  # type: ignore[attr-defined]


def test_importing_the_app_loads_no_vault_client():
    code = "import sys, app, chalicelib.vaults; print(sorted(m for m in ('hvac', 'boto3') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "hvac" not in loaded
