"""The web console: one page and its own assets, served by the app itself (no CDN).

The page holds no data and no secret; a person signs in with their username and password
against the user pool (Cognito's ``InitiateAuth``, called from the browser), or at any other
OIDC issuer through its own pages (an authorization-code redirect with PKCE: the page goes to the
issuer's ``authorization_endpoint`` and back, and exchanges the code at its ``token_endpoint``),
or an operator with a pasted key, and the page calls the JSON API from the browser. Every answer
here carries a strict Content-Security-Policy: scripts and styles only from this origin, no
inline script, no framing; the page may connect to this origin and, when people sign in, the
Cognito endpoint or the issuer's token endpoint, nothing else.

The issuer's endpoints come from its discovery document, read here (once per container, as the
authorizer reads its keys) and handed to the page in its ``<meta name="apikeys-sign-in">``: the
policy must name the token endpoint's origin, which only discovery tells, and the browser then
makes no request of its own to find it.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chalice import Blueprint, NotFoundError, Response

from chalicelib.settings import get_settings

bp = Blueprint(__name__)

ASSET_DIR = Path(__file__).resolve().parent.parent / "console"

# Served types by file ending. The allow-list is the console folder as listed once, at import:
# name -> content type. A request's name is only ever looked up in it, never joined to a path.
CONTENT_TYPES: dict[str, str] = {
    ".js": "text/javascript; charset=utf-8",  # ES modules need a JavaScript type
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
ASSETS: dict[str, str] = {
    path.name: CONTENT_TYPES[path.suffix]
    for path in sorted(ASSET_DIR.iterdir())
    if path.is_file() and path.suffix in CONTENT_TYPES
}
MODULES: tuple[str, ...] = tuple(name for name in ASSETS if name.endswith(".js"))
# What index.html links itself ({{name}} placeholders); the other modules come by import.
PAGE_ASSETS = ("app.css", "app.js", "favicon.svg")

# Cache busting of the modules. app.js (linked by the page) imports the other modules, which
# import each other, by relative path ("./keys.js"). All of them share one version: a hash of
# every module's name and text, served as ``?v=`` on app.js and written into each import as the
# module is served ("./keys.js?v=<version>"). A change to any module changes every module URL,
# so a browser holding an immutable copy of an old module can never load it beside a newer one,
# and an unchanged deploy keeps every cached module. (An import map would need an inline script,
# which the Content-Security-Policy refuses; per-module hashes cannot cover import cycles.)
# A static import statement's specifier: `import { a } from "./b.js"` (over lines too), `import "./b.js"`.
_IMPORT = re.compile(r'^(import\b[^"]*")\./([\w-]+\.js)(")', re.MULTILINE)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",  # module scripts and their imports alike: this origin only
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Strict-Transport-Security": "max-age=31536000",
}

# The page is small and changes with each deploy: revalidate it every time. Assets are
# addressed by content hash (``?v=``), so a matching request may be cached for good.
PAGE_CACHE = "no-cache"
ASSET_CACHE_VERSIONED = "public, max-age=31536000, immutable"
ASSET_CACHE_UNVERSIONED = "no-cache"


@functools.cache
def _read(name: str) -> str:
    return (ASSET_DIR / name).read_text(encoding="utf-8")


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.cache
def _modules_version() -> str:
    """One version for all modules: a hash of each module's name and text."""
    return _hash("".join(f"{name}\0{_read(name)}\0" for name in MODULES))


def _versioned_imports(text: str, version: str) -> str:
    def versioned(match: re.Match[str]) -> str:
        name = match.group(2)
        return match.group(0) if name not in MODULES else f"{match.group(1)}./{name}?v={version}{match.group(3)}"

    return _IMPORT.sub(versioned, text)


@functools.cache
def _asset(name: str) -> tuple[str, str]:
    """(text, version) of one allowed asset, read once per container: a module's imports carry
    the modules' shared version; another asset's version is its own content hash."""
    text = _read(name)
    if name in MODULES:
        version = _modules_version()
        return _versioned_imports(text, version), version
    return text, _hash(text)


def _base_path(context: dict[str, Any]) -> str:
    """The path prefix the page is served under: ``/api`` behind an API Gateway stage, ``""``
    locally. Assets are linked absolutely so that ``/api`` and ``/api/`` both work."""
    path = str(context.get("path") or "/")
    resource = str(context.get("resourcePath") or "/")
    if resource != "/" or not path.startswith("/"):
        return ""
    return path.rstrip("/")


def _respond(body: str, content_type: str, cache_control: str, connect_to: str | None = None) -> Response:
    headers: dict[str, str | list[str]] = {
        "Content-Type": content_type,
        "Cache-Control": cache_control,
        **SECURITY_HEADERS,
    }
    if connect_to is not None:
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "connect-src 'self'", f"connect-src 'self' {connect_to}"
        )
    return Response(body=body, status_code=200, headers=headers)


def _sign_in() -> tuple[str, str, str] | None:
    """(endpoint, app client id, the endpoint's origin) of the console's password sign-in, or
    None when people do not sign in to a Cognito user pool here. Both are public: the page reads
    them from its ``<meta name="apikeys-sign-in">``, and the password goes only to the endpoint."""
    oidc = get_settings().oidc
    if oidc is None or oidc.cognito_endpoint is None or oidc.console_sign_in != "password":
        return None
    return oidc.cognito_endpoint, oidc.console_client_id, _origin(oidc.cognito_endpoint)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# -- the redirect sign-in at any OIDC issuer ---------------------------------------------------

