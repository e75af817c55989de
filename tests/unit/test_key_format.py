"""The documented key format, pinned on one example key: what scanners and clients rely on.

docs/keys.md: ``<prefix>_`` + 16 base62 characters of key id + 24 of secret + 6 of base62 CRC32 of the
body; scanners use ``\\b<prefix>_[0-9A-Za-z]{46}\\b``; the hint is the prefix and 6 characters.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from chalicelib.keys import format as key_format

KEY_ID = "0123456789ABCDEF"
SECRET_PART = "abcdefghijklmnopqrstuvwx"
# The CRC32 of KEY_ID + SECRET_PART is 3903134560, which is 4G99bE in base62 (most significant first).
EXAMPLE = f"apk_{KEY_ID}{SECRET_PART}4G99bE"


def test_the_example_key_parses_to_its_id():
    assert key_format.parse(EXAMPLE, "apk") == key_format.ParsedKey(key_id=KEY_ID, plaintext=EXAMPLE)


def test_the_checksum_is_the_base62_crc32_of_the_body_six_characters_wide():
    assert key_format.checksum(KEY_ID + SECRET_PART) == "4G99bE"
    # A small CRC keeps its six characters, zeros first: the width is part of the format.
    assert key_format.checksum("") == "000000"
    assert len(key_format.checksum("a")) == 6


def test_the_scanner_pattern_is_the_documented_one_and_finds_the_example_in_text():
    assert key_format.key_pattern("apk") == r"\bapk_[0-9A-Za-z]{46}\b"
    assert re.findall(key_format.key_pattern("apk"), f"token={EXAMPLE}; next") == [EXAMPLE]
    assert re.search(key_format.key_pattern("apk"), EXAMPLE[:-1]) is None
    assert re.search(key_format.key_pattern("apk"), EXAMPLE + "x") is None


def test_a_generated_key_has_the_example_shape():
    made = key_format.generate("apk")
    assert len(made.plaintext) == len(EXAMPLE) == 4 + 16 + 24 + 6
    assert made.plaintext[:4] == "apk_" and made.plaintext[4:20] == made.key_id
    assert set(made.plaintext[4:]) <= set(key_format.BASE62)
    assert key_format.checksum(made.plaintext[4:-6]) == made.plaintext[-6:]
    again = key_format.generate("apk", key_id=KEY_ID)
    assert again.key_id == KEY_ID and again.plaintext.startswith(f"apk_{KEY_ID}")
    assert key_format.parse(again.plaintext, "apk").key_id == KEY_ID


@pytest.mark.parametrize(
    "text",
    [
        EXAMPLE[:-1],  # one character short
        EXAMPLE + "0",  # one too many
        "apx" + EXAMPLE[3:],  # another prefix
        "apk-" + EXAMPLE[4:],  # the separator
        EXAMPLE[:-6] + "4G99bF",  # a wrong checksum
        EXAMPLE[:4] + "1" + EXAMPLE[5:],  # one changed body character
        "apk_0123456789ABCDE-" + SECRET_PART + key_format.checksum("0123456789ABCDE-" + SECRET_PART),  # not base62
        EXAMPLE[:10] + "é" + EXAMPLE[11:],  # not ASCII
        # A well-formed checksum does not make up for a body one character short or long.
        f"apk_{KEY_ID}{SECRET_PART[:-1]}{key_format.checksum(KEY_ID + SECRET_PART[:-1])}",
        f"apk_{KEY_ID}{SECRET_PART}0{key_format.checksum(KEY_ID + SECRET_PART + '0')}",
        "",
    ],
)
def test_anything_but_the_exact_shape_is_refused(text):
    with pytest.raises(key_format.InvalidKey):
        key_format.parse(text, "apk")


def test_a_non_string_token_is_refused():
    with pytest.raises(key_format.InvalidKey):
        key_format.parse(None, "apk")  # type: ignore[arg-type]


def test_a_key_of_another_prefix_is_refused_for_this_one_and_accepted_for_its_own():
    body = KEY_ID + SECRET_PART
    other = f"acme_{body}{key_format.checksum(body)}"
    assert key_format.parse(other, "acme").key_id == KEY_ID
    with pytest.raises(key_format.InvalidKey):
        key_format.parse(other, "apk")
    with pytest.raises(key_format.InvalidKey):
        key_format.parse(EXAMPLE, "acme")


@pytest.mark.parametrize(
    ("prefix", "valid"),
    [("ab", True), ("a1", True), ("abcdefghij", True), ("a", False), ("abcdefghijk", False),
     ("1ab", False), ("aB", False), ("a_b", False)],
)  # fmt: skip
def test_the_prefix_rule_is_two_to_ten_lowercase_characters_starting_with_a_letter(prefix, valid):
    assert bool(key_format.PREFIX_PATTERN.fullmatch(prefix)) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [(KEY_ID, True), (KEY_ID[:-1], False), (KEY_ID + "0", False), (KEY_ID[:-1] + "_", False), ("", False)],
)
def test_a_key_id_is_exactly_16_base62_characters(value, valid):
    assert key_format.is_key_id(value) is valid


def test_the_stored_hash_is_hmac_sha256_of_the_whole_key_under_the_pepper():
    pepper = key_format.Pepper("p1", b"k" * 32)
    expected = hmac.new(b"k" * 32, EXAMPLE.encode(), hashlib.sha256).hexdigest()
    assert key_format.hash_key(EXAMPLE, pepper) == expected
    assert key_format.verify(EXAMPLE, expected, "p1", (key_format.Pepper("p0", b"o" * 32), pepper))
    assert not key_format.verify(EXAMPLE, expected, "p0", (key_format.Pepper("p0", b"o" * 32), pepper))


def test_the_hint_is_the_prefix_and_the_first_six_characters():
    assert key_format.hint(EXAMPLE, "apk") == "apk_012345…"
    assert key_format.hint(f"acme_{KEY_ID}", "acme") == "acme_012345…"
