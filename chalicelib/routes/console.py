"""The web console: one page and its own assets, served by the app itself (no CDN).

The page holds no data and no secret; it signs in with a key pasted by the user and calls
the JSON API from the browser. Every answer here carries a strict Content-Security-Policy:
scripts and styles only from this origin, no inline script, no framing.
"""

from __future__ import annotations

import functools
import hashlib
import html
from pathlib import Path
from typing import Any

from chalice import Blueprint, NotFoundError, Response

bp = Blueprint(__name__)

ASSET_DIR = Path(__file__).resolve().parent.parent / "console"

# name -> content type; nothing outside this list is ever read from disk.
ASSETS: dict[str, str] = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
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
def _asset(name: str) -> tuple[str, str]:
    """(text, short content hash) of one allowed asset, read once per container."""
    text = (ASSET_DIR / name).read_text(encoding="utf-8")
    return text, hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.cache
def _page_template() -> str:
    return (ASSET_DIR / "index.html").read_text(encoding="utf-8")


def _base_path(context: dict[str, Any]) -> str:
    """The path prefix the page is served under: ``/api`` behind an API Gateway stage, ``""``
    locally. Assets are linked absolutely so that ``/api`` and ``/api/`` both work."""
    path = str(context.get("path") or "/")
    resource = str(context.get("resourcePath") or "/")
    if resource != "/" or not path.startswith("/"):
        return ""
    return path.rstrip("/")


def _respond(body: str, content_type: str, cache_control: str) -> Response:
    headers: dict[str, str | list[str]] = {
        "Content-Type": content_type,
        "Cache-Control": cache_control,
        **SECURITY_HEADERS,
    }
    return Response(body=body, status_code=200, headers=headers)


@bp.route("/", methods=["GET"])
def console_page() -> Response:
    base = _base_path(bp.current_request.context or {})
    page = _page_template()
    for name in ASSETS:
        url = f"{base}/console/{name}?v={_asset(name)[1]}"
        page = page.replace("{{" + name + "}}", html.escape(url, quote=True))
    return _respond(page, "text/html; charset=utf-8", PAGE_CACHE)


@bp.route("/console/{name}", methods=["GET"])
def console_asset(name: str) -> Response:
    content_type = ASSETS.get(name)
    if content_type is None:
        raise NotFoundError("no such console asset")
    text, version = _asset(name)
    params = bp.current_request.query_params
    requested = params.get("v") if params else None
    cache = ASSET_CACHE_VERSIONED if requested == version else ASSET_CACHE_UNVERSIONED
    return _respond(text, content_type, cache)
