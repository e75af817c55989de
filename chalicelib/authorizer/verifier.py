"""The verification core every authorizer face shares, and the gateway face's event handling.

Order: format and checksum (no I/O) → one strongly consistent GetItem by key id → hash,
status, expiry → permissions for the called route → decision. Every refusal of a key is the
same ``Unauthorized``; the reason goes to the decision log only. Any unexpected error fails
closed, as an ``Unauthorized`` too.

Two faces call ``Verifier.authorize``: the Chalice authorizer guarding this app
(``routes/auth.py``) and the standalone Lambda for other APIs behind API Gateway
(``routes/gateway.py`` → ``handle_gateway_event``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib import logs, metrics
from chalicelib.authorizer.execute_api import (
    MethodArn,
    bearer_token,
    header,
    identity_source_token,
    is_unsafe_path,
    multi_value_header,
    unsafe_path_resources,
)
from chalicelib.keys import format as key_format
from chalicelib.keys.records import ACTIVE, KeyRecord
from chalicelib.roles.caller import Caller
from chalicelib.roles.catalog import PERMISSIONS, Role

log = logging.getLogger(logs.DECISIONS)
_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]

# Other APIs' routes → the permission each needs. ``METHOD /path``; ``*`` as method means any,
# a ``*`` in a path matches anything (slashes too, as in IAM), and a trailing ``/*`` also
# matches the bare path. A route needs the permission of every rule that matches it; a route
# no rule matches is refused (403), and so is a path with a dot segment or an encoded separator
# (``execute_api.is_unsafe_path``), whatever the rules say.
DEFAULT_ROUTE_MAP: tuple[tuple[str, str], ...] = (
    ("GET /intelligence/*", "intelligence:read"),
    ("HEAD /intelligence/*", "intelligence:read"),
    ("POST /intelligence/*", "intelligence:write"),
    ("PUT /intelligence/*", "intelligence:write"),
    ("PATCH /intelligence/*", "intelligence:write"),
    ("DELETE /intelligence/*", "intelligence:write"),
    ("GET /playbooks/*", "playbooks:read"),
    ("HEAD /playbooks/*", "playbooks:read"),
    ("POST /playbooks/*", "playbooks:run"),
    ("GET /operations/*", "operations:read"),
    ("HEAD /operations/*", "operations:read"),
    ("POST /operations/*", "operations:write"),
    ("PUT /operations/*", "operations:write"),
    ("PATCH /operations/*", "operations:write"),
    ("DELETE /operations/*", "operations:write"),
    ("* /apikeys/*", "apikeys:manage"),
)

_CONCRETE_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_METHODS = frozenset({*_CONCRETE_METHODS, "*"})
_PATH = re.compile(r"/[A-Za-z0-9\-._~/*:@!$&'()+,;=%]*")
_CACHE_LIMIT = 10_000
_NO_SUCH_HASH = "0" * 64


class Unauthorized(Exception):
    """One opaque failure for every kind of bad key."""

    def __init__(self, reason: str, key_id: str = "unknown", community: str = "") -> None:
        super().__init__("Unauthorized")
        self.reason = reason
        self.key_id = key_id
        self.community = community


class RouteMapError(ValueError):
    """A route map entry that cannot be understood; the deployment's configuration is wrong."""


# -- route map and policy ------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteRule:
    method: str
    path: str
    permission: str
    pattern: re.Pattern[str]

    @classmethod
    def parse(cls, spec: str, permission: str) -> RouteRule:
        method, _, path = spec.strip().partition(" ")
        method, path = method.upper(), path.strip()
        if method == "ANY":
            method = "*"
        if method not in _METHODS:
            raise RouteMapError(f"route map: {spec!r}: unknown method {method!r}")
        if not _PATH.fullmatch(path):
            raise RouteMapError(f"route map: {spec!r}: the path must start with / and use no spaces, ? or {{}}")
        if permission not in PERMISSIONS:
            raise RouteMapError(f"route map: {spec!r}: unknown permission {permission!r}")
        body, bare_too = (path[:-2], True) if path.endswith("/*") else (path, False)
        regex = ".*".join(re.escape(part) for part in body.split("*"))
        if bare_too:
            regex += "(?:/.*)?"
        return cls(method, path, permission, re.compile(regex, re.DOTALL))

    def matches(self, method: str, path: str) -> bool:
        # ``*`` means the methods the policy spells out, no more: IAM compares them case-sensitively.
        if self.method != method and (self.method != "*" or method not in _CONCRETE_METHODS):
            return False
        return self.pattern.fullmatch(path) is not None

    def may_overlap(self, other: RouteRule) -> bool:
        """Whether some request could match both rules; may say yes when none can, never no when one can."""
        if self.method != other.method and "*" not in (self.method, other.method):
            return False
        mine, theirs = self.path.split("*", 1)[0].rstrip("/"), other.path.split("*", 1)[0].rstrip("/")
        return mine.startswith(theirs) or theirs.startswith(mine)

    def resources(self, arn_base: str) -> tuple[str, ...]:
        """The execute-api resources this rule covers; IAM's ``*`` matches ``/`` as ours does.

        Any method is spelt out method by method: ``{stage}/*/intelligence`` would also match
        ``GET/playbooks/intelligence``, since IAM's ``*`` does not stop at a slash.
        """
        path = self.path.lstrip("/")
        paths = (path[:-2], path) if path.endswith("/*") else (path,)
        methods = _CONCRETE_METHODS if self.method == "*" else (self.method,)
        return tuple(f"{arn_base}/{method}/{each}" for method in methods for each in paths)


