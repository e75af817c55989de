"""Face one of the verification core: the Chalice authorizer guarding this app's routes."""

from __future__ import annotations

import time

from chalice import AuthResponse, Blueprint
from chalice.app import AuthRequest

from chalicelib import wiring
from chalicelib.authorizer import Unauthorized, log_decision

bp = Blueprint(__name__)


@bp.authorizer(header="Authorization")
def api_key(auth_request: AuthRequest) -> AuthResponse:
    started = time.perf_counter()
    try:
        caller = wiring.verifier().verify(auth_request.token)
    except Unauthorized as refusal:
        log_decision(
            outcome="deny", reason=refusal.reason, key_id=refusal.key_id, community=refusal.community,
            started=started, face="app",
        )  # fmt: skip
        raise _unauthorized() from None
    except Exception:  # noqa: BLE001 - any internal error fails closed
        log_decision(outcome="deny", reason="error", key_id="unknown", community="", started=started, face="app")
        raise _unauthorized() from None
    log_decision(
        outcome="allow", reason="ok", key_id=caller.key_id, community=caller.community, started=started, face="app"
    )
    # This app checks community and permission in each route, so the key may reach every
    # route; API Gateway may then cache this answer per key for the authorizer TTL.
    return AuthResponse(
        routes=["*"],
        principal_id=caller.key_id,
        context={
            "key_id": caller.key_id,
            "community": caller.community,
            "roles": ",".join(caller.roles),
            "permissions": ",".join(sorted(caller.permissions)),
        },
    )


def _unauthorized() -> Exception:
    """API Gateway answers 401 when an authorizer raises 'Unauthorized'. Under ``chalice local``
    and ``chalice.test`` the local gateway needs its own error for the same answer."""
    try:
        from chalice.local import NotAuthorizedError
    except ImportError:  # on Lambda only chalice.app is deployed
        return Exception("Unauthorized")
    return NotAuthorizedError({"x-amzn-ErrorType": "UnauthorizedException"}, b'{"message":"Unauthorized"}')
