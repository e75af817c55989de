"""People's tokens: an OIDC issuer's ID tokens and Cognito access tokens, verified.

PyJWT parses the token and checks its signature with a key of the issuer's JWKS; the rules a
signature does not cover are here, each one a refusal with its own reason (for the decision
log only: every refusal is the same 401):

- a token longer than ``MAX_TOKEN_CHARS`` is refused before it is parsed;
- the algorithm is the one the issuer's key is for, and only RS256 or ES256: never what the
  token's header says alone (``none``, or HS256 keyed with the public key, never verify);
- the ``kid`` must name a key of the issuer's JWKS; ``jku``, ``x5u`` and any other header that
  points at keys elsewhere are never read;
- ``iss`` is exactly the issuer; ``token_use``, when present, is ``id`` or ``access``; an ID
  token's ``aud`` (every entry of it) and a Cognito access token's ``client_id`` are among the
  configured client ids;
- ``exp`` and ``iat`` are required, ``nbf`` optional, each with ``LEEWAY_SECONDS`` of leeway,
  against a clock passed in.

The JWKS is cached per container: a ``kid`` it lacks refetches it at most once per
``REFETCH_AFTER_SECONDS``, and it is read again after ``KEYS_MAX_AGE_SECONDS``. A fetch that
fails refuses the token (each request waits ``FETCH_TIMEOUT_SECONDS`` at most per request
made) and leaves the next request free to try again. Nothing here logs; no token, nor any part
of one, is put in an error.

Imported only when a bearer value that is not an API key reaches the app's authorizer.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from chalicelib.authorizer.verifier import Unauthorized
from chalicelib.params import COMMUNITY_PATTERN

MAX_TOKEN_CHARS = 8192
LEEWAY_SECONDS = 60
REFETCH_AFTER_SECONDS = 60.0
KEYS_MAX_AGE_SECONDS = 3600.0
FETCH_TIMEOUT_SECONDS = 3.0
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_GROUPS = 100
MAX_NAME_CHARS = 128
# The algorithm each kind of key is verified with; no other is accepted.
RS256 = "RS256"
ES256 = "ES256"
ALGORITHMS = (RS256, ES256)
TOKEN_USES = ("id", "access")
# The claims a display name is read from, first present wins (Cognito ID, Cognito access, OIDC).
NAME_CLAIMS = ("cognito:username", "username", "preferred_username", "email")
# PyJWT checks the signature and the header; the claims are checked below, against our clock.
_DECODE_OPTIONS: Any = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
    "require": [],
}


class InvalidToken(Unauthorized):
    """A token refused: the reason is for the decision log, the answer is the same 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"token:{reason}")


class KeysUnavailable(InvalidToken):
    def __init__(self) -> None:
        super().__init__("keys unavailable")


@dataclass(frozen=True)
class Person:
    """Who a verified token names: the issuer's subject, a name to show, the groups it lists."""

    sub: str
    name: str
    groups: tuple[str, ...]

    def grants(self) -> dict[str, tuple[str, ...]]:
        """Community → role names, from groups named ``<community>:<role>``; other groups are not grants."""
        found: dict[str, list[str]] = {}
        for group in self.groups:
            community, sep, role = group.partition(":")
            if not sep or not role or not COMMUNITY_PATTERN.fullmatch(community):
                continue
            roles = found.setdefault(community, [])
            if role not in roles:
                roles.append(role)
        return {community: tuple(roles) for community, roles in found.items()}


def fetch_json(url: str, timeout: float = FETCH_TIMEOUT_SECONDS) -> Any:
    """A JSON document over HTTP(S), bounded in time and size; ``KeysUnavailable`` for any failure."""
    if not url.startswith(("https://", "http://")):
        raise KeysUnavailable
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
            body = response.read(MAX_DOCUMENT_BYTES + 1)
        if len(body) > MAX_DOCUMENT_BYTES:
            raise KeysUnavailable
        return json.loads(body)
    except (OSError, ValueError):
        raise KeysUnavailable from None


