"""Face one of the verification core: the Chalice authorizer guarding this app's routes."""

from __future__ import annotations

import os
import time
from typing import Any

from chalice import AuthResponse, Blueprint
from chalice.app import AuthRequest, ChaliceAuthorizer

from chalicelib import logs, wiring
from chalicelib.authorizer.execute_api import MethodArn, NotAMethodArn, is_unsafe_path
from chalicelib.authorizer.verifier import Unauthorized, log_decision


class _InvocationAuthorizer(ChaliceAuthorizer):
    """Chalice's authorizer, which hands the function the token and method ARN only: this one
    also keeps the invocation's Lambda request id for the decision line (``logs.lambda_request``)."""

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with logs.lambda_request(context):
            return super().__call__(event, context)


class _Blueprint(Blueprint):
    """A blueprint whose ``@authorizer`` makes an ``_InvocationAuthorizer``. Chalice wraps every
    handler in ``_wrap_handler``; the object it returns is both what Lambda calls (the module's
    ``app_authorizer``) and what ``chalice local`` and ``chalice.test`` call."""

    def _wrap_handler(self, handler_type: str, handler_name: str, user_handler: Any) -> Any:
        if handler_type == "authorizer":
            return _InvocationAuthorizer(handler_name, user_handler)
        return super()._wrap_handler(handler_type, handler_name, user_handler)


bp = _Blueprint(__name__)

# How long API Gateway reuses this authorizer's answer for the same Authorization header.
# Read when Chalice imports the app to build the API, i.e. from the shell that runs
# ``chalice deploy`` / ``chalice package`` (config.json has no authorizer TTL); 0 turns the
# cache off. A revoked key can pass for up to this long plus APIKEYS_AUTH_CACHE_TTL: see docs/authorizer.md.
AUTHORIZER_TTL_SECONDS = int(os.environ.get("APIKEYS_AUTHORIZER_TTL", "60"))


@bp.authorizer(header="Authorization", ttl_seconds=AUTHORIZER_TTL_SECONDS)
def app_authorizer(auth_request: AuthRequest) -> AuthResponse:
    started = time.perf_counter()
    # The gateway face's rules: the ARN read from the left (Chalice builds the policy from its
    # API id and stage), and no dot segment or encoded separator in the path.
    try:
        arn = MethodArn.parse(auth_request.method_arn)
    except NotAMethodArn:
        arn = None
    if arn is None or is_unsafe_path(arn.path):
        reason = "unsafe path" if arn is not None else "error:NotAMethodArn"
        log_decision(outcome="unauthorized", reason=reason, key_id="unknown", community="", started=started, face="app")
        raise _unauthorized()
    try:
        # A TOKEN authorizer sees no address: a restricted key's networks travel in the context,
        # and every route checks them against the request's own address (routes/common.py).
        decision = wiring.verifier().authorize(
            auth_request.token, face="app", started=started, people=True, check_address=False
        )
    except Unauthorized:
        raise _unauthorized() from None
    # This app checks community and permission in each route, so the key or person may reach
    # every route, and an answer API Gateway caches for one route is right for all of them.
    return AuthResponse(routes=["*"], principal_id=decision.caller.principal, context=decision.context())


def _unauthorized() -> Exception:
    """API Gateway answers 401 when an authorizer raises 'Unauthorized'. Under ``chalice local``
    and ``chalice.test`` the local gateway needs its own error for the same answer."""
    try:
        from chalice.local import NotAuthorizedError
    except ImportError:  # on Lambda only chalice.app is deployed
        return Exception("Unauthorized")
    return NotAuthorizedError({"x-amzn-ErrorType": "UnauthorizedException"}, b'{"message":"Unauthorized"}')
