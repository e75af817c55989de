"""The app's Lambda functions, read from the Chalice app itself, and the names Chalice gives them:
``<app>-<stage>`` for the API handler, ``<app>-<stage>-<function>`` for every other function,
and a logical id in its SAM template."""

from __future__ import annotations

from stack.config import Stage

API_HANDLER = "api_handler"
AUTHORIZERS = ("app_authorizer", "gateway_authorizer")
SCHEDULED = ("sweep_pending", "finish_grace", "remind_expiring")


def lambda_functions() -> list[str]:
    """Every function ``chalice package`` makes of the app, by Chalice's name for it: the API
    handler, the authorizers, the pure and the scheduled functions."""
    from app import app

    names = [API_HANDLER] if app.routes else []
    names += [auth.name for auth in app.builtin_auth_handlers]
    names += [function.name for function in app.pure_lambda_functions]
    names += [source.name for source in app.event_sources]
    return sorted(names)


def cfn_function_id(function: str) -> str:
    """The function's logical id in Chalice's SAM template."""
    from chalice.utils import to_cfn_resource_name

    return "APIHandler" if function == API_HANDLER else to_cfn_resource_name(function)


def function_name(stage: Stage, function: str) -> str:
    """The deployed function's name, as Chalice's Terraform names it (and the CloudFormation
    template is told to: ``observability.cloudformation``)."""
    return stage.prefix if function == API_HANDLER else f"{stage.prefix}-{function}"