DISCOVERY_MAX_AGE_SECONDS = 3600.0  # as the authorizer keeps the issuer's keys
DISCOVERY_RETRY_SECONDS = 60.0  # a failed discovery is tried again after this, not on every asset
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class IssuerEndpoints:
    """Where the console sends a person (``authorization``), exchanges and renews their code
    (``token``), and signs them out at the issuer (``end_session``, when it has one)."""

    authorization: str
    token: str
    end_session: str | None = None


def _endpoint(value: Any) -> str | None:
    """An endpoint a browser may be sent to with codes and tokens: HTTPS, or plain HTTP to this
    machine only (a test issuer); no fragment. None for anything else."""
    if not isinstance(value, str) or len(value) > 2048:
        return None
    parts = urlsplit(value)
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
    return value if secure and parts.hostname and not parts.fragment else None


def endpoints_of(document: Any, issuer: str) -> IssuerEndpoints | None:
    """The console's endpoints from an issuer's discovery document, or None when it is not the
    issuer's, lacks one of them, names one the browser may not use, or cannot do PKCE's S256."""
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        return None
    authorization = _endpoint(document.get("authorization_endpoint"))
    token = _endpoint(document.get("token_endpoint"))
    methods = document.get("code_challenge_methods_supported")
    if authorization is None or token is None or (isinstance(methods, list) and "S256" not in methods):
        return None
    return IssuerEndpoints(authorization, token, _endpoint(document.get("end_session_endpoint")))


class IssuerDiscovery:
    """The issuer's console endpoints, discovered once per container and kept for an hour; a
    failed discovery (each fetch bounded by the authorizer's timeout) is retried after a minute."""

    def __init__(
        self,
        fetch: Callable[[str], Any] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch = fetch
        self.monotonic = monotonic
        self._found: dict[str, tuple[float, IssuerEndpoints | None]] = {}
        self._lock = threading.Lock()

    def endpoints(self, issuer: str) -> IssuerEndpoints | None:
        with self._lock:
            now = self.monotonic()
            found = self._found.get(issuer)
            if found is not None:
                at, endpoints = found
                if now - at < (DISCOVERY_MAX_AGE_SECONDS if endpoints is not None else DISCOVERY_RETRY_SECONDS):
                    return endpoints
            endpoints = self._discover(issuer)
            self._found[issuer] = (now, endpoints)
            return endpoints

    def _discover(self, issuer: str) -> IssuerEndpoints | None:
        from chalicelib.authorizer.tokens import KeysUnavailable, fetch_json

        fetch = self.fetch or fetch_json
        try:
            document = fetch(issuer.rstrip("/") + "/.well-known/openid-configuration")
        except KeysUnavailable:
            return None
        return endpoints_of(document, issuer)


discovery = IssuerDiscovery()


@dataclass(frozen=True)
class RedirectSignIn:
    """What the page needs for the redirect sign-in; ``endpoints`` None while the issuer's
    discovery fails (the page then says so and offers the key sign-in)."""

    issuer: str
    client_id: str
    scope: str
    endpoints: IssuerEndpoints | None

    @property
    def connect_to(self) -> str | None:
        return None if self.endpoints is None else _origin(self.endpoints.token)


def _redirect_sign_in() -> RedirectSignIn | None:
    oidc = get_settings().oidc
    if oidc is None or oidc.console_sign_in != "redirect":
        return None
    return RedirectSignIn(oidc.issuer, oidc.console_client_id, oidc.console_scope, discovery.endpoints(oidc.issuer))


def _connect_to() -> str | None:
    """The one origin besides this one the console connects to: the Cognito endpoint's or the
    issuer's token endpoint's; None when people do not sign in here."""
    sign_in = _sign_in()
    if sign_in is not None:
        return sign_in[2]
    redirect = _redirect_sign_in()
    return None if redirect is None else redirect.connect_to


@bp.route("/", methods=["GET"])
def console_page() -> Response:
    base = _base_path(bp.current_request.context or {})
    page = _read("index.html")
    for name in PAGE_ASSETS:
        url = f"{base}/console/{name}?v={_asset(name)[1]}"
        page = page.replace("{{" + name + "}}", html.escape(url, quote=True))
    sign_in = _sign_in()
    endpoint, client_id, origin = sign_in if sign_in is not None else ("", "", None)
    redirect = _redirect_sign_in() if sign_in is None else None
    values = {"cognito_endpoint": endpoint, "client_id": client_id}
    values.update(_redirect_values(redirect))
    for name, value in values.items():
        page = page.replace("{{" + name + "}}", html.escape(value, quote=True))
    if redirect is not None:
        origin = redirect.connect_to
    return _respond(page, "text/html; charset=utf-8", PAGE_CACHE, origin)


def _redirect_values(redirect: RedirectSignIn | None) -> dict[str, str]:
    """The page's placeholders of the redirect sign-in: empty when people do not sign in so."""
    if redirect is None:
        names = ("issuer", "authorization_endpoint", "token_endpoint", "end_session_endpoint", "scope")
        return dict.fromkeys(names, "")
    endpoints = redirect.endpoints
    return {
        "client_id": redirect.client_id,
        "issuer": redirect.issuer,
        "authorization_endpoint": endpoints.authorization if endpoints else "",
        "token_endpoint": endpoints.token if endpoints else "",
        "end_session_endpoint": (endpoints.end_session or "") if endpoints else "",
        "scope": redirect.scope,
    }


@bp.route("/console/{name}", methods=["GET"])
def console_asset(name: str) -> Response:
    content_type = ASSETS.get(name)
    if content_type is None:
        raise NotFoundError("no such console asset")
    text, version = _asset(name)
    params = bp.current_request.query_params
    requested = params.get("v") if params else None
    cache = ASSET_CACHE_VERSIONED if requested == version else ASSET_CACHE_UNVERSIONED
    return _respond(text, content_type, cache, _connect_to())  # the page's policy: one for the console
