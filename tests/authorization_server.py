"""A minimal OIDC authorization server on loopback, for the console's redirect sign-in: the
issuer of ``tests/oidc.py`` (its keys sign the ID tokens) with the endpoints a browser-based app
uses, as real issuers serve them to a single-page app:

- discovery (``/pool/.well-known/openid-configuration``) naming the endpoints, with CORS headers;
- ``/pool/authorize``: the client and its exact redirect URI are checked first (an unknown one is
  an error page, never a redirect); PKCE's S256 challenge is required; the configured person is
  approved at once (or, with ``deny`` set, the answer is ``error=access_denied``); the answer
  carries ``code``, ``state`` and ``iss`` (RFC 9207);
- ``/pool/token`` (CORS): ``authorization_code`` checks the verifier against the challenge, the
  client and the redirect URI, and uses each code once (a second use is refused and revokes the
  tokens the code gave); ``refresh_token`` gives new tokens and a new refresh token (the old one
  is used up: rotation, as the browser-based apps BCP asks); every answer ``Cache-Control: no-store``;
- ``/pool/logout`` (the ``end_session_endpoint``): checks ``id_token_hint``, ends the person's
  refresh tokens, and sends the browser to a registered ``post_logout_redirect_uri``.

What the browser asked is recorded (``authorizations``, ``token_requests``, ``logouts``) for tests
to judge; nothing here is a stub of the console's side.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt

from tests.oidc import CLIENT_ID, IssuerServer, _b64, _Handler, serving

PERSON: dict[str, Any] = {
    "sub": "00u1carol0000000000",
    "preferred_username": "carol@example.org",
    "name": "Carol Example",
    "email": "carol@example.org",
    "groups": ["demo:community_admin", "Everyone"],
}


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    person: dict[str, Any]
    used: bool = False
    refresh_tokens: list[str] = field(default_factory=list)


class _AuthorizationHandler(_Handler):
    server: AuthorizationServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path, _, query = self.path.partition("?")
        params = dict(parse_qsl(query))
        if path == "/pool/.well-known/openid-configuration":
            self.server.requests.append(self.path)
            if self.server.failing:
                self.send_error(503)
                return
            self._json(200, self.server.discovery())
        elif path == "/pool/authorize":
            self._authorize(params)
        elif path == "/pool/logout":
            self._logout(params)
        else:
            super().do_GET()

    def do_OPTIONS(self) -> None:  # noqa: N802 - a CORS preflight
        self.send_response(204)
        self._cors()
        self.send_header("Access-Control-Allow-Methods", "POST, GET")
        self.send_header("Access-Control-Allow-Headers", "content-type, accept")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        if self.path != "/pool/token":
            self._json(404, {"error": "not_found"})
            return
        if not (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            self._json(400, {"error": "invalid_request", "error_description": "a form body is expected"})
            return
        form = dict(parse_qsl(body))
        self.server.token_requests.append(form)
        status, answer = self.server.token(form)
        self._json(status, answer)

    # -- the endpoints -------------------------------------------------------------------------

    def _authorize(self, params: dict[str, str]) -> None:
        server = self.server
        server.authorizations.append(params)
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != server.client_id or redirect_uri not in server.redirect_uris:
            self._page(400, "Unknown client or redirect URI: the browser is not sent back.")
            return
        back = {"state": params["state"]} if "state" in params else {}
        if params.get("response_type") != "code":
            error = {"error": "unsupported_response_type"}
        elif params.get("code_challenge_method") != "S256" or len(params.get("code_challenge", "")) != 43:
            error = {"error": "invalid_request", "error_description": "PKCE with S256 is required"}
        elif "openid" not in params.get("scope", "").split():
            error = {"error": "invalid_scope", "error_description": "openid is required"}
        elif server.deny:
            error = {"error": "access_denied", "error_description": server.deny}
        else:
            code = secrets.token_urlsafe(24)
            nonce = server.nonce_instead if server.nonce_instead is not None else params.get("nonce")
            issued = _Code(server.client_id, redirect_uri, params["code_challenge"], nonce, server.person)
            with server.lock:
                server.codes[code] = issued
            self._redirect(redirect_uri, {"code": code, **back, "iss": server.issuer.url})
            return
        self._redirect(redirect_uri, {**error, **back, "iss": server.issuer.url})

    def _logout(self, params: dict[str, str]) -> None:
        server = self.server
        server.logouts.append(params)
        try:
            claims = jwt.decode(
                params.get("id_token_hint", ""),
                server.issuer.private["rsa-1"].public_key(),
                algorithms=["RS256"],
                audience=server.client_id,
                issuer=server.issuer.url,
                options={"verify_exp": False},
            )
        except jwt.PyJWTError:
            self._page(400, "The ID token hint is not one this issuer gave.")
            return
        back = params.get("post_logout_redirect_uri", "")
        if back not in server.redirect_uris:
            self._page(400, "That post-logout redirect URI is not registered.")
            return
        server.end_sessions_of(str(claims["sub"]))
        self._redirect(back, {"state": params["state"]} if "state" in params else {})

    # -- answers -------------------------------------------------------------------------------

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Vary", "Origin")

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self._cors()
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, uri: str, params: dict[str, str]) -> None:
        self.send_response(302)
        self.send_header("Location", f"{uri}{'&' if '?' in uri else '?'}{urlencode(params)}" if params else uri)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _page(self, status: int, text: str) -> None:
        data = f"<!doctype html><title>Sign-in</title><p>{text}</p>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class AuthorizationServer(IssuerServer):
    """The issuer at ``<base>/pool``, signing people in for one public client."""

    handler = _AuthorizationHandler

    def __init__(self, redirect_uris: tuple[str, ...] = (), *, client_id: str = CLIENT_ID) -> None:
        super().__init__()
        self.client_id = client_id
        self.redirect_uris = redirect_uris  # exact matches only, as the BCP asks
        self.person: dict[str, Any] = dict(PERSON)
        self.deny: str | None = None  # an error_description: the person does not allow the sign-in
        self.nonce_instead: str | None = None  # an ID token nonce other than the one asked for
        self.id_token_seconds = 3600
        self.discovery_changes: dict[str, Any] = {}  # what the discovery document says otherwise
        self.refresh_tokens_given = True
        self.codes: dict[str, _Code] = {}
        self.refresh_tokens: dict[str, tuple[str, dict[str, Any]]] = {}  # token -> (code, person)
        self.authorizations: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.logouts: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def discovery(self) -> dict[str, Any]:
        pool = f"{self.base}/pool"
        return {
            "issuer": self.issuer.url,
            "jwks_uri": f"{pool}/jwks.json",
            "authorization_endpoint": f"{pool}/authorize",
            "token_endpoint": f"{pool}/token",
            "end_session_endpoint": f"{pool}/logout",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid", "profile", "email", "groups", "offline_access"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "authorization_response_iss_parameter_supported": True,
            **self.discovery_changes,
        }

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type")
        if form.get("client_id") != self.client_id:
            return 401, {"error": "invalid_client", "error_description": "unknown client"}
        with self.lock:
            if grant == "authorization_code":
                return self._exchange(form)
            if grant == "refresh_token":
                return self._refresh(form)
        return 400, {"error": "unsupported_grant_type"}

    def _exchange(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        code = self.codes.get(form.get("code", ""))
        if code is None:
            return 400, {"error": "invalid_grant", "error_description": "unknown code"}
        if code.used:
            for token in code.refresh_tokens:  # RFC 6749 4.1.2: a code used twice revokes its tokens
                self.refresh_tokens.pop(token, None)
            return 400, {"error": "invalid_grant", "error_description": "the code was already used"}
        code.used = True
        if form.get("redirect_uri") != code.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        verifier = form.get("code_verifier", "")
        if _b64(hashlib.sha256(verifier.encode()).digest()) != code.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        answer = self._tokens(code.person, code.nonce, form.get("code", ""))
        if "refresh_token" in answer:
            code.refresh_tokens.append(answer["refresh_token"])
        return 200, answer

    def _refresh(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        given = self.refresh_tokens.pop(form.get("refresh_token", ""), None)  # used up: rotation
        if given is None:
            return 400, {"error": "invalid_grant", "error_description": "the refresh token is not valid"}
        code, person = given
        answer = self._tokens(person, None, code)
        if code in self.codes and "refresh_token" in answer:
            self.codes[code].refresh_tokens.append(answer["refresh_token"])
        return 200, answer

    def _tokens(self, person: dict[str, Any], nonce: str | None, code: str) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer.url,
            "aud": self.client_id,
            "iat": now,
            "exp": now + self.id_token_seconds,
            "auth_time": now,
            **person,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        answer: dict[str, Any] = {
            "token_type": "Bearer",
            "id_token": self.issuer.sign(claims),
            "access_token": base64.urlsafe_b64encode(secrets.token_bytes(24)).decode(),
            "expires_in": self.id_token_seconds,
            "scope": "openid profile email groups",
        }
        if self.refresh_tokens_given:
            refresh = secrets.token_urlsafe(32)
            self.refresh_tokens[refresh] = (code, person)
            answer["refresh_token"] = refresh
        return answer

    def end_sessions_of(self, subject: str) -> None:
        with self.lock:
            for token, (_, person) in list(self.refresh_tokens.items()):
                if person.get("sub") == subject:
                    del self.refresh_tokens[token]

    def refresh_works(self, refresh_token: str) -> bool:
        """Whether the refresh token is still good (asked without using it up)."""
        with self.lock:
            return refresh_token in self.refresh_tokens


def serving_authorization_server(redirect_uris: tuple[str, ...] = ()) -> AbstractContextManager[AuthorizationServer]:
    """An authorization server on a loopback port for the block's length; stopped and closed after it."""
    return serving(AuthorizationServer(redirect_uris))


def authorization_url(server: AuthorizationServer, redirect_uri: str, **changes: str) -> str:
    """An authorization request as a browser-based app makes one (for tests of the server itself)."""
    params = {
        "response_type": "code",
        "client_id": server.client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile email",
        "state": "s",
        "nonce": "n",
        "code_challenge": _b64(hashlib.sha256(b"v" * 43).digest()),
        "code_challenge_method": "S256",
        **changes,
    }
    return f"{server.base}/pool/authorize?{urlencode(params)}"


def query_of(location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(location).query))