class IssuerKeys:
    """The issuer's signing keys by ``kid``, fetched from its JWKS (found by discovery when no
    URL is given) and cached."""

    def __init__(
        self,
        issuer: str,
        jwks_url: str | None = None,
        *,
        fetch: Callable[[str], Any] = fetch_json,
        monotonic: Callable[[], float] = time.monotonic,
        refetch_after: float = REFETCH_AFTER_SECONDS,
        max_age: float = KEYS_MAX_AGE_SECONDS,
    ) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.fetch = fetch
        self.monotonic = monotonic
        self.refetch_after = refetch_after
        self.max_age = max_age
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            moment = self.monotonic()
            age = None if self._fetched_at is None else moment - self._fetched_at
            if age is not None and age < self.max_age:
                if kid in self._keys:
                    return self._keys[kid]
                if age < self.refetch_after:
                    raise InvalidToken("unknown kid")
            self._keys = self._load()
            self._fetched_at = moment
            if kid in self._keys:
                return self._keys[kid]
            raise InvalidToken("unknown kid")

    def _load(self) -> dict[str, jwt.PyJWK]:
        url = self.jwks_url or self._discover()
        document = self.fetch(url)
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise KeysUnavailable
        keys: dict[str, jwt.PyJWK] = {}
        for entry in entries:
            kid = entry.get("kid") if isinstance(entry, dict) else None
            if not isinstance(kid, str):
                continue
            algorithm = _algorithm_for(entry)
            if algorithm is None:
                continue
            try:
                keys[kid] = jwt.PyJWK(entry, algorithm)
            except jwt.PyJWTError:
                continue  # a key PyJWT cannot use is a key nothing verifies with
        return keys

    def _discover(self) -> str:
        document = self.fetch(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        if not isinstance(document, dict) or document.get("issuer") != self.issuer:
            raise KeysUnavailable
        url = document.get("jwks_uri")
        if not isinstance(url, str):
            raise KeysUnavailable
        self.jwks_url = url
        return url


def _algorithm_for(jwk: Mapping[str, Any]) -> str | None:
    """The one algorithm a JWK verifies with here: RS256 for RSA, ES256 for P-256; none else."""
    if jwk.get("use", "sig") != "sig":
        return None
    if jwk.get("kty") == "RSA":
        algorithm = RS256
    elif jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        algorithm = ES256
    else:
        return None
    return algorithm if jwk.get("alg", algorithm) == algorithm else None


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audiences: Sequence[str],
        keys: IssuerKeys,
        groups_claim: str = "cognito:groups",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.audiences = frozenset(audiences)
        self.keys = keys
        self.groups_claim = groups_claim
        self.clock = clock

    def verify(self, token: str) -> Person:
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("oversized")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed") from None
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken("algorithm")  # refused before any key is fetched for it
        kid = header.get("kid")  # PyJWT has checked it is a string when present
        if not kid:
            raise InvalidToken("unknown kid")
        key = self.keys.key(kid)
        try:
            claims = jwt.decode(token, key.key, algorithms=[key.algorithm_name], options=_DECODE_OPTIONS)
        except jwt.InvalidAlgorithmError:
            raise InvalidToken("algorithm") from None
        except jwt.PyJWTError:
            raise InvalidToken("signature") from None
        self.check_claims(claims, self.clock())
        return person_of(claims, self.groups_claim)

    def check_claims(self, claims: Mapping[str, Any], now: float) -> None:
        if claims.get("iss") != self.issuer:
            raise InvalidToken("issuer")
        token_use = claims.get("token_use", "id")
        if token_use not in TOKEN_USES:
            raise InvalidToken("token_use")
        if token_use == "access":  # noqa: S105 - a claim's value, not a password
            if claims.get("client_id") not in self.audiences:
                raise InvalidToken("audience")
        else:
            audience = claims.get("aud")
            listed = [audience] if isinstance(audience, str) else audience
            if not isinstance(listed, list) or not listed or not all(a in self.audiences for a in listed):
                raise InvalidToken("audience")
        expires, issued, not_before = _time(claims, "exp"), _time(claims, "iat"), claims.get("nbf")
        if expires is None or issued is None:
            raise InvalidToken("claims")
        if now - LEEWAY_SECONDS >= expires:
            raise InvalidToken("expired")
        if issued > now + LEEWAY_SECONDS:
            raise InvalidToken("issued in the future")
        if not_before is not None:
            starts = _time(claims, "nbf")
            if starts is None:
                raise InvalidToken("claims")
            if starts > now + LEEWAY_SECONDS:
                raise InvalidToken("not yet valid")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("claims")


def _time(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def person_of(claims: Mapping[str, Any], groups_claim: str) -> Person:
    subject = str(claims["sub"])
    names = (_printable(claims[c]) for c in NAME_CLAIMS if isinstance(claims.get(c), str))
    name = next((n for n in names if n), "")
    groups = claims.get(groups_claim)
    if not isinstance(groups, list):
        groups = []
    return Person(
        sub=subject,
        name=name[:MAX_NAME_CHARS] or subject,
        groups=tuple(g for g in groups[:MAX_GROUPS] if isinstance(g, str)),
    )


def _printable(text: str) -> str:
    """A name to show and to record: control characters dropped, spaces trimmed (may be empty)."""
    return "".join(c for c in text if c.isprintable()).strip()
