import re

import pytest

from chalicelib.keys import format as key_format

PEPPER = key_format.Pepper("p1", b"k" * 32)
OTHER = key_format.Pepper("p0", b"o" * 32)


def test_generated_key_has_the_documented_shape_and_parses_back():
    made = key_format.generate("apk")
    assert re.fullmatch(key_format.key_pattern("apk"), made.plaintext)
    assert key_format.parse(made.plaintext, "apk") == made
    assert made.plaintext.startswith(f"apk_{made.key_id}")


def test_keys_are_unique_and_carry_at_least_128_random_bits():
    made = {key_format.generate("apk").plaintext for _ in range(2000)}
    assert len(made) == 2000
    # 24 base62 characters of secret beyond the public id: log2(62**24) > 142
    assert key_format.SECRET_LENGTH * 5.95 > 128


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1],
        lambda k: k + "A",
        lambda k: k[:10] + ("A" if k[10] != "A" else "B") + k[11:],
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),
        lambda k: "xyz" + k[3:],
        lambda k: k.replace("_", "-", 1),
        lambda k: k[:20] + "!" + k[21:],
        lambda k: "",
    ],
)
def test_mangled_keys_fail_the_checksum_or_shape(mangle):
    plaintext = key_format.generate("apk").plaintext
    with pytest.raises(key_format.InvalidKey):
        key_format.parse(mangle(plaintext), "apk")


def test_hash_verifies_only_with_the_pepper_it_was_made_with():
    plaintext = key_format.generate("apk").plaintext
    digest = key_format.hash_key(plaintext, PEPPER)
    assert plaintext not in digest
    assert key_format.verify(plaintext, digest, "p1", (OTHER, PEPPER))
    assert not key_format.verify(plaintext, digest, "p0", (OTHER, PEPPER))
    assert not key_format.verify(plaintext, digest, "gone", (OTHER,))
    assert not key_format.verify(key_format.generate("apk").plaintext, digest, "p1", (PEPPER,))


def test_hint_shows_prefix_and_first_characters_only():
    plaintext = key_format.generate("apk").plaintext
    hint = key_format.hint(plaintext, "apk")
    assert hint == plaintext[:10] + "…"
    assert plaintext[20:] not in hint
