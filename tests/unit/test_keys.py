import re

import pytest

from chalicelib import keys

PEPPER = keys.Pepper("p1", b"k" * 32)
OTHER = keys.Pepper("p0", b"o" * 32)


def test_generated_key_has_the_documented_shape_and_parses_back():
    made = keys.generate("apk")
    assert re.fullmatch(keys.key_pattern("apk"), made.plaintext)
    assert keys.parse(made.plaintext, "apk") == made
    assert made.plaintext.startswith(f"apk_{made.key_id}")


def test_keys_are_unique_and_carry_at_least_128_random_bits():
    made = {keys.generate("apk").plaintext for _ in range(2000)}
    assert len(made) == 2000
    # 24 base62 characters of secret beyond the public id: log2(62**24) > 142
    assert keys.SECRET_LENGTH * 5.95 > 128


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
    plaintext = keys.generate("apk").plaintext
    with pytest.raises(keys.InvalidKey):
        keys.parse(mangle(plaintext), "apk")


def test_hash_verifies_only_with_the_pepper_it_was_made_with():
    plaintext = keys.generate("apk").plaintext
    digest = keys.hash_key(plaintext, PEPPER)
    assert plaintext not in digest
    assert keys.verify(plaintext, digest, "p1", (OTHER, PEPPER))
    assert not keys.verify(plaintext, digest, "p0", (OTHER, PEPPER))
    assert not keys.verify(plaintext, digest, "gone", (OTHER,))
    assert not keys.verify(keys.generate("apk").plaintext, digest, "p1", (PEPPER,))


def test_hint_shows_prefix_and_first_characters_only():
    plaintext = keys.generate("apk").plaintext
    hint = keys.hint(plaintext, "apk")
    assert hint == plaintext[:10] + "…"
    assert plaintext[20:] not in hint
