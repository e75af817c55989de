"""A community's custom roles: list (with the built-in ones), create, edit, delete."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.roles.custom import RoleInUse
from chalicelib.routes.auth import app_authorizer
from chalicelib.routes.common import caller_of, json_body, service_errors

bp = Blueprint(__name__)

BASE = "/communities/{community}/roles"


@bp.route(BASE, methods=["GET"], authorizer=app_authorizer)
def list_roles(community: str) -> dict[str, Any]:
    with service_errors():
        return wiring.custom_roles().list(caller_of(bp.current_request), community)


@bp.route(BASE, methods=["POST"], authorizer=app_authorizer)
def create_role(community: str) -> Response:
    request = bp.current_request
    with service_errors():
        role = wiring.custom_roles().create(caller_of(request), community, json_body(request))
    return Response(body=role.view(), status_code=201)


@bp.route(BASE + "/{name}", methods=["PATCH"], authorizer=app_authorizer)
def edit_role(community: str, name: str) -> dict[str, Any]:
    request = bp.current_request
    with service_errors():
        return wiring.custom_roles().edit(caller_of(request), community, name, json_body(request)).view()


@bp.route(BASE + "/{name}", methods=["DELETE"], authorizer=app_authorizer)
def delete_role(community: str, name: str) -> Response:
    with service_errors():
        try:
            wiring.custom_roles().delete(caller_of(bp.current_request), community, name)
        except RoleInUse as in_use:  # Chalice's error form, plus the keys that hold the role
            body = {"Code": "ConflictError", "Message": str(in_use), "keys": in_use.holders}
            return Response(body=body, status_code=409)
    return Response(body="", status_code=204)
