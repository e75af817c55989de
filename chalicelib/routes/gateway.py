"""Face two of the verification core: a standalone Lambda authorizer for other APIs.

Chalice deploys it as its own function, ``<app>-<stage>-gateway_authorizer``; point a REST
API's TOKEN or REQUEST authorizer, or an HTTP API's Lambda authorizer (payload 1.0 or 2.0),
at it. ``APIKEYS_HTTP_API_RESPONSE`` says whether HTTP API payload 2.0 gets the simple
response (``simple``, the default) or the IAM policy (``policy``).
"""

from __future__ import annotations

import os
import time
from typing import Any

from chalice import Blueprint

from chalicelib import logs, wiring
from chalicelib.authorizer.gateway import SIMPLE, handle_gateway_event, refuse_event
from chalicelib.settings import get_settings

bp = Blueprint(__name__)


@bp.lambda_function(name="gateway_authorizer")
def gateway_authorizer(event: dict[str, Any], context: Any) -> Any:
    started = time.perf_counter()
    with logs.lambda_request(context):
        try:
            verifier, response_form = wiring.verifier(), get_settings().http_api_response
        except Exception as error:  # noqa: BLE001 - a container that cannot start fails closed
            # The settings may be what failed: the form asked for is read as they would read it.
            response_form = os.environ.get("APIKEYS_HTTP_API_RESPONSE", SIMPLE)
            return refuse_event(event, error, started, http_api_response=response_form)
        return handle_gateway_event(verifier, event, http_api_response=response_form)
