"""Pure bounds: JSON depth and size, the key limit setting, and the work an unknown key id costs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.api import schemas
from chalicelib.authorizer.verifier import Unauthorized
from chalicelib.errors import ValidationError
from chalicelib.keys import format as key_format
from chalicelib.settings import SettingsError, from_environ
from tests.conftest import PEPPER
from tests.unit.test_authorizer import Clock, Table, verifier

# -- an unknown id does the work of a known one ---------------------------------------------------


def hmacs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []
    real = key_format.hash_key

    def counting(plaintext: str, pepper: key_format.Pepper) -> str:
        made.append(plaintext)
        return real(plaintext, pepper)

    monkeypatch.setattr(key_format, "hash_key", counting)
    return made


def test_an_unknown_id_costs_the_same_hmac_as_a_wrong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    table, clock = Table(), Clock()
    known = key_format.parse(table.add(), "apk")
    wrong_secret = key_format.generate("apk", key_id=known.key_id).plaintext
    unknown = key_format.generate("apk").plaintext
    made = hmacs(monkeypatch)
    check = verifier(table, clock)

    for token in (wrong_secret, unknown):
        with pytest.raises(Unauthorized):
            check.verify(token)
    assert made == [wrong_secret, unknown], "each refusal computes one HMAC of the presented key"
    assert table.lookups == 2


# -- JSON bodies ---------------------------------------------------------------------------------


def nested(depth: int, opening: str) -> str:
    closing = {"[": "]", '{"a":': "}"}[opening]
    return opening * depth + "1" + closing * depth


@given(
    depth=st.integers(min_value=schemas.BODY_MAX_DEPTH + 1, max_value=20_000),
    opening=st.sampled_from(["[", '{"a":']),
)
def test_any_nesting_past_the_bound_is_a_400_naming_body(depth: int, opening: str) -> None:
    with pytest.raises(ValidationError) as refused:
        schemas.parse_json(nested(depth, opening))
    assert refused.value.field == "body"


@given(value=st.recursive(st.integers() | st.text(max_size=5), lambda c: st.lists(c, max_size=3), max_leaves=20))
def test_json_within_the_bounds_parses_as_json_does(value: Any) -> None:
    text = json.dumps({"v": value})
    assert schemas.parse_json(text) == json.loads(text)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"name": "[" * 5000, "description": '\\"{' * 100})
    assert schemas.parse_json(text)["name"] == "[" * 5000


def test_a_body_over_the_byte_bound_is_refused() -> None:
    with pytest.raises(ValidationError, match="^body: must be at most"):
        schemas.parse_json(b" " * (schemas.BODY_MAX_BYTES + 1))


# -- the key limit setting -----------------------------------------------------------------------


def env(**extra: str) -> dict[str, str]:
    return {"APIKEYS_PEPPERS": f"p:{PEPPER}", **extra}


def test_the_key_limit_defaults_to_1000_and_can_be_set() -> None:
    assert from_environ(env()).max_keys_per_community == 1000
    assert from_environ(env(APIKEYS_MAX_KEYS_PER_COMMUNITY="25")).max_keys_per_community == 25


@pytest.mark.parametrize("value", ["0", "-3", "2.5", "many"])
def test_a_bad_key_limit_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="APIKEYS_MAX_KEYS_PER_COMMUNITY"):
        from_environ(env(APIKEYS_MAX_KEYS_PER_COMMUNITY=value))
