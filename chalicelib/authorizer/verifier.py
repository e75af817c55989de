"""The verification core every authorizer face shares: a key in, a ``Decision`` out.

Order: format and checksum (no I/O) → one strongly consistent GetItem by key id → hash,
status, expiry → permissions for the called route → decision. Every refusal of a key is the
same ``Unauthorized``; the reason goes to the decision log only. Any unexpected error fails
closed, as an ``Unauthorized`` too.

Two faces call ``Verifier.authorize``: the Chalice authorizer guarding this app
(``routes/auth.py``) and the standalone Lambda for other APIs behind API Gateway
(``routes/gateway.py`` → ``gateway.handle_gateway_event``). The route map it decides routes
with, and the IAM policy it answers with, are in ``policy.py``.

People: when the app's face asks (``people=True``) and an identity provider is configured, a
bearer value that is not an API key is handed to ``people`` (``tokens.TokenVerifier.verify``,
whose module is imported only then). The groups of a verified person name their grants,
``<community>:<role>``, resolved per community by the same role source as a key's roles.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chalicelib import logs, metrics
from chalicelib.authorizer.execute_api import bearer_token
from chalicelib.authorizer.policy import DEFAULT_ROUTE_MAP, RouteMap
from chalicelib.keys import format as key_format
from chalicelib.keys.records import ACTIVE, KeyRecord
from chalicelib.roles.caller import Caller, Grant
from chalicelib.roles.catalog import Role

log = logging.getLogger(logs.DECISIONS)

_CACHE_LIMIT = 10_000
_NO_SUCH_HASH = "0" * 64


class Unauthorized(Exception):
    """One opaque failure for every kind of bad key."""

    def __init__(self, reason: str, key_id: str = "unknown", community: str = "") -> None:
        super().__init__("Unauthorized")
        self.reason = reason
        self.key_id = key_id
        self.community = community


class Person(Protocol):
    """A person a verified token names (``tokens.Person``)."""

    @property
    def sub(self) -> str: ...

    @property
    def name(self) -> str: ...

    def grants(self) -> Mapping[str, tuple[str, ...]]: ...


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
        """What the gateway hands the integration: strings only, never the secret, the hash or the token.
        A person's grants, every community's, go as one JSON string: the route picks its community."""
        caller = self.caller
        if caller.person is not None:
            grants = [[g.community, list(g.roles), sorted(g.permissions)] for g in caller.grants]
            return {"person": caller.person, "name": caller.name, "grants": json.dumps(grants, separators=(",", ":"))}
        context = {
            "key_id": caller.key_id,
            "community": caller.community,
            "roles": ",".join(caller.roles),
            "permissions": ",".join(sorted(caller.permissions)),
        }
        if caller.allowed_cidrs:  # a restricted key only: the app's routes check the address with it
            context["allowed_cidrs"] = ",".join(caller.allowed_cidrs)
        return context


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
        people: Callable[[str], Person] | None = None,
    ) -> None:
        self.lookup = lookup
        # The roles a key holds, read by name: a custom-role source reads only those.
        self.roles_held = roles_held or (lambda community, _names: catalog(community))
        self.key_prefix = key_prefix
        # A person's token: whatever does not start as this deployment's keys do.
        self.people = people
        self._key_start = f"{key_prefix}_"
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
        source_ip: str | None = None,
        check_address: bool = True,
        people: bool = False,
    ) -> Decision:
        """Verify ``token`` and, when a route is given, decide it; log one line either way.
        ``people``: a person's token is accepted too (the app's face only).

        ``source_ip`` is the address API Gateway reported (``None``: the event has none, as in a
        TOKEN event); a key restricted to networks is refused from anywhere else. Only a face that
        checks the address itself, later, passes ``check_address=False`` (this app's authorizer:
        its routes check it, ``routes/common.py``).

        Raises ``Unauthorized`` for every bad key or token and for any internal error (fail closed).
        """
        started = time.perf_counter() if started is None else started
        route = f"{method} {path}" if method is not None else ""
        try:
            caller = self.verify(token, source_ip=source_ip, check_address=check_address, people=people)
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
            outcome="allow" if allowed else "deny", reason=reason, key_id=caller.principal,
            community=caller.community, started=started, face=face, route=route,
        )  # fmt: skip
        return Decision(caller, allowed, reason)

    def verify(
        self, token: str | None, *, source_ip: str | None = None, check_address: bool = True, people: bool = False
    ) -> Caller:
        token = bearer_token(token)
        if not token:
            raise Unauthorized("missing")
        if people and self.people is not None and not token.startswith(self._key_start):
            return self._person(token)
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
        if key.allowed_cidrs and check_address:
            from chalicelib.authorizer import addresses  # ipaddress: loaded for restricted keys only

            if not addresses.allows(key.allowed_cidrs, source_ip):
                reason = "no source address" if source_ip is None else "address not allowed"
                raise Unauthorized(reason, key.key_id, key.community)
        self._record_use(key, now)
        held = self.roles_held(key.community, key.roles)
        permissions = frozenset(p for name in key.roles if name in held for p in held[name].permissions)
        return Caller(
            key.key_id, key.community, tuple(key.roles), permissions, key.gateway_key_value, tuple(key.allowed_cidrs)
        )

    def _person(self, token: str) -> Caller:
        assert self.people is not None
        person = self.people(token)  # Unauthorized (tokens.InvalidToken) for every bad token
        grants = []
        for community, names in person.grants().items():
            held = self.roles_held(community, names)
            roles = tuple(name for name in names if name in held)
            if roles:
                permissions = frozenset(p for name in roles for p in held[name].permissions)
                grants.append(Grant(community, roles, permissions))
        return Caller.signed_in(person.sub, person.name, tuple(grants))

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
            latency_ms=latency_ms, request_id=logs.request_id(),
        )
    )  # fmt: skip
