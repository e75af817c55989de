"""Leaked-key reports from GitHub secret scanning. Public: the request signature is the check."""

from __future__ import annotations

import logging
from typing import Any

from chalice import Blueprint, UnauthorizedError

from chalicelib import wiring
from chalicelib.keys.leak_keys import KeysUnavailable
from chalicelib.keys.leaks import NotConfigured, SignatureError
from chalicelib.routes.common import ServiceUnavailableError, header, service_errors

bp = Blueprint(__name__)
log = logging.getLogger("apikeys.leaks")


@bp.route("/leaks/github", methods=["POST"], content_types=["application/json"])
def github_leaks() -> list[dict[str, Any]]:
    request = bp.current_request
    # Chalice types raw_body as str | bytes; it hands bytes (a str body is encoded first).
    raw = request.raw_body
    raw_body = raw.encode() if isinstance(raw, str) else raw or b""
    identifier = header(request, "Github-Public-Key-Identifier")
    try:
        public_keys = wiring.leak_signing_keys().for_identifier(identifier)
        with service_errors():
            return wiring.leaks().handle(
                raw_body, identifier, header(request, "Github-Public-Key-Signature"), public_keys
            )
    except NotConfigured:
        log.warning("a leak report arrived but neither APIKEYS_LEAK_PUBLIC_KEYS nor APIKEYS_LEAK_KEYS_URL is set")
        raise UnauthorizedError("the report's signature does not verify") from None
    except SignatureError:
        raise UnauthorizedError("the report's signature does not verify") from None
    except KeysUnavailable as error:
        log.warning("GitHub's leak-report signing keys could not be fetched: %s", error)
        raise ServiceUnavailableError("the signing keys could not be fetched; nothing was changed") from None
