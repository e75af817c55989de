"""Routes any valid key may call: the role catalog, the vault choices, who am I."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.routes.auth import app_authorizer
from chalicelib.routes.common import caller_of, refuse_other_addresses

bp = Blueprint(__name__)


@bp.route("/roles", methods=["GET"], authorizer=app_authorizer)
def roles() -> dict[str, Any]:
    return {"items": wiring.service().roles(caller_of(bp.current_request))}


@bp.route("/vaults", methods=["GET"], authorizer=app_authorizer)
def vaults() -> dict[str, Any]:
    refuse_other_addresses(bp.current_request)
    registry = wiring.vaults()
    return {"items": registry.choices() if registry is not None else []}


@bp.route("/whoami", methods=["GET"], authorizer=app_authorizer)
def whoami() -> dict[str, Any]:
    return caller_of(bp.current_request).view()
