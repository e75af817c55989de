"""An answer about one field of the request carries it as data: ``Field`` beside ``Code`` and
``Message``, whether the field is in the body, the path, the query string or a header. The
message still starts with it, for clients that read only ``Message``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import as_json, bearer, make_key

KEYS = "/communities/demo/apikeys"
ROLES = "/communities/demo/roles"


def answer(client: Any, method: str, path: str, secret: str, body: Any = None, **headers: str) -> Any:
    raw = None if body is None else body if isinstance(body, str) else as_json(body)
    return client.http.request(method, path, headers={**bearer(secret), **headers}, body=raw)


def assert_names(response: Any, status: int, code: str, field: str) -> None:
    assert response.status_code == status, response.body
    body = response.json_body
    assert set(body) == {"Code", "Message", "Field"}, body
    assert body["Code"] == code and body["Field"] == field
    assert body["Message"].startswith(f"{field}: "), body


# (method, path, body, headers, field): every place a field can be, each answered 400.
BAD_REQUESTS = [
    ("POST", KEYS, {"name": "a", "roles": ["ghost"]}, {}, "roles"),
    ("POST", KEYS, {"name": "a", "roles": ["ic_viewer"], "vault": {"target": "nowhere"}}, {}, "vault.target"),
    ("POST", KEYS, {"name": "a", "roles": ["ic_viewer"], "colour": "red"}, {}, "colour"),
    ("POST", KEYS, "not json", {}, "body"),
    ("POST", KEYS, "", {}, "body"),
    ("POST", ROLES, {"name": "auditor", "permissions": ["nothing:at-all"]}, {}, "permissions"),
    ("GET", KEYS + "?limit=0", None, {}, "limit"),
    ("GET", KEYS + "?status=sleeping", None, {}, "status"),
    ("GET", KEYS + "?colour=red", None, {}, "colour"),
    ("GET", "/communities/demo/events?cursor=nonsense", None, {}, "cursor"),
    ("POST", KEYS, {"name": "a", "roles": ["ic_viewer"]}, {"Idempotency-Key": "k" * 256}, "Idempotency-Key"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "field"),
    BAD_REQUESTS,
    ids=[f"{i}-{request[-1]}" for i, request in enumerate(BAD_REQUESTS)],
)
def test_a_bad_field_is_answered_400_with_the_field_as_data(client, admin, method, path, body, headers, field):
    assert_names(answer(client, method, path, admin[1], body, **headers), 400, "BadRequestError", field)


def test_a_bad_query_parameter_of_a_key_route_is_named_too(client, admin):
    key_id = make_key(name="usage", roles=("ic_viewer",))[0]
    assert_names(answer(client, "GET", f"{KEYS}/{key_id}/usage?days=0", admin[1]), 400, "BadRequestError", "days")


def test_a_path_parameter_naming_a_builtin_role_is_answered_409_with_the_field(client, admin):
    for method, body in (("PATCH", {"description": "mine now"}), ("DELETE", None)):
        assert_names(answer(client, method, f"{ROLES}/ic_viewer", admin[1], body), 409, "ConflictError", "name")


def test_a_clashing_role_name_in_the_body_is_answered_409_with_the_field(client, admin):
    role = {"name": "auditor", "permissions": ["intelligence:read"]}
    assert answer(client, "POST", ROLES, admin[1], role).status_code == 201
    assert_names(answer(client, "POST", ROLES, admin[1], role), 409, "ConflictError", "name")
    builtin = {"name": "ic_viewer", "permissions": ["intelligence:read"]}
    assert_names(answer(client, "POST", ROLES, admin[1], builtin), 409, "ConflictError", "name")


def test_a_field_asking_for_what_the_key_may_not_grant_is_answered_403_with_the_field(client, moto_aws):
    _, manager = make_key(roles=("apikeys_admin",))  # manages keys, holds no other permission
    refusals = [
        (KEYS, {"name": "a", "roles": ["ic_viewer"]}, "roles"),
        (KEYS, {"name": "a", "roles": ["apikeys_admin"], "plan": None}, "plan"),
        (ROLES, {"name": "reader", "permissions": ["intelligence:read"]}, "permissions"),
    ]
    for path, body, field in refusals:
        assert_names(answer(client, "POST", path, manager, body), 403, "ForbiddenError", field)


def test_an_answer_about_no_field_has_no_field_member(client, admin):
    _, viewer = make_key(roles=("ic_viewer",))
    lacking = answer(client, "GET", KEYS, viewer)
    missing = answer(client, "GET", f"{KEYS}/AAAAAAAAAAAAAAAA", admin[1])
    for response, status in ((lacking, 403), (missing, 404)):
        assert response.status_code == status, response.body
        assert set(response.json_body) == {"Code", "Message"}, response.json_body
