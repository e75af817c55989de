"""The OpenAPI document generates a working client: openapi-python-client turns the served
``/openapi.json`` into a Python package, and that package's own calls (request building, response
parsing into its models) run a key's lifecycle against the app. Its HTTP goes through an httpx
transport into Chalice's test client, so every request meets the real routes, authorizer and
store (moto), only without a socket."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import bearer

pytestmark = pytest.mark.slow

PACKAGE = "apikeys_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The client package generated from the document the app serves."""
    from chalice.test import Client

    from app import app

    with Client(app) as chalice_client:
        document = chalice_client.http.get("/openapi.json")
    assert document.status_code == 200
    root = tmp_path_factory.mktemp("generated")
    spec = root / "openapi.json"
    spec.write_bytes(document.body)
    tool = Path(sys.executable).with_name("openapi-python-client")
    env = {**os.environ, "PATH": f"{tool.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [str(tool), "generate", "--path", str(spec), "--output-path", str(root / PACKAGE), "--meta", "none"],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # Every operation of the document became a function: none was skipped as unreadable.
    operations = {op["operationId"] for path in json.loads(spec.read_text())["paths"].values() for op in path.values()}
    modules = {p.stem for p in (root / PACKAGE / "api" / "default").glob("*.py")} - {"__init__"}
    assert {_snake(name) for name in operations} == modules
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _through(chalice_client: Any) -> httpx.MockTransport:
    """httpx requests answered by the app through Chalice's test client."""

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        done = chalice_client.http.request(
            request.method, path, headers=dict(request.headers), body=request.content or b""
        )
        return httpx.Response(done.status_code, headers=done.headers, content=done.body)

    return httpx.MockTransport(answer)


def test_a_generated_client_creates_lists_reads_and_revokes_a_key(generated, client, admin):
    _, secret = admin
    models = importlib.import_module(f"{PACKAGE}.models")
    call = {
        name: importlib.import_module(f"{PACKAGE}.api.default.{name}")
        for name in ("create_key", "list_keys", "get_key", "revoke_key", "whoami")
    }
    api = generated.AuthenticatedClient(
        base_url="https://apikeys.example", token=secret, httpx_args={"transport": _through(client)},
        raise_on_unexpected_status=True,
    )  # fmt: skip

    me = call["whoami"].sync(client=api)
    assert isinstance(me, models.Caller) and me.community == "demo"

    body = models.CreateKey(name="from a generated client", roles=[models.CreateKeyRolesItem.IC_VIEWER])
    created = call["create_key"].sync("demo", client=api, body=body, idempotency_key="generated-1")
    assert isinstance(created, models.Created), created
    assert created.secret.startswith("apk_") and created.api_key.name == "from a generated client"
    key_id = created.api_key.id

    listed = call["list_keys"].sync("demo", client=api, search="generated", status=models.ListKeysStatus.ACTIVE)
    assert isinstance(listed, models.KeyList)
    assert [item.id for item in listed.items] == [key_id]

    read = call["get_key"].sync("demo", key_id, client=api)
    assert isinstance(read, models.ApiKey) and read.status == models.ApiKeyStatus.ACTIVE

    revoked = call["revoke_key"].sync("demo", key_id, client=api, body=models.RevokeKey(reason="done"))
    assert isinstance(revoked, models.ApiKey) and revoked.status == models.ApiKeyStatus.REVOKED

    # The new key's own secret authenticates no more; the generated client parses the refusal.
    refused = call["whoami"].sync_detailed(client=generated.AuthenticatedClient(
        base_url="https://apikeys.example", token=created.secret, httpx_args={"transport": _through(client)},
    ))  # fmt: skip
    assert refused.status_code == 401
    assert client.http.get("/whoami", headers=bearer(secret)).status_code == 200


def test_a_generated_client_reads_a_refusal_as_the_documented_error(generated, client, admin):
    _, secret = admin
    models = importlib.import_module(f"{PACKAGE}.models")
    create_key = importlib.import_module(f"{PACKAGE}.api.default.create_key")
    api = generated.AuthenticatedClient(
        base_url="https://apikeys.example", token=secret, httpx_args={"transport": _through(client)}
    )
    body = models.CreateKey(name="   ", roles=[models.CreateKeyRolesItem.IC_VIEWER])
    answer = create_key.sync_detailed("demo", client=api, body=body)
    assert answer.status_code == 400
    assert isinstance(answer.parsed, models.Error)
    assert answer.parsed.code == "BadRequestError" and answer.parsed.message.startswith("name: ")
