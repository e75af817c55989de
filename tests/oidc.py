"""An OIDC issuer the tests control: its signing keys, its JWKS, tokens it signs, tokens it
never signed (forged), a loopback HTTP server that serves its discovery document and JWKS, and
one that is also a minimal authorization server a browser signs in through
(``authorization_server.py``)."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

CLIENT_ID = "console-client"
OTHER_CLIENT_ID = "another-app"


@functools.cache
def _rsa_key(owner: str, kid: str) -> rsa.RSAPrivateKey:
    """One key per owner and kid for the whole session: making an RSA key costs a good part of a second."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _ec_key(owner: str, kid: str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer:
    """Signing keys (RSA ``rsa-1``, EC P-256 ``ec-1``) and what an issuer publishes of them."""

    def __init__(self, url: str = "https://issuer.test/pool", *, owner: str = "issuer") -> None:
        """``owner``: whose keys these are; an attacker's are never the issuer's."""
        self.url = url
        self.owner = owner
        self.private: dict[str, Any] = {"rsa-1": _rsa_key(owner, "rsa-1"), "ec-1": _ec_key(owner, "ec-1")}
        self.published = ["rsa-1", "ec-1"]

    def jwk(self, kid: str) -> dict[str, Any]:
        key = self.private[kid]
        if isinstance(key, rsa.RSAPrivateKey):
            data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            return {**data, "kid": kid, "alg": "RS256", "use": "sig"}
        data = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        return {**data, "kid": kid, "alg": "ES256", "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk(kid) for kid in self.published]}

    def add_key(self, kid: str) -> None:
        """A new signing key, not yet published (``publish`` it to rotate it in)."""
        self.private[kid] = _rsa_key(self.owner, kid)

    def claims(self, **changes: Any) -> dict[str, Any]:
        """An ID token's claims for a person in ``demo:community_admin``; ``changes`` set or, as None, drop."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": "5f1c0a5e-0000-4000-8000-00000000a11c",
            "aud": CLIENT_ID,
            "token_use": "id",
            "iat": now,
            "exp": now + 3600,
            "cognito:username": "alice",
            "email": "alice@example.com",
            "cognito:groups": ["demo:community_admin"],
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(self, claims: dict[str, Any] | None = None, *, kid: str = "rsa-1", **header: Any) -> str:
        algorithm = "RS256" if isinstance(self.private[kid], rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(
            self.claims() if claims is None else claims,
            self.private[kid],
            algorithm=algorithm,
            headers={"kid": kid, **header},
        )

    def public_pem(self, kid: str = "rsa-1") -> bytes:
        return (
            self.private[kid]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )


def forge(header: dict[str, Any], claims: dict[str, Any], *, hmac_key: bytes | None = None) -> str:
    """A token nobody trusted signed: HMAC-SHA-256 with ``hmac_key``, or no signature at all."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = b"" if hmac_key is None else hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def with_claims(token: str, **changes: Any) -> str:
    """The token with its claims changed after signing, its signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


class _Handler(BaseHTTPRequestHandler):
    server: IssuerServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.requests.append(self.path)
        if self.server.stalled:
            self.server.released.wait(30)  # until the test ends at the latest
        if self.server.failing:
            self.send_error(503)
            return
        issuer = self.server.issuer
        if self.path == "/pool/.well-known/openid-configuration":
            body = {"issuer": issuer.url, "jwks_uri": f"{self.server.base}/pool/jwks.json"}
        elif self.path == "/pool/jwks.json":
            body = issuer.jwks()
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode() if self.server.body is None else self.server.body
        if self.server.endless:
            self._send_without_end(data)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_without_end(self, data: bytes) -> None:
        """The body, then nothing and no end (no length, the connection held open) until the test
        releases the server or ten seconds pass."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        self.server.gave_up = not self.server.released.wait(10)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        pass


class IssuerServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler: none outlives the test
    handler: type[BaseHTTPRequestHandler] = _Handler

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), self.handler)
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.issuer = Issuer(f"{self.base}/pool")
        self.requests: list[str] = []
        self.failing = False
        self.body: bytes | None = None  # served instead of the documents
        self.stalled = False  # requests wait until released (or the test ends)
        self.released = threading.Event()
        self.endless = False  # the body is sent with no length and no end
        self.gave_up = False  # an endless answer's reader was still reading when the server stopped waiting

    @property
    def jwks_url(self) -> str:
        return f"{self.base}/pool/jwks.json"

    def fetches(self) -> int:
        return sum(path.endswith("jwks.json") for path in self.requests)


Served = TypeVar("Served", bound=IssuerServer)


def serving_issuer() -> contextlib.AbstractContextManager[IssuerServer]:
    """An issuer on a loopback port for the test's length; stopped and closed after it."""
    return serving(IssuerServer())


@contextmanager
def serving(server: Served) -> Iterator[Served]:
    """``server`` (an issuer, or a server built on one) answering on its own thread for the
    block's length; released, stopped and closed after it, its handlers joined."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
