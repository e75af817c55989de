"""The OpenAPI document of this API, public like any API description."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

bp = Blueprint(__name__)


@bp.route("/openapi.json", methods=["GET"])
def openapi_document() -> Response:
    import os

    from chalicelib.api import openapi  # pydantic: built when asked, never in the authorizers
    from chalicelib.settings import from_environ

    # The deployment's plans and bounds, without its pepper: a public document reads no secret.
    settings = from_environ(os.environ, peppers=False)
    deployment = openapi.Deployment(
        plans=tuple(plan.name for plan in settings.usage_plans),
        default_plan=settings.default_plan,
        max_expiry_days=settings.max_expiry_days,
    )
    # The routes served are those of the app this blueprint is registered with (app.py imports
    # this module, never the other way round), read when asked.
    body: dict[str, Any] = openapi.document(openapi.routes_of(bp.current_app), deployment)
    return Response(body=body, status_code=200, headers={"Cache-Control": "max-age=300"})
