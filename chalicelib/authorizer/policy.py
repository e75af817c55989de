"""The route map of other APIs (route → permission) and the IAM policy an answer carries.

A route needs the permission of every rule that matches it; the policy API Gateway caches for a
key allows every mapped route the key may call and denies the mapped ones it may not, so one
cached answer is right for every route.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.authorizer.execute_api import is_unsafe_path, unsafe_path_resources
from chalicelib.roles.catalog import PERMISSIONS


class RouteMapError(ValueError):
    """A route map entry that cannot be understood; the deployment's configuration is wrong."""


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
