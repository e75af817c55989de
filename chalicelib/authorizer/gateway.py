"""The gateway face: API Gateway authorizer events in, authorizer answers out.

Reads REST TOKEN and REQUEST events and HTTP API payloads 1.0 and 2.0 (``parse_event``), asks
the ``Verifier``, and answers as API Gateway expects: an IAM policy (``policy.RouteMap``) or the
HTTP API simple form. Every event it cannot read or decide is refused, never let through.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.authorizer.execute_api import (
    MethodArn,
    bearer_token,
    header,
    identity_source_token,
    multi_value_header,
)
from chalicelib.authorizer.verifier import Verifier, log_decision

SIMPLE = "simple"
POLICY = "policy"


@dataclass(frozen=True)
class GatewayRequest:
    """What an authorizer event asks: which token, for which route, of which API and stage.

    ``method`` and ``path`` are the route decided: the method ARN's for every answer API Gateway
    checks as a policy (it checks it against that ARN), the request's own for HTTP API simple
    answers. ``arn`` is ``None`` only for a payload 2.0 event whose route ARN is unreadable,
    which can then only get a simple answer.
    """

    kind: str  # "rest" (REST TOKEN/REQUEST, HTTP API payload 1.0) or "http" (HTTP API payload 2.0)
    token: str | None
    method: str
    path: str
    arn: MethodArn | None
    # The caller's address as API Gateway reports it (never a header the caller writes); None in
    # a TOKEN event, which carries none.
    source_ip: str | None = None

    @property
    def arn_base(self) -> str:
        if self.arn is None:
            raise ValueError("no method ARN to build a policy from")
        return self.arn.base


def _rest_request_token(event: Mapping[str, Any]) -> str | None:
    """REST REQUEST: the ``Authorization`` header, any case; refused when sent twice, differently."""
    single = header(event.get("headers"), "Authorization")
    multi_values = event.get("multiValueHeaders")
    if not _has_header(multi_values, "Authorization"):
        return single
    multi = multi_value_header(multi_values, "Authorization")
    if multi is None or (single is not None and single != multi):
        return None
    return multi


def _has_header(headers: object, name: str) -> bool:
    return isinstance(headers, Mapping) and any(isinstance(k, str) and k.lower() == name.lower() for k in headers)


def parse_event(
    event: Mapping[str, Any], *, key_prefix: str = "apk", http_api_response: str = SIMPLE
) -> GatewayRequest:
    """Read an event the way API Gateway shaped it; ``ValueError`` (or any error) when it cannot."""
    if not isinstance(event, Mapping):
        raise ValueError("not an event")
    if event.get("version") == "2.0":
        token = identity_source_token(event.get("identitySource"), key_prefix)
        if token is None and not event.get("identitySource"):
            token = bearer_token(header(event.get("headers"), "Authorization"))
        source_ip = _source_ip(event, "http")
        if http_api_response != SIMPLE:
            arn = MethodArn.parse(event.get("routeArn"))
            return GatewayRequest("http", token, arn.method, arn.path, arn, source_ip)
        try:
            route_arn: MethodArn | None = MethodArn.parse(event.get("routeArn"))
        except ValueError:
            route_arn = None
        http = (event.get("requestContext") or {}).get("http") or {}
        method = http.get("method") or (route_arn.method if route_arn else None)
        path = event.get("rawPath") or http.get("path")
        if not isinstance(path, str):
            path = route_arn.path if route_arn else None
        elif route_arn is not None and route_arn.stage != "$default":
            # On a named stage the raw path starts with the stage; routes are mapped without it.
            stage_prefix = f"/{route_arn.stage}"
            if path == stage_prefix or path.startswith(stage_prefix + "/"):
                path = path[len(stage_prefix) :] or "/"
        if not isinstance(method, str) or not isinstance(path, str):
            raise ValueError("no method or path")
        return GatewayRequest("http", token, method, path, route_arn, source_ip)
    # REST TOKEN and REQUEST, and HTTP API payload 1.0: API Gateway checks the policy against
    # the method ARN, so the route decided is the one the ARN names.
    arn = MethodArn.parse(event.get("methodArn"))
    if event.get("type") == "TOKEN":
        return GatewayRequest("rest", bearer_token(event.get("authorizationToken")), arn.method, arn.path, arn)
    if event.get("version") == "1.0" and event.get("identitySource"):
        token = identity_source_token(event.get("identitySource"), key_prefix)
    else:
        token = bearer_token(_rest_request_token(event))
    return GatewayRequest("rest", token, arn.method, arn.path, arn, _source_ip(event, "identity"))


def _source_ip(event: Mapping[str, Any], where: str) -> str | None:
    """``requestContext.<where>.sourceIp``: the address of the connection API Gateway received
    (``identity`` in REST REQUEST and payload 1.0 events, ``http`` in payload 2.0)."""
    context = event.get("requestContext")
    part = context.get(where) if isinstance(context, Mapping) else None
    source_ip = part.get("sourceIp") if isinstance(part, Mapping) else None
    return source_ip if isinstance(source_ip, str) else None


def gateway_refusal(error: BaseException, started: float) -> Exception:
    """Log a gateway decision that failed before any key was read; API Gateway's 401 to raise."""
    log_decision(
        outcome="unauthorized", reason=f"error:{type(error).__name__}", key_id="unknown", community="",
        started=started, face="gateway",
    )  # fmt: skip
    return Exception("Unauthorized")  # API Gateway's 401 contract


