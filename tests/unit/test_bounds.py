"""Pure bounds: JSON depth and size, the key limit setting, and the work an unknown key id costs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.api import schemas
from chalicelib.authorizer.verifier import Unauthorized
from chalicelib.errors import SettingsError, ValidationError
from chalicelib.keys import format as key_format
from chalicelib.settings import from_environ
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


def depth_of(value: Any) -> int:
    if isinstance(value, dict | list):
        inner = value.values() if isinstance(value, dict) else value
        return 1 + max((depth_of(item) for item in inner), default=0)
    return 0


BRACKETY = st.text(alphabet='[]{}"\\ab', max_size=6)
VALUES = st.recursive(
    st.integers() | BRACKETY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(BRACKETY, inner, max_size=3),
    max_leaves=30,
)


@given(value=VALUES)
def test_the_depth_bound_is_exact_whatever_the_siblings_and_strings(value: Any) -> None:
    text, depth = json.dumps(value), depth_of(value)
    assert schemas.parse_json(text, max_depth=depth) == value
    if depth:
        with pytest.raises(ValidationError, match=f"^body: must not nest arrays and objects more than {depth - 1} "):
            schemas.parse_json(text, max_depth=depth - 1)


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_a_body_nested_exactly_to_the_bound_is_read(opening: str) -> None:
    assert schemas.parse_json(nested(schemas.BODY_MAX_DEPTH, opening)) is not None


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"name": "[" * 5000, "description": '\\"{' * 100})
    assert schemas.parse_json(text)["name"] == "[" * 5000


def test_a_body_over_the_byte_bound_is_refused() -> None:
    with pytest.raises(ValidationError, match="^body: must be at most"):
        schemas.parse_json(b" " * (schemas.BODY_MAX_BYTES + 1))


def test_the_byte_bound_counts_the_bytes_sent_and_a_body_at_it_is_read() -> None:
    assert schemas.parse_json(b"{}" + b" " * (schemas.BODY_MAX_BYTES - 2)) == {}
    at_bound = '"' + "\u00e9" * ((schemas.BODY_MAX_BYTES - 2) // 2) + '"'  # 2 bytes each in UTF-8
    assert len(at_bound.encode()) == schemas.BODY_MAX_BYTES
    assert schemas.parse_json(at_bound) == at_bound[1:-1]
    with pytest.raises(ValidationError, match=f"^body: must be at most {schemas.BODY_MAX_BYTES} bytes$"):
        schemas.parse_json(at_bound + " ")


@pytest.mark.parametrize("raw", [b"", b"{", b'{"a": 1,}', b"\xff\xfe", b"NaN?", "{'a': 1}", b'{"a": "\\x"}'])
def test_text_that_is_not_json_is_a_400_naming_body(raw: bytes | str) -> None:
    with pytest.raises(ValidationError) as refused:
        schemas.parse_json(raw)
    assert (refused.value.field, str(refused.value)) == ("body", "body: not valid JSON")


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
