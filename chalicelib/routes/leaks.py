"""Leaked-key reports from GitHub secret scanning. Public: the request signature is the check."""

from __future__ import annotations

import logging
from typing import Any

from chalice import Blueprint, UnauthorizedError

from chalicelib import wiring
from chalicelib.keys.leaks import NotConfigured, SignatureError
from chalicelib.routes.common import header, service_errors
from chalicelib.settings import get_settings

bp = Blueprint(__name__)
log = logging.getLogger("apikeys.leaks")


@bp.route("/leaks/github", methods=["POST"], content_types=["application/json"])
def github_leaks() -> list[dict[str, Any]]:
    request = bp.current_request
    # Chalice types raw_body as str | bytes; it hands bytes (a str body is encoded first).
    raw = request.raw_body
    raw_body = raw.encode() if isinstance(raw, str) else raw or b""
    try:
        with service_errors():
            return wiring.leaks().handle(
                raw_body,
                header(request, "Github-Public-Key-Identifier"),
                header(request, "Github-Public-Key-Signature"),
                dict(get_settings().leak_public_keys),
            )
    except NotConfigured:
        log.warning("a leak report arrived but APIKEYS_LEAK_PUBLIC_KEYS is empty")
        raise UnauthorizedError("the report's signature does not verify") from None
    except SignatureError:
        raise UnauthorizedError("the report's signature does not verify") from None
