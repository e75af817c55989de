"""What every blueprint shares: the caller from the authorizer context, bodies, errors.

An error about one field of the request (``ServiceError.field``) is answered as Chalice's
``{"Code", "Message"}`` with ``"Field"`` beside them: Chalice builds its own errors' bodies
before any middleware sees them, so such an error is raised as a ``FieldError``, which Chalice
leaves to the middleware, and ``field_answers`` (registered in ``app.py``) answers it."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from chalice import (
    BadRequestError,
    ChaliceUnhandledError,
    ChaliceViewError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    Response,
    UnprocessableEntityError,
)
from chalice.app import Request

from chalicelib import metrics
from chalicelib.errors import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    LeftBehind,
    NotFound,
    ServiceError,
    StoreError,
    ValidationError,
    VaultFailure,
)
from chalicelib.plans.usage_plans import UsagePlanFailure
from chalicelib.roles.caller import Caller, Grant

log = logging.getLogger("apikeys")


class BadGatewayError(ChaliceViewError):
    STATUS_CODE = 502


class ServiceUnavailableError(ChaliceViewError):
    STATUS_CODE = 503


class FieldError(ChaliceUnhandledError):
    """A 4xx about one field of the request, answered by ``field_answers``:
    ``{"Code": "BadRequestError", "Message": "roles: unknown role 'x'", "Field": "roles"}``."""

    def __init__(self, answer: type[ChaliceViewError], message: str, field: str) -> None:
        super().__init__(message)
        self.answer = answer
        self.field = field

    def response(self) -> Response:
        body = {"Code": self.answer.__name__, "Message": str(self), "Field": self.field}
        return Response(body=body, status_code=self.answer.STATUS_CODE)


def field_answers(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """The app's HTTP middleware: a ``FieldError`` raised by a route becomes its answer."""
    try:
        return get_response(event)
    except FieldError as error:
        return error.response()


def _answer(answer: type[ChaliceViewError], error: ServiceError) -> ChaliceViewError | FieldError:
    return FieldError(answer, str(error), error.field) if error.field else answer(str(error))


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
            raise FieldError(BadRequestError, "body: a JSON object is required", "body")
        return None
    from chalicelib.api import schemas  # pydantic: only where a body is read, never in the authorizers

    try:
        return schemas.parse_json(raw)
    except ValidationError as error:
        raise _answer(BadRequestError, error) from None


def header(request: Request, name: str) -> str | None:
    value = request.headers.get(name.lower())
    return None if value is None else str(value)


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """Turn the service's errors into Chalice's ``{"Code", "Message"}`` answers, with ``"Field"``
    when the error names one."""
    try:
        yield
    except ValidationError as error:
        raise _answer(BadRequestError, error) from error
    except NotFound as error:
        raise NotFoundError(str(error)) from error
    except Forbidden as error:
        raise _answer(ForbiddenError, error) from error
    except Conflict as error:
        raise _answer(ConflictError, error) from error
    except IdempotencyKeyReused as error:
        raise UnprocessableEntityError(str(error)) from error
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
