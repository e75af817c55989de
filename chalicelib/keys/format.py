"""The key format and its crypto, in one file anyone can audit.

A key reads ``<prefix>_<key id><secret part><checksum>``:

* ``prefix``: a fixed, documented word (default ``apk``) that secret scanners match;
* ``key id``: 16 base62 characters, the key's public id and its table key, so the
  authorizer finds the item with one read by table key and never by the secret;
* ``secret part``: 24 base62 characters from ``secrets`` (~142 bits);
* ``checksum``: 6 base62 characters of the CRC32 of everything before it, as in
  GitHub's token format, so a mistyped or made-up key is refused with no database read.

Only an HMAC-SHA-256 of the whole key under a server-side pepper is stored. Peppers
are a list, newest first: new keys use the first, and each stored hash names the
pepper it was made with, so adding a pepper never invalidates existing keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 16
SECRET_LENGTH = 24
CHECKSUM_LENGTH = 6
BODY_LENGTH = ID_LENGTH + SECRET_LENGTH
HINT_LENGTH = 6
PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9]{1,9}")
_BASE62_SET = frozenset(BASE62)
_KEY_ID_PATTERN = re.compile(rf"[0-9A-Za-z]{{{ID_LENGTH}}}")


class InvalidKey(Exception):
    """Raised for every kind of malformed key, with no detail on purpose."""


@dataclass(frozen=True)
class Pepper:
    id: str
    value: bytes


@dataclass(frozen=True)
class ParsedKey:
    key_id: str
    plaintext: str


def key_pattern(prefix: str) -> str:
    """The regular expression secret scanners should use for keys of ``prefix``."""
    return rf"\b{re.escape(prefix)}_[0-9A-Za-z]{{{BODY_LENGTH + CHECKSUM_LENGTH}}}\b"


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode("ascii")), CHECKSUM_LENGTH)


def new_key_id() -> str:
    return _random_base62(ID_LENGTH)


def is_key_id(value: str) -> bool:
    return bool(_KEY_ID_PATTERN.fullmatch(value))


def generate(prefix: str, key_id: str | None = None) -> ParsedKey:
    """A new key; ``key_id`` is given when a pending key gets a fresh secret."""
    key_id = key_id or new_key_id()
    body = key_id + _random_base62(SECRET_LENGTH)
    plaintext = f"{prefix}_{body}{checksum(body)}"
    return ParsedKey(key_id=key_id, plaintext=plaintext)


def parse(plaintext: str, prefix: str) -> ParsedKey:
    """Check the shape and the checksum; never touches storage."""
    expected_length = len(prefix) + 1 + BODY_LENGTH + CHECKSUM_LENGTH
    if (
        not isinstance(plaintext, str)
        or not plaintext.isascii()  # compare_digest refuses non-ASCII text with a TypeError
        or len(plaintext) != expected_length
        or not plaintext.startswith(prefix)
        or plaintext[len(prefix)] != "_"
    ):
        raise InvalidKey()
    body = plaintext[len(prefix) + 1 : -CHECKSUM_LENGTH]
    if not _BASE62_SET.issuperset(body):
        raise InvalidKey()
    if not hmac.compare_digest(checksum(body), plaintext[-CHECKSUM_LENGTH:]):
        raise InvalidKey()
    return ParsedKey(key_id=body[:ID_LENGTH], plaintext=plaintext)


def hash_key(plaintext: str, pepper: Pepper) -> str:
    return hmac.new(pepper.value, plaintext.encode("ascii"), hashlib.sha256).hexdigest()


def verify(plaintext: str, key_hash: str, pepper_id: str, peppers: tuple[Pepper, ...]) -> bool:
    """True when ``plaintext`` hashes to ``key_hash`` under the pepper it was stored with."""
    for pepper in peppers:
        if pepper.id == pepper_id:
            return hmac.compare_digest(hash_key(plaintext, pepper), key_hash)
    return False


def hint(plaintext: str, prefix: str) -> str:
    """What the UI shows to recognise a key: the prefix and the first characters."""
    return plaintext[: len(prefix) + 1 + HINT_LENGTH] + "…"
