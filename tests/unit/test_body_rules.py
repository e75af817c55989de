"""The rules of the bodies no unit test reads elsewhere: a leak report, a rotation, a custom role.
Each refusal names its field and says what is wrong in the words the API documents."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.api import schemas
from chalicelib.errors import ValidationError
from chalicelib.keys import leaks, rotation
from chalicelib.roles.catalog import PERMISSIONS


def refusal(shape: Any, body: Any) -> tuple[str, str]:
    with pytest.raises(ValidationError) as refused:
        schemas.parse(shape, body)
    error = refused.value
    return error.field, str(error).removeprefix(f"{error.field}: ")


# -- leak report --------------------------------------------------------------------------------


def test_a_leak_report_keeps_its_tokens_and_ignores_fields_github_may_add():
    report = schemas.parse(
        schemas.LeakReport,
        [{"token": "apk_x", "type": "t", "url": "https://github.com/a", "source": "commit", "new": 1}, {"token": "y"}],
    )
    assert [(t.token, t.type, t.url, t.source) for t in report] == [
        ("apk_x", "t", "https://github.com/a", "commit"), ("y", "", "", ""),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"token": "x"}, "body", "must be a JSON list of reported tokens"),
        ("x", "body", "must be a JSON list of reported tokens"),
        (["x"], "[0].token", "must be a string"),
        ([{"token": "x"}, {"type": "t"}], "[1].token", "must be a string"),
        ([{"token": 5}], "[0].token", "must be a string"),
        ([{"token": "x", "url": 5}], "[0].url", "must be a string"),
    ],
)
def test_a_malformed_leak_report_names_the_token_at_fault(body, field, message):
    assert refusal(schemas.LeakReport, body) == (field, message)


def test_a_report_of_1000_tokens_is_read_and_1001_refused():
    assert len(schemas.parse(schemas.LeakReport, [{"token": "t"}] * leaks.MAX_TOKENS)) == leaks.MAX_TOKENS
    assert refusal(schemas.LeakReport, [{"token": "t"}] * (leaks.MAX_TOKENS + 1)) == (
        "body", f"at most {leaks.MAX_TOKENS} tokens per report",
    )  # fmt: skip


def test_a_report_as_github_posts_it_is_read_to_its_tokens_four_fields():
    raw = b'[{"token": "apk_x", "type": "t", "url": "https://github.com/a", "source": "commit", "new": 1}]'
    assert schemas.leak_report(raw) == [
        {"token": "apk_x", "type": "t", "url": "https://github.com/a", "source": "commit"}
    ]


def test_a_report_is_read_up_to_its_own_size_limit_not_a_bodys():
    opening = b'[{"token": "t"}'
    at_limit = opening + b" " * (leaks.REPORT_MAX_BYTES - len(opening) - 1) + b"]"
    assert len(at_limit) == leaks.REPORT_MAX_BYTES > schemas.BODY_MAX_BYTES
    assert schemas.leak_report(at_limit) == [{"token": "t", "type": "", "url": "", "source": ""}]
    with pytest.raises(ValidationError) as refused:
        schemas.leak_report(at_limit + b" ")
    assert str(refused.value) == f"body: must be at most {leaks.REPORT_MAX_BYTES} bytes"


def test_a_report_nested_deeper_than_a_list_of_objects_is_refused_before_parsing():
    with pytest.raises(ValidationError) as refused:
        schemas.leak_report(b'[[{"token": "t"}]]')
    assert str(refused.value) == "body: must not nest arrays and objects more than 2 levels deep"


# -- rotation -----------------------------------------------------------------------------------


def test_a_rotation_takes_a_grace_period_by_name_and_reveals_by_default():
    for grace in rotation.GRACE_PERIODS:
        rotate = schemas.parse(schemas.RotateKey, {"grace": grace})
        assert (rotate.grace, rotate.reveal) == (grace, True)
    first = next(iter(rotation.GRACE_PERIODS))
    assert schemas.parse(schemas.RotateKey, {"grace": first, "reveal": False}).reveal is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "grace"),
        ({"grace": "forever"}, "grace"),
        ({"grace": 1}, "grace"),
        ([], "body"),
        ({"grace": "1h", "x": 1}, "x"),
    ],  # fmt: skip
)
def test_a_rotation_without_a_known_grace_period_is_refused(body, field):
    got, message = refusal(schemas.RotateKey, body)
    assert got == field
    if field == "grace":
        assert message == f"must be one of {', '.join(rotation.GRACE_PERIODS)}"


def test_reveal_is_a_boolean_not_a_string():
    assert refusal(schemas.RotateKey, {"grace": next(iter(rotation.GRACE_PERIODS)), "reveal": "false"}) == (
        "reveal", "must be true or false",
    )  # fmt: skip


# -- custom roles -------------------------------------------------------------------------------


def test_a_role_is_created_with_its_name_description_and_permissions():
    role = schemas.parse(schemas.CreateRole, {"name": "feed_reader", "permissions": ["intelligence:read"]})
    assert (role.name, role.description, role.permissions) == ("feed_reader", "", ["intelligence:read"])


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "Feed", "permissions": ["intelligence:read"]}, "name", schemas._ROLE_NAME_RULE),
        ({"name": "f" * 49, "permissions": ["intelligence:read"]}, "name", schemas._ROLE_NAME_RULE),
        ({"name": 7, "permissions": ["intelligence:read"]}, "name", schemas._ROLE_NAME_RULE),
        ({"name": "feeds"}, "permissions", "must be a list of permission names"),
        ({"name": "feeds", "permissions": []}, "permissions", "must name at least one permission"),
        ({"name": "feeds", "permissions": "intelligence:read"}, "permissions", "must be a list of permission names"),
        (
            {"name": "feeds", "permissions": ["intelligence:read", "intelligence:read"]},
            "permissions", "must not repeat a permission",
        ),
    ],
)  # fmt: skip
def test_a_bad_role_body_names_its_field(body, field, message):
    assert refusal(schemas.CreateRole, body) == (field, message)


def test_an_unknown_permission_is_named_and_the_known_ones_listed():
    field, message = refusal(schemas.CreateRole, {"name": "feeds", "permissions": ["intelligence:read", "root"]})
    assert field == "permissions"
    assert message == f"unknown permission 'root'; known: {', '.join(PERMISSIONS)}"


def test_a_role_name_of_48_characters_is_accepted():
    assert schemas.parse(schemas.CreateRole, {"name": "f" * 48, "permissions": ["intelligence:read"]}).name == "f" * 48


def test_a_role_edit_names_what_it_may_change_when_it_changes_nothing():
    assert refusal(schemas.EditRole, {}) == ("body", "description or permissions must be given")
    edit = schemas.parse(schemas.EditRole, {"permissions": ["playbooks:read"]})
    assert edit.permissions == ["playbooks:read"] and edit.model_fields_set == {"permissions"}
