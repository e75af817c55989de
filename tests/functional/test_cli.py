"""The operator CLI as an operator runs it: a separate process against moto in server mode."""

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.conftest import PEPPER

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(moto_server):
    suffix = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server,
        "APIKEYS_PEPPERS": f"p2:{PEPPER}",
        "APIKEYS_KEYS_TABLE": f"cli-{suffix}-keys",
        "APIKEYS_EVENTS_TABLE": f"cli-{suffix}-events",
        "APIKEYS_IDEMPOTENCY_TABLE": f"cli-{suffix}-idem",
    }

    def run(*args, ok=True):
        done = subprocess.run(
            [sys.executable, "-m", "chalicelib.cli", *args], env=env, capture_output=True, text=True, timeout=60
        )
        if ok:
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout)
        return done

    run("init")
    return run


def test_operator_creates_lists_finds_and_revokes(cli):
    made = cli("create-key", "--community", "acme", "--name", "Feed", "--role", "ic_viewer",
               "--role", "playbooks_operator", "--description", "SOAR connector")  # fmt: skip
    assert made["secret"].startswith("apk_") and made["roles"] == ["ic_viewer", "playbooks_operator"]
    other = cli("create-key", "--community", "acme", "--name", "Other", "--role", "ic_viewer")
    listed = cli("list", "--community", "acme")["items"]
    assert [i["id"] for i in listed] == [other["id"], made["id"]]
    assert "secret" not in json.dumps(listed)
    assert [i["id"] for i in cli("list", "--community", "acme", "--search", "soar")["items"]] == [made["id"]]
    revoked = cli("revoke", "--community", "acme", "--id", made["id"], "--reason", "test")
    assert revoked["status"] == "revoked"
    assert [i["id"] for i in cli("list", "--community", "acme", "--status", "revoked")["items"]] == [made["id"]]
    assert [i["id"] for i in cli("list", "--community", "acme", "--status", "active")["items"]] == [other["id"]]
    assert cli("list", "--community", "elsewhere")["items"] == []


def test_operator_errors_are_clear_and_write_nothing(cli):
    unknown_role = cli("create-key", "--community", "acme", "--name", "x", "--role", "root", ok=False)
    assert unknown_role.returncode == 2 and "roles: unknown role 'root'" in unknown_role.stderr
    missing = cli("revoke", "--community", "acme", "--id", "AAAAAAAAAAAAAAAA", ok=False)
    assert missing.returncode == 2 and "no such API key" in missing.stderr
    assert cli("list", "--community", "acme")["items"] == []
