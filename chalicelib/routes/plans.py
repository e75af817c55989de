"""Usage plans: the plans a key may be put on, and a key's usage as API Gateway counted it."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.plans.usage_plans import usage_days
from chalicelib.routes.auth import app_authorizer
from chalicelib.routes.common import caller_of, refuse_other_addresses, service_errors

bp = Blueprint(__name__)


@bp.route("/plans", methods=["GET"], authorizer=app_authorizer)
def list_plans() -> dict[str, Any]:
    refuse_other_addresses(bp.current_request)
    with service_errors():
        return {"items": wiring.plans().catalog()}


@bp.route("/communities/{community}/apikeys/{key_id}/usage", methods=["GET"], authorizer=app_authorizer)
def key_usage(community: str, key_id: str) -> dict[str, Any]:
    request = bp.current_request
    with service_errors():
        service = wiring.service()
        key = service.get(caller_of(request), community, key_id)
        days = usage_days(request.query_params)
        if not key.plan or not key.gateway_key_id:
            return {"plan": None, "days": [], "quota": None, "quota_remaining": None}
        return wiring.plans().usage(key.plan, key.gateway_key_id, days, service.clock().date())
