"""What every blueprint shares: the caller from the authorizer context, bodies, errors."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

from chalice import (
    BadRequestError,
    ChaliceViewError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
)
from chalice.app import Request

from chalicelib import metrics
from chalicelib.errors import Conflict, Forbidden, LeftBehind, NotFound, StoreError, ValidationError, VaultFailure
from chalicelib.plans.usage_plans import UsagePlanFailure
from chalicelib.roles.caller import Caller, Grant

log = logging.getLogger("apikeys")


class BadGatewayError(ChaliceViewError):
    STATUS_CODE = 502


class ServiceUnavailableError(ChaliceViewError):
    STATUS_CODE = 503


def caller_of(request: Request) -> Caller:
    """The caller the authorizer verified, rebuilt from its string-only context. A person acts
    in the path's community with that community's grant (``Caller.in_community``)."""
    context = request.context.get("authorizer") or {}
    refuse_other_addresses(request)
    if "person" in context:
        grants = tuple(
            Grant(community, tuple(roles), frozenset(permissions))
            for community, roles, permissions in json.loads(context["grants"])
        )
        person = Caller.signed_in(context["person"], context.get("name", ""), grants)
        return person.in_community((request.uri_params or {}).get("community"))
    return Caller(
        key_id=context["key_id"],
        community=context["community"],
        roles=tuple(filter(None, context.get("roles", "").split(","))),
        permissions=frozenset(filter(None, context.get("permissions", "").split(","))),
    )


def refuse_other_addresses(request: Request) -> None:
    """403 for a key restricted to networks (``allowed_cidrs`` in the authorizer's context) when
    API Gateway reports the request from elsewhere. The app's authorizer is a TOKEN authorizer,
    which sees no address, and API Gateway caches its answer per key: the address is checked here,
    on every request, from ``requestContext.identity.sourceIp``, never from a header."""
    context = request.context.get("authorizer") or {}
    allowed = [network for network in str(context.get("allowed_cidrs") or "").split(",") if network]
    if not allowed:
        return
    from chalicelib.authorizer import addresses

    source_ip = (request.context.get("identity") or {}).get("sourceIp")
    if not addresses.allows(allowed, source_ip):
        raise ForbiddenError("this API key may not be used from this address (see its allowed_cidrs)")


def json_body(request: Request, *, required: bool = True) -> Any:
    raw = request.raw_body
    if not raw:
        if required:
            raise BadRequestError("body: a JSON object is required")
        return None
    from chalicelib.api import schemas  # pydantic: only where a body is read, never in the authorizers

    try:
        return schemas.parse_json(raw)
    except ValidationError as error:
        raise BadRequestError(str(error)) from None


def header(request: Request, name: str) -> str | None:
    value = request.headers.get(name.lower())
    return None if value is None else str(value)


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """Turn the service's errors into Chalice's ``{"Code", "Message"}`` answers."""
    try:
        yield
    except ValidationError as error:
        raise BadRequestError(str(error)) from error
    except NotFound as error:
        raise NotFoundError(str(error)) from error
    except Forbidden as error:
        raise ForbiddenError(str(error)) from error
    except Conflict as error:
        raise ConflictError(str(error)) from error
    except VaultFailure as error:
        metrics.count("api", "VaultFailures")
        raise BadGatewayError(str(error)) from error
    except UsagePlanFailure as error:
        raise BadGatewayError(str(error)) from error
    except LeftBehind as error:
        log.warning("store error: %s", error)
        metrics.count("api", "StoreErrors")
        raise ServiceUnavailableError(str(error)) from error
    except StoreError as error:
        log.warning("store error: %s", error)
        metrics.count("api", "StoreErrors")
        raise ServiceUnavailableError("the key store is unavailable; nothing was changed") from error
