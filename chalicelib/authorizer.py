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

from chalicelib import keys, logs
from chalicelib.domain import ACTIVE, KeyRecord
from chalicelib.roles import PERMISSIONS, Role
from chalicelib.service import Caller

log = logging.getLogger(logs.DECISIONS)
_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]

# Other APIs' routes → the permission each needs. ``METHOD /path``; ``*`` as method means any,
# a ``*`` in a path matches anything (slashes too, as in IAM), and a trailing ``/*`` also
# matches the bare path. A route needs the permission of every rule that matches it; a route
# no rule matches is refused (403).
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
        return (self.method == "*" or self.method == method) and self.pattern.fullmatch(path) is not None

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
        peppers: tuple[keys.Pepper, ...],
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
        if token and token.startswith("Bearer "):
            token = token[7:].strip()
        if not token:
            raise Unauthorized("missing")
        try:
            parsed = keys.parse(token, self.key_prefix)
        except keys.InvalidKey:
            raise Unauthorized("malformed") from None
        key = self._record(parsed.key_id)
        if key is None:
            # The same HMAC a known id costs, against a hash nothing matches, so an unknown id
            # is not told apart by answering sooner.
            keys.verify(parsed.plaintext, _NO_SUCH_HASH, self.peppers[0].id, self.peppers)
            raise Unauthorized("unknown", parsed.key_id)
        if not keys.verify(parsed.plaintext, key.key_hash, key.pepper_id, self.peppers):
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
        return Caller(key.key_id, key.community, tuple(key.roles), permissions)

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
    """One JSON line per decision: never the key, never the hash (neither is ever passed here)."""
    if not log.isEnabledFor(logging.INFO):
        return
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    # Built by hand: this line is written on every decision, malformed ones included, and
    # json.dumps of a dict costs more than the rest of a rejection. Every value is escaped.
    logs.decision(
        f'{{"event":"authorizer.decision","face":{_quote(face)},"outcome":{_quote(outcome)},'
        f'"reason":{_quote(reason)},"key_id":{_quote(key_id or "unknown")},"community":{_quote(community)},'
        f'"route":{_quote(route[:200])},"latency_ms":{latency_ms!r}}}'
    )


# -- the gateway face: API Gateway events in, authorizer responses out -----------------------------

SIMPLE = "simple"
POLICY = "policy"


@dataclass(frozen=True)
class GatewayRequest:
    """What an authorizer event asks: which token, for which route, of which API and stage."""

    kind: str  # "rest" (REST TOKEN/REQUEST, HTTP API payload 1.0) or "http" (HTTP API payload 2.0)
    token: str | None
    method: str
    path: str
    arn_base: str  # arn:aws:execute-api:region:account:api-id/stage


def _split_arn(arn: str) -> tuple[str, str, str]:
    """``arn:aws:execute-api:r:a:api/stage/METHOD/path`` → (``arn:...:api/stage``, METHOD, /path)."""
    head, _, resource = arn.rpartition(":")
    parts = resource.split("/", 3)
    if not head.startswith("arn:") or len(parts) < 3:
        raise ValueError("not an execute-api ARN")
    api_id, stage, method = parts[0], parts[1], parts[2]
    path = "/" + (parts[3] if len(parts) > 3 else "")
    return f"{head}:{api_id}/{stage}", method.upper(), path


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name) or headers.get(name.lower())
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == name.lower():
                return str(candidate)
        return None
    return str(value)


def parse_event(event: Mapping[str, Any]) -> GatewayRequest:
    if event.get("version") == "2.0":
        arn_base, arn_method, _ = _split_arn(event["routeArn"])
        http = (event.get("requestContext") or {}).get("http") or {}
        method = str(http.get("method") or arn_method).upper()
        path = str(event.get("rawPath") or http.get("path") or "/")
        # On a named stage the raw path starts with the stage; routes are mapped without it.
        stage = arn_base.rpartition("/")[2]
        if stage != "$default" and path.startswith(f"/{stage}/"):
            path = path[len(stage) + 1 :]
        token = _header(event.get("headers"), "Authorization")
        if token is None and event.get("identitySource"):
            token = str(event["identitySource"][0])
        return GatewayRequest("http", token, method, path, arn_base)
    # REST TOKEN and REQUEST, and HTTP API payload 1.0: API Gateway checks the policy against
    # the method ARN, so the route decided is the one the ARN names.
    arn_base, method, path = _split_arn(event["methodArn"])
    if event.get("type") == "TOKEN":
        token = event.get("authorizationToken")
    else:
        token = _header(event.get("headers"), "Authorization")
    return GatewayRequest("rest", token, method, path, arn_base)


def gateway_refusal(error: BaseException, started: float) -> Exception:
    """Log a gateway decision that failed before any key was read; API Gateway's 401 to raise."""
    log_decision(
        outcome="unauthorized", reason=f"error:{type(error).__name__}", key_id="unknown", community="",
        started=started, face="gateway",
    )  # fmt: skip
    return Exception("Unauthorized")  # API Gateway's 401 contract


def handle_gateway_event(verifier: Verifier, event: Mapping[str, Any], *, http_api_response: str = SIMPLE) -> Any:
    """Answer one API Gateway authorizer event.

    REST (and the IAM form of HTTP API): a policy allowing every route the key may call and
    denying the mapped ones it may not, so a cached answer is right for every route; a bad
    key raises ``Exception("Unauthorized")``, which API Gateway turns into 401. HTTP API
    simple form: ``{"isAuthorized": ..., "context": ...}``.
    """
    started = time.perf_counter()
    try:
        request = parse_event(event)
    except Exception as error:  # noqa: BLE001 - an event we cannot read fails closed
        raise gateway_refusal(error, started) from None
    simple = request.kind == "http" and http_api_response == SIMPLE
    try:
        decision = verifier.authorize(
            request.token, face="gateway", method=request.method, path=request.path, started=started
        )
    except Unauthorized:
        if simple:
            return {"isAuthorized": False}
        raise Exception("Unauthorized") from None  # noqa: TRY002 - API Gateway's 401 contract
    if simple:
        return {"isAuthorized": decision.allowed, "context": decision.context()}
    return {
        "principalId": decision.caller.key_id,
        "policyDocument": verifier.route_map.policy(decision.caller.permissions, request.arn_base),
        "context": decision.context(),
    }
