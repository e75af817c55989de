"""An HTTP API in front of the standalone authorizer, modelled as API Gateway runs it: a request
is matched to a route key, the authorizer's answer is cached under the values of the identity
sources (for the TTL; none at 0), and a cached answer is applied as API Gateway applies it: a
simple answer allows or denies every request with the same identity-source values, a policy is
matched against each request's own route ARN.

It judges the deployment advice: caching simple answers with ``$context.routeKey`` among the
identity sources lets a cached ``GET`` through for ``DELETE`` when all methods share a route key
(``ANY /{proxy+}``, ``$default``), and a cached answer for one path through for a dot-segment
path of the same route key; a TTL of 0, or the policy answer form, answers every request as the
authorizer would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.authorizer.gateway import POLICY, SIMPLE, handle_gateway_event
from tests.iam import iam_allows
from tests.unit.test_gateway_events import CHECK, KEYS, ROUTES, arn_of, http_v2, permissions

AUTHORIZATION = "$request.header.Authorization"
ROUTE_KEY = "$context.routeKey"


def route_matches(route_key: str, method: str, path: str) -> bool:
    """HTTP API route keys: ``$default``, ``ANY`` or one method, a path ending in a greedy
    ``{proxy+}``, ``{name}`` for one segment."""
    if route_key == "$default":
        return True
    route_method, route_path = route_key.split(" ", 1)
    if route_method not in ("ANY", method):
        return False
    pattern, segments = route_path.strip("/").split("/"), path.strip("/").split("/")
    for n, part in enumerate(pattern):
        if part.endswith("+}"):
            return len(segments) > n
        if n >= len(segments) or not (part.startswith("{") or part == segments[n]):
            return False
    return len(segments) == len(pattern)


@dataclass
class HttpApi:
    routes: list[str]  # in API Gateway's order of preference: the first that matches is taken
    identity_sources: list[str]
    ttl: int
    response: str  # APIKEYS_HTTP_API_RESPONSE
    cache: dict[tuple[str, ...], Any] = field(default_factory=dict)
    invocations: int = 0

    def call(self, token: str, method: str, path: str) -> bool:
        """Whether API Gateway lets the request through to the integration."""
        route_key = next((key for key in self.routes if route_matches(key, method, path)), None)
        if route_key is None:
            return False  # no route: API Gateway answers 404 without asking the authorizer
        values = {AUTHORIZATION: f"Bearer {token}", ROUTE_KEY: route_key}
        identity = tuple(values[source] for source in self.identity_sources)
        answer = self.cache.get(identity) if self.ttl > 0 else None
        if answer is None:
            event = http_v2(arn_of("$default", method, path), identity[0], method=method, raw_path=path)
            event.update(identitySource=list(identity), routeKey=route_key)
            event["requestContext"]["routeKey"] = route_key
            answer = handle_gateway_event(CHECK, event, http_api_response=self.response)
            self.invocations += 1
            if self.ttl > 0:
                self.cache[identity] = answer
        if self.response == SIMPLE:
            return bool(answer["isAuthorized"])
        return iam_allows(answer["policyDocument"], arn_of("$default", method, path))


# A read-only key: GET of the Intelligence Center, nothing else.
READER = "ic_viewer"
# What it sends, in this order: an allowed read first, so that its answer is the one cached.
CALLS = [
    ("GET", "/intelligence/reports"),
    ("DELETE", "/intelligence/reports"),
    ("POST", "/intelligence/reports"),
    ("GET", "/playbooks/runs"),
    ("GET", "/intelligence/%2e%2e/apikeys/keys"),
    ("GET", "/intelligence/reports"),
]
# Route shapes: everything on one route key, or one route key per method and area.
CATCH_ALL = ["ANY /{proxy+}"]
DEFAULT_ONLY = ["$default"]
PER_METHOD_AND_AREA = ["GET /intelligence/{proxy+}", "DELETE /intelligence/{proxy+}", "POST /intelligence/{proxy+}",
                       "GET /playbooks/{proxy+}", "$default"]  # fmt: skip
# One method and one fixed path per route key, and no $default (which would share one key again).
FIXED_PATHS = ["GET /intelligence/reports", "DELETE /intelligence/reports", "POST /intelligence/reports",
               "GET /playbooks/runs"]  # fmt: skip


def through(api: HttpApi, role: str = READER) -> list[bool]:
    return [api.call(KEYS[role], method, path) for method, path in CALLS]


def decided(role: str = READER) -> list[bool]:
    """What the authorizer decides for each call on its own, no cache."""
    return [ROUTES.allows(permissions(role), method, path)[0] for method, path in CALLS]


@pytest.mark.parametrize("routes", [CATCH_ALL, DEFAULT_ONLY], ids=["ANY /{proxy+}", "$default"])
def test_the_old_advice_lets_a_cached_get_through_for_delete(routes):
    """Simple answers cached with $context.routeKey: with one route key for every method and
    path, the GET's yes opens DELETE, POST, other areas and a dot-segment path for the TTL."""
    api = HttpApi(routes, [AUTHORIZATION, ROUTE_KEY], ttl=300, response=SIMPLE)
    assert decided() == [True, False, False, False, False, True]
    assert through(api) == [True] * len(CALLS)
    assert api.invocations == 1


def test_the_old_advice_lets_a_cached_read_through_for_a_dot_segment_path_of_its_route_key():
    """Even with one route key per method and area, a greedy path variable carries paths the
    authorizer refuses (dot segments, encoded separators) under an allowed read's route key."""
    api = HttpApi(PER_METHOD_AND_AREA, [AUTHORIZATION, ROUTE_KEY], ttl=300, response=SIMPLE)
    assert through(api) == [True, False, False, False, True, True]
    assert decided()[4] is False


ADVICE = {
    "simple, TTL 0, one route key": HttpApi(CATCH_ALL, [AUTHORIZATION], ttl=0, response=SIMPLE),
    "simple, TTL 0, $default": HttpApi(DEFAULT_ONLY, [AUTHORIZATION, ROUTE_KEY], ttl=0, response=SIMPLE),
    "simple, cached per route key, fixed paths": HttpApi(FIXED_PATHS, [AUTHORIZATION, ROUTE_KEY], ttl=300,
                                                         response=SIMPLE),
    "policy, cached on the key alone, one route key": HttpApi(CATCH_ALL, [AUTHORIZATION], ttl=300, response=POLICY),
    "policy, cached on the key alone, $default": HttpApi(DEFAULT_ONLY, [AUTHORIZATION], ttl=300, response=POLICY),
    "policy, cached on the key alone, per area": HttpApi(PER_METHOD_AND_AREA, [AUTHORIZATION], ttl=300,
                                                         response=POLICY),
}  # fmt: skip


@pytest.mark.parametrize("advice", sorted(ADVICE))
@pytest.mark.parametrize("role", ["ic_viewer", "ic_editor", "playbooks_operator", "community_admin"])
def test_the_advice_answers_every_request_as_the_authorizer_would(advice, role):
    template = ADVICE[advice]
    api = HttpApi(template.routes, template.identity_sources, template.ttl, template.response)
    assert through(api, role) == decided(role)
    if api.ttl > 0 and api.response == POLICY:
        assert api.invocations == 1, "one answer, cached, serves every route"
