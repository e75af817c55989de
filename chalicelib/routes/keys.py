"""The management routes of a community's API keys."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import metrics, wiring
from chalicelib.routes.auth import app_authorizer
from chalicelib.routes.common import caller_of, header, json_body, service_errors

bp = Blueprint(__name__)

BASE = "/communities/{community}/apikeys"


@bp.route(BASE, methods=["GET"], authorizer=app_authorizer)
def list_keys(community: str) -> dict[str, Any]:
    request = bp.current_request
    with service_errors():
        return wiring.service().list(caller_of(request), community, request.query_params)


@bp.route(BASE, methods=["POST"], authorizer=app_authorizer)
def create_key(community: str) -> Response:
    request = bp.current_request
    with service_errors():
        created = wiring.service().create(
            caller_of(request), community, json_body(request), header(request, "Idempotency-Key")
        )
        now = wiring.service().clock()
    body: dict[str, Any] = {"api_key": created.key.view(now)}
    headers: dict[str, str | list[str]] = {"Cache-Control": "no-store"}
    if created.replayed:
        body["replayed"] = True
        headers["Idempotent-Replayed"] = "true"
    else:
        metrics.count("api", "KeysCreated")
        if created.secret is not None:
            body["secret"] = created.secret
    return Response(body=body, status_code=201, headers=headers)


@bp.route(BASE + "/{key_id}", methods=["GET"], authorizer=app_authorizer)
def get_key(community: str, key_id: str) -> dict[str, Any]:
    with service_errors():
        service = wiring.service()
        key = service.get(caller_of(bp.current_request), community, key_id)
        return key.view(service.clock())


@bp.route(BASE + "/{key_id}", methods=["PATCH"], authorizer=app_authorizer)
def edit_key(community: str, key_id: str) -> dict[str, Any]:
    request = bp.current_request
    with service_errors():
        service = wiring.service()
        edited = service.edit_changes(caller_of(request), community, key_id, json_body(request))
        return {**edited.key.view(service.clock()), "changed": edited.changed}


@bp.route(BASE + "/{key_id}/revoke", methods=["POST"], authorizer=app_authorizer)
def revoke_key(community: str, key_id: str) -> dict[str, Any]:
    request = bp.current_request
    with service_errors():
        service = wiring.service()
        key = service.revoke(caller_of(request), community, key_id, json_body(request, required=False))
    # This container stops accepting the key at once, whatever its cache TTL.
    wiring.verifier().forget(key_id)
    metrics.count("api", "KeysRevoked")
    return key.view(service.clock())
