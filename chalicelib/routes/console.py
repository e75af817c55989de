"""The web console: one page and its own assets, served by the app itself (no CDN).

The page holds no data and no secret; a person signs in with their username and password
against the user pool (Cognito's ``InitiateAuth``, called from the browser), or an operator with
a pasted key, and the page calls the JSON API from the browser. Every answer here carries a
strict Content-Security-Policy: scripts and styles only from this origin, no inline script, no
framing; the page may connect to this origin and, when people sign in, the Cognito endpoint.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
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
    if oidc is None or oidc.cognito_endpoint is None:
        return None
    parts = urlsplit(oidc.cognito_endpoint)
    return oidc.cognito_endpoint, oidc.console_client_id, f"{parts.scheme}://{parts.netloc}"


@bp.route("/", methods=["GET"])
def console_page() -> Response:
    base = _base_path(bp.current_request.context or {})
    page = _read("index.html")
    for name in PAGE_ASSETS:
        url = f"{base}/console/{name}?v={_asset(name)[1]}"
        page = page.replace("{{" + name + "}}", html.escape(url, quote=True))
    sign_in = _sign_in()
    endpoint, client_id, origin = sign_in if sign_in is not None else ("", "", None)
    page = page.replace("{{cognito_endpoint}}", html.escape(endpoint, quote=True))
    page = page.replace("{{client_id}}", html.escape(client_id, quote=True))
    return _respond(page, "text/html; charset=utf-8", PAGE_CACHE, origin)


@bp.route("/console/{name}", methods=["GET"])
def console_asset(name: str) -> Response:
    content_type = ASSETS.get(name)
    if content_type is None:
        raise NotFoundError("no such console asset")
    text, version = _asset(name)
    params = bp.current_request.query_params
    requested = params.get("v") if params else None
    cache = ASSET_CACHE_VERSIONED if requested == version else ASSET_CACHE_UNVERSIONED
    sign_in = _sign_in()  # the page's policy on its assets too: one policy for the console
    return _respond(text, content_type, cache, sign_in[2] if sign_in is not None else None)
