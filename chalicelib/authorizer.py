"""The verification core every authorizer face shares.

Order: format and checksum (no I/O) → one strongly consistent GetItem by key id →
hash, status, expiry → the caller. Every refusal is the same ``Unauthorized``; the reason
goes to the decision log only. Any unexpected error fails closed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Mapping, Optional

from chalicelib import keys
from chalicelib.domain import ACTIVE, KeyRecord
from chalicelib.roles import Role
from chalicelib.service import Caller

log = logging.getLogger("apikeys.authorizer")


class Unauthorized(Exception):
    """One opaque failure for every kind of bad key."""

    def __init__(self, reason: str, key_id: str = "unknown", community: str = "") -> None:
        super().__init__("Unauthorized")
        self.reason = reason
        self.key_id = key_id
        self.community = community


@dataclass
class _Cached:
    key: KeyRecord
    until: float


class Verifier:
    def __init__(
        self,
        lookup: Callable[[str], Optional[KeyRecord]],
        *,
        key_prefix: str,
        peppers: tuple[keys.Pepper, ...],
        catalog: Callable[[str], Mapping[str, Role]],
        clock: Callable[[], datetime],
        touch: Optional[Callable[[str, datetime], None]] = None,
        last_used_interval_seconds: float = 60.0,
        cache_ttl_seconds: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lookup = lookup
        self.key_prefix = key_prefix
        self.peppers = peppers
        self.catalog = catalog
        self.clock = clock
        self.touch = touch
        self.last_used_interval_seconds = last_used_interval_seconds
        self.cache_ttl_seconds = cache_ttl_seconds
        self.monotonic = monotonic
        self._cache: dict[str, _Cached] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, token: Optional[str]) -> Caller:
        if not token:
            raise Unauthorized("missing")
        if token.startswith("Bearer "):
            token = token[7:]
        try:
            parsed = keys.parse(token, self.key_prefix)
        except keys.InvalidKey:
            raise Unauthorized("malformed") from None
        key = self._record(parsed.key_id)
        if key is None:
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
        catalog = self.catalog(key.community)
        permissions = frozenset(p for name in key.roles if name in catalog for p in catalog[name].permissions)
        return Caller(key.key_id, key.community, tuple(key.roles), permissions)

    def forget(self, key_id: str) -> None:
        """Drop a cached key at once (called on revoke in this container)."""
        with self._lock:
            self._cache.pop(key_id, None)

    def _record(self, key_id: str) -> Optional[KeyRecord]:
        if self.cache_ttl_seconds <= 0:
            return self.lookup(key_id)
        moment = self.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and cached.until > moment:
            return cached.key
        key = self.lookup(key_id)
        if key is not None:
            with self._lock:
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
        self._touched[key.key_id] = moment
        try:
            self.touch(key.key_id, now)
        except Exception:  # noqa: BLE001 - a failed bookkeeping write never denies a valid key
            log.debug("last_used_at not recorded for %s", key.key_id)


def log_decision(
    *, outcome: str, reason: str, key_id: str, community: str, started: float, face: str, route: str = ""
) -> None:
    log.info(
        json.dumps(
            {
                "event": "authorizer.decision",
                "face": face,
                "outcome": outcome,
                "reason": reason,
                "key_id": key_id or "unknown",
                "community": community,
                "route": route,
                "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            },
            separators=(",", ":"),
        )
    )
