"""What a caller can make the service read, parse or write is bounded: the roles an authorizer
reads, the reads and writes of a leak report, the depth and size of a body.

DynamoDB calls are counted where PynamoDB sends them (``Connection.dispatch``), against moto or
DynamoDB Local: what is judged is the requests the service makes, not a model of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.keys import format as key_format
from chalicelib.keys.leaks import MAX_TOKENS
from chalicelib.roles.caller import Caller
from tests.conftest import as_json, bearer, make_key
from tests.functional.test_leaks import github, report  # noqa: F401 - fixture

NESTED = b"[" * 2000 + b"]" * 2000


class Calls:
    def __init__(self) -> None:
        self.made: list[tuple[str, dict[str, Any]]] = []

    def named(self, operation: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.made if name == operation]

    def clear(self) -> None:
        self.made.clear()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    from pynamodb.connection.base import Connection

    recorded = Calls()
    dispatch = Connection.dispatch

    def counting(self: Any, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
        recorded.made.append((operation_name, operation_kwargs))
        return dispatch(self, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "dispatch", counting)
    yield recorded


# -- the authorizer reads only the roles a key holds ----------------------------------------------


def test_a_key_with_a_custom_role_costs_reads_of_its_roles_only(client: Any, calls: Calls) -> None:
    operator = Caller.operator("demo")
    roles = wiring.custom_roles()
    for n in range(99):
        filler = {"name": f"filler_{n}", "description": "d" * 1000, "permissions": ["intelligence:read"]}
        roles.create(operator, "demo", filler)
    roles.create(operator, "demo", {"name": "hunter", "description": "h" * 1000, "permissions": ["operations:read"]})
    _, secret = make_key(roles=("hunter", "ic_viewer"))
    calls.clear()

    answer = client.http.get("/whoami", headers=bearer(secret))

    assert answer.status_code == 200
    assert answer.json_body["permissions"] == ["intelligence:read", "operations:read"]
    roles_table = wiring.store().models.CustomRole.Meta.table_name
    assert not [kw for kw in calls.named("Query") if kw.get("TableName") == roles_table], "read the whole role table"
    batches = calls.named("BatchGetItem")
    assert len(batches) == 1
    asked = batches[0]["RequestItems"][roles_table]
    assert [key["name"]["S"] for key in asked["Keys"]] == ["hunter"]
    assert asked["ConsistentRead"] is True
    assert "description" not in json.dumps(asked), "the description is not projected"


def test_a_key_with_built_in_roles_reads_no_role(client: Any, calls: Calls) -> None:
    _, secret = make_key(roles=("ic_viewer",))
    calls.clear()
    assert client.http.get("/whoami", headers=bearer(secret)).status_code == 200
    assert not calls.named("BatchGetItem") and not calls.named("Query")


# -- leak reports: batched reads, cheap replays, a bound -------------------------------------------


def test_a_report_of_1000_tokens_is_read_in_batches(github: Any, client: Any, admin: Any, calls: Calls) -> None:  # noqa: F811
    tokens = [key_format.generate("apk").plaintext for _ in range(MAX_TOKENS)]  # well formed, unknown
    calls.clear()
    answer = report(client, github, tokens)
    assert answer.status_code == 200
    assert {item["label"] for item in answer.json_body} == {"false_positive"}
    assert not calls.named("GetItem"), "one read per token"
    assert len(calls.named("BatchGetItem")) <= MAX_TOKENS // 100 + 1


def test_a_replayed_report_writes_nothing(github: Any, client: Any, calls: Calls) -> None:  # noqa: F811
    key_id, secret = make_key(roles=("ic_viewer",))
    first = report(client, github, [secret])
    assert first.status_code == 200 and first.json_body[0]["label"] == "true_positive"
    calls.clear()
    for _ in range(3):
        again = report(client, github, [secret, secret])
        assert again.status_code == 200 and {i["label"] for i in again.json_body} == {"true_positive"}
    assert not calls.named("TransactWriteItems") and not calls.named("UpdateItem") and not calls.named("PutItem")
    assert len(calls.named("BatchGetItem")) == 3
    assert wiring.store().get(key_id).status == "revoked"


def test_a_report_over_the_bound_is_refused_before_any_read(github: Any, client: Any, admin: Any, calls: Calls) -> None:  # noqa: F811
    tokens = [key_format.generate("apk").plaintext for _ in range(MAX_TOKENS + 1)]
    calls.clear()
    answer = report(client, github, tokens)
    assert answer.status_code == 400 and answer.json_body["Message"].startswith("body:")
    assert not calls.made


def test_a_leak_report_revokes_a_key_stronger_than_any_caller(github: Any, client: Any) -> None:  # noqa: F811
    from chalicelib.roles.catalog import PERMISSIONS

    everything = {"name": "all_of_it", "permissions": sorted(PERMISSIONS)}
    wiring.custom_roles().create(Caller.operator("demo"), "demo", everything)
    key_id, secret = make_key(roles=("all_of_it",))
    assert report(client, github, [secret]).status_code == 200
    assert wiring.store().get(key_id).status == "revoked"


# -- bodies: bounded depth and size on every route that reads one ---------------------------------


def body_routes() -> list[tuple[str, str]]:
    from app import app

    return sorted(
        (path, method)
        for path, entries in app.routes.items()
        for method in entries
        if method in ("POST", "PATCH", "PUT") and path != "/leaks/github"
    )


@pytest.mark.parametrize("body", [NESTED, b'{"name": ' + NESTED + b"}", b'{"name": "' + b"x" * 70_000 + b'"}'])
def test_every_body_route_refuses_a_deep_or_huge_body_naming_body(client: Any, admin: Any, body: bytes) -> None:
    key_id, _ = make_key(name="target", roles=("ic_viewer",))
    role = {"name": "target_role", "permissions": ["intelligence:read"]}
    wiring.custom_roles().create(Caller.operator("demo"), "demo", role)
    routes = body_routes()
    assert len(routes) >= 6
    wrong = []
    for path, method in routes:
        url = path.replace("{community}", "demo").replace("{key_id}", key_id).replace("{name}", "target_role")
        answer = client.http.request(method, url, headers=bearer(admin[1]), body=body)
        if answer.status_code != 400 or not answer.json_body["Message"].startswith("body:"):
            wrong.append(f"{method} {path} -> {answer.status_code} {answer.body[:120]!r}")
    assert not wrong, "\n".join(wrong)
    assert wiring.store().get(key_id).version == 1, "nothing was written"


def test_a_signed_deep_leak_report_is_a_400_naming_body(github: Any, client: Any, admin: Any) -> None:  # noqa: F811
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.functional.test_leaks import KEY_IDENTIFIER

    signature = base64.b64encode(github.sign(NESTED, ec.ECDSA(hashes.SHA256()))).decode()
    headers = {
        "Content-Type": "application/json",
        "Github-Public-Key-Identifier": KEY_IDENTIFIER,
        "Github-Public-Key-Signature": signature,
    }
    answer = client.http.post("/leaks/github", headers=headers, body=NESTED)
    assert answer.status_code == 400 and answer.json_body["Message"].startswith("body:")


def test_a_body_within_the_bounds_still_works(client: Any, admin: Any) -> None:
    body = {"name": "ok", "description": "d" * 1000, "roles": ["ic_viewer"]}
    assert (
        client.http.post("/communities/demo/apikeys", headers=bearer(admin[1]), body=as_json(body)).status_code == 201
    )
