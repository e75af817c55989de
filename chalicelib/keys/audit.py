"""The audit trail, read: a key's events and a community's, newest first, with signed cursors.

Events are written by the service in the same transaction as the change they record; they
hold non-secret fields only (names, roles, expiry, vault location without its token). The
reader still drops any field named like a secret, so a careless writer cannot leak one here.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from chalicelib import params as query_params
from chalicelib.errors import ValidationError
from chalicelib.keys.service import KeyService
from chalicelib.roles.caller import Caller
from chalicelib.trail import Event

PARAMS = frozenset({"limit", "cursor"})
_SECRET_FIELDS = frozenset({"secret", "plaintext", "key_hash", "hash", "pepper_id", "token"})


class AuditTrail:
    def __init__(self, service: KeyService) -> None:
        self.service = service
        # The service's cursor pattern: every pepper verifies, the newest signs; its own salt,
        # so a key-listing cursor is never an events cursor.
        cursor_keys = [hmac.new(p.value, b"events-cursor", hashlib.sha256).digest() for p in reversed(service.peppers)]
        self._cursors = URLSafeSerializer(cursor_keys, salt="apikeys.events")

    def key_events(
        self, caller: Caller, community: str, key_id: str, params: Mapping[str, str] | None
    ) -> dict[str, Any]:
        self.service.get(caller, community, key_id)  # 404 unless the key is this caller's community's
        return self._page(community, key_id, params)

    def community_events(self, caller: Caller, community: str, params: Mapping[str, str] | None) -> dict[str, Any]:
        self.service.authorize_manage(caller, community)
        return self._page(community, None, params)

    def _page(self, community: str, key_id: str | None, params: Mapping[str, str] | None) -> dict[str, Any]:
        limit, cursor = _params(params)
        after = self._read_cursor(cursor, community, key_id)
        events, last = self.service.store.list_events(community, key_id, limit, after)
        next_cursor = self._cursors.dumps({"c": community, "k": key_id or "", "e": last}) if last else None
        return {"items": [view(event) for event in events], "next_cursor": next_cursor}

    def _read_cursor(self, cursor: str | None, community: str, key_id: str | None) -> str | None:
        if cursor is None:
            return None
        try:
            data = self._cursors.loads(cursor)
            if (data["c"], data["k"]) != (community, key_id or ""):
                raise ValueError("cursor for another listing")
            return str(data["e"])
        except (BadSignature, KeyError, TypeError, ValueError) as error:
            raise ValidationError("cursor", "is not a cursor of this listing") from error


def view(event: Event) -> dict[str, Any]:
    shown = event.view()
    shown["details"] = _scrub(shown["details"])
    return shown


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if str(k).lower() not in _SECRET_FIELDS}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def _params(params: Mapping[str, str] | None) -> tuple[int, str | None]:
    params = params or {}
    query_params.reject_unknown(params, PARAMS)
    return query_params.page_limit(params), params.get("cursor") or None
