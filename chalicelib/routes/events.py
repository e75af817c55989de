"""The audit trail: a key's events and its community's, newest first, paginated."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.routes.auth import app_authorizer
from chalicelib.routes.common import caller_of, service_errors

bp = Blueprint(__name__)


@bp.route("/communities/{community}/apikeys/{key_id}/events", methods=["GET"], authorizer=app_authorizer)
def key_events(community: str, key_id: str) -> dict[str, Any]:
    request = bp.current_request
    with service_errors():
        return wiring.audit().key_events(caller_of(request), community, key_id, request.query_params)


@bp.route("/communities/{community}/events", methods=["GET"], authorizer=app_authorizer)
def community_events(community: str) -> dict[str, Any]:
    request = bp.current_request
    with service_errors():
        return wiring.audit().community_events(caller_of(request), community, request.query_params)