def wants_simple_answer(event: object, http_api_response: str) -> bool:
    """Whether API Gateway expects ``{"isAuthorized": …}`` for this event, not a policy."""
    return http_api_response == SIMPLE and isinstance(event, Mapping) and event.get("version") == "2.0"


def refuse_event(event: object, error: BaseException, started: float, *, http_api_response: str) -> dict[str, bool]:
    """Refuse an event that could not be decided: the simple ``false``, or API Gateway's 401 raised."""
    refusal = gateway_refusal(error, started)
    if wants_simple_answer(event, http_api_response):
        return {"isAuthorized": False}
    raise refusal


def handle_gateway_event(verifier: Verifier, event: Mapping[str, Any], *, http_api_response: str = SIMPLE) -> Any:
    """Answer one API Gateway authorizer event.

    REST (and the IAM form of HTTP API): a policy allowing every route the key may call and
    denying the mapped ones it may not, so a cached answer is right for every route; a bad
    key raises ``Exception("Unauthorized")``, which API Gateway turns into 401. HTTP API
    simple form: ``{"isAuthorized": ..., "context": ...}``. Nothing else ever leaves: in the
    simple form not even the 401, which API Gateway would turn into a 500.
    """
    started = time.perf_counter()
    simple = wants_simple_answer(event, http_api_response)
    try:
        request = parse_event(event, key_prefix=verifier.key_prefix, http_api_response=http_api_response)
    except Exception as error:  # noqa: BLE001 - an event we cannot read fails closed
        return refuse_event(event, error, started, http_api_response=http_api_response)
    try:
        decision = verifier.authorize(
            request.token, face="gateway", method=request.method, path=request.path, started=started,
            source_ip=request.source_ip,
        )  # fmt: skip
    except Exception:  # noqa: BLE001 - Unauthorized, already logged by authorize
        if simple:
            return {"isAuthorized": False}
        raise Exception("Unauthorized") from None  # noqa: TRY002 - API Gateway's 401 contract
    try:
        if simple:
            return {"isAuthorized": decision.allowed, "context": decision.context()}
        answer = {
            "principalId": decision.caller.key_id,
            "policyDocument": verifier.route_map.policy(decision.caller.permissions, request.arn_base),
            "context": decision.context(),
        }
        # REST APIs whose key source is AUTHORIZER meter and throttle by it; HTTP APIs have no usage plans.
        if request.kind == "rest" and decision.caller.usage_identifier_key:
            answer["usageIdentifierKey"] = decision.caller.usage_identifier_key
        return answer
    except Exception as error:  # noqa: BLE001 - fail closed, as an answer API Gateway understands
        return refuse_event(event, error, started, http_api_response=http_api_response)