class RouteMap:
    """Routes → permissions, and the IAM policy listing every route a set of permissions may call.

    The policy holds at most two statements: Allow the rules granted, and Deny the rules not
    granted that could cover a route an allowed rule covers (the others are denied anyway,
    implicitly). At most two resources per rule and method, whatever the key holds: the size is
    bounded by the map, never by the number of routes or grants. An explicit Deny wins in IAM, which gives
    the same answer as ``allows``: a route needs every matching rule's permission.
    """

    def __init__(self, rules: Sequence[RouteRule]) -> None:
        if not rules:
            raise RouteMapError("route map: empty")
        self.rules = tuple(rules)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> RouteMap:
        return cls([RouteRule.parse(spec, permission) for spec, permission in pairs])

    def allows(self, permissions: frozenset[str], method: str, path: str) -> tuple[bool, str]:
        if is_unsafe_path(path):
            return False, "unsafe path"
        matched = False
        for rule in self.rules:
            if rule.matches(method, path):
                matched = True
                if rule.permission not in permissions:
                    return False, f"lacks {rule.permission}"
        return (True, "ok") if matched else (False, "unmapped route")

    def policy(self, permissions: frozenset[str], arn_base: str) -> dict[str, Any]:
        granted = [rule for rule in self.rules if rule.permission in permissions]
        refused = [rule for rule in self.rules if rule.permission not in permissions]
        allowed = dict.fromkeys(resource for rule in granted for resource in rule.resources(arn_base))
        denied = dict.fromkeys(
            resource
            for rule in refused
            if any(rule.may_overlap(other) for other in granted)
            for resource in rule.resources(arn_base)
        )
        if allowed:
            # What a backend might normalise into another area is denied in the policy too, so
            # an answer API Gateway caches for one route cannot let such a path through later.
            denied.update(dict.fromkeys(unsafe_path_resources(arn_base)))
        statements = []
        if allowed:
            statements.append({"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": list(allowed)})
        if denied:
            statements.append({"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": list(denied)})
        if not statements:
            # A key that may call none of the mapped routes; API Gateway wants one statement at least.
            statements.append({"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [f"{arn_base}/*"]})
        return {"Version": "2012-10-17", "Statement": statements}


# -- the core --------------------------------------------------------------------------------------


@dataclass
class _Cached:
    key: KeyRecord
    until: float


@dataclass(frozen=True)
class Decision:
    """A verified key and whether it may call the route asked about (always, when none was)."""

    caller: Caller
    allowed: bool
    reason: str

    def context(self) -> dict[str, str]:
        """What the gateway hands the integration: strings only, never the secret or the hash."""
        caller = self.caller
        return {
            "key_id": caller.key_id,
            "community": caller.community,
            "roles": ",".join(caller.roles),
            "permissions": ",".join(sorted(caller.permissions)),
        }


class Verifier:
    def __init__(
        self,
        lookup: Callable[[str], KeyRecord | None],
        *,
        key_prefix: str,
        peppers: tuple[key_format.Pepper, ...],
        catalog: Callable[[str], Mapping[str, Role]],
        clock: Callable[[], datetime],
        touch: Callable[[str, datetime], None] | None = None,
        last_used_interval_seconds: float = 60.0,
        cache_ttl_seconds: float = 0.0,
        route_map: RouteMap | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        roles_held: Callable[[str, Sequence[str]], Mapping[str, Role]] | None = None,
    ) -> None:
        self.lookup = lookup
        # The roles a key holds, read by name: a custom-role source reads only those.
        self.roles_held = roles_held or (lambda community, _names: catalog(community))
        self.key_prefix = key_prefix
        self.peppers = peppers
        self.catalog = catalog
        self.clock = clock
        self.touch = touch
        self.last_used_interval_seconds = last_used_interval_seconds
        self.cache_ttl_seconds = cache_ttl_seconds
        self.route_map = route_map or RouteMap.from_pairs(DEFAULT_ROUTE_MAP)
        self.monotonic = monotonic
        self._cache: dict[str, _Cached] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()

    def authorize(
        self,
        token: str | None,
        *,
        face: str,
        method: str | None = None,
        path: str = "",
        started: float | None = None,
    ) -> Decision:
        """Verify ``token`` and, when a route is given, decide it; log one line either way.

        Raises ``Unauthorized`` for every bad key and for any internal error (fail closed).
        """
        started = time.perf_counter() if started is None else started
        route = f"{method} {path}" if method is not None else ""
        try:
            caller = self.verify(token)
            if method is None:
                allowed, reason = True, "ok"
            else:
                allowed, reason = self.route_map.allows(caller.permissions, method, path)
        except Unauthorized as refusal:
            log_decision(
                outcome="unauthorized", reason=refusal.reason, key_id=refusal.key_id,
                community=refusal.community, started=started, face=face, route=route,
            )  # fmt: skip
            raise
        except Exception as error:  # noqa: BLE001 - any internal error fails closed
            reason = f"error:{type(error).__name__}"
            log_decision(
                outcome="unauthorized", reason=reason, key_id="unknown", community="",
                started=started, face=face, route=route,
            )  # fmt: skip
            raise Unauthorized(reason) from None
        log_decision(
            outcome="allow" if allowed else "deny", reason=reason, key_id=caller.key_id,
            community=caller.community, started=started, face=face, route=route,
        )  # fmt: skip
        return Decision(caller, allowed, reason)

    def verify(self, token: str | None) -> Caller:
        token = bearer_token(token)
        if not token:
            raise Unauthorized("missing")
        try:
            parsed = key_format.parse(token, self.key_prefix)
        except key_format.InvalidKey:
            raise Unauthorized("malformed") from None
        key = self._record(parsed.key_id)
        if key is None:
            # The same HMAC a known id costs, against a hash nothing matches, so an unknown id
            # is not told apart by answering sooner.
            key_format.verify(parsed.plaintext, _NO_SUCH_HASH, self.peppers[0].id, self.peppers)
            raise Unauthorized("unknown", parsed.key_id)
        if not key_format.verify(parsed.plaintext, key.key_hash, key.pepper_id, self.peppers):
            raise Unauthorized("hash mismatch", parsed.key_id, key.community)
        now = self.clock()
        if key.status != ACTIVE:
            raise Unauthorized(key.status, key.key_id, key.community)
        if key.expires_at is not None and key.expires_at <= now:
            raise Unauthorized("expired", key.key_id, key.community)
        if key.grace_until is not None and key.grace_until <= now:
            raise Unauthorized("rotated", key.key_id, key.community)
        self._record_use(key, now)
        held = self.roles_held(key.community, key.roles)
        permissions = frozenset(p for name in key.roles if name in held for p in held[name].permissions)
        return Caller(key.key_id, key.community, tuple(key.roles), permissions, key.gateway_key_value)

    def forget(self, key_id: str) -> None:
        """Drop a cached key at once (called on revoke in this container)."""
        with self._lock:
            self._cache.pop(key_id, None)

    def _record(self, key_id: str) -> KeyRecord | None:
        if self.cache_ttl_seconds <= 0:
            return self.lookup(key_id)
        moment = self.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and cached.until > moment:
            return cached.key
        key = self.lookup(key_id)
        if key is not None:
            with self._lock:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key_id] = _Cached(key, moment + self.cache_ttl_seconds)
        return key

    def _record_use(self, key: KeyRecord, now: datetime) -> None:
        if self.touch is None:
            return
        interval = self.last_used_interval_seconds
        if key.last_used_at is not None and (now - key.last_used_at).total_seconds() < interval:
            return
        moment = self.monotonic()
        if self._touched.get(key.key_id, float("-inf")) + interval > moment:
            return
        if len(self._touched) >= _CACHE_LIMIT:
            self._touched.clear()
        self._touched[key.key_id] = moment
        try:
            self.touch(key.key_id, now)
        except Exception as error:  # noqa: BLE001 - a failed bookkeeping write never denies a valid key
            log.warning("last_used_at not recorded for %s: %s", key.key_id, type(error).__name__)


def log_decision(
    *, outcome: str, reason: str, key_id: str, community: str, started: float, face: str, route: str = ""
) -> None:
    """One JSON line per decision, carrying its metrics: never the key, never the hash (neither is passed here)."""
    if not log.isEnabledFor(logging.INFO):
        return
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    # The line is also the decision's EMF document (chalicelib/metrics.py): metrics, no API call.
    logs.decision(
        metrics.decision_line(
            face=face, outcome=outcome, reason=reason, key_id=key_id, community=community, route=route,
            latency_ms=latency_ms,
        )
    )  # fmt: skip


# -- the gateway face: API Gateway events in, authorizer responses out -----------------------------

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
        if http_api_response != SIMPLE:
            arn = MethodArn.parse(event.get("routeArn"))
            return GatewayRequest("http", token, arn.method, arn.path, arn)
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
        return GatewayRequest("http", token, method, path, route_arn)
    # REST TOKEN and REQUEST, and HTTP API payload 1.0: API Gateway checks the policy against
    # the method ARN, so the route decided is the one the ARN names.
    arn = MethodArn.parse(event.get("methodArn"))
    if event.get("type") == "TOKEN":
        token = bearer_token(event.get("authorizationToken"))
    elif event.get("version") == "1.0" and event.get("identitySource"):
        token = identity_source_token(event.get("identitySource"), key_prefix)
    else:
        token = bearer_token(_rest_request_token(event))
    return GatewayRequest("rest", token, arn.method, arn.path, arn)


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
            request.token, face="gateway", method=request.method, path=request.path, started=started
        )
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
