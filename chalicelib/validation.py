"""Parse and check request input. Every failure names its field; nothing here writes.

Written by hand rather than with a schema library: the rules are few, the messages must name
the field in our words, and the authorizer's Lambda should not import a validator it never uses.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.errors import ValidationError

NAME_MAX = 100
DESCRIPTION_MAX = 1000
SEARCH_MAX = 100
LIMIT_DEFAULT = 20
LIMIT_MAX = 100
EXPIRY_PRESETS_DAYS = (30, 180, 365)
IDEMPOTENCY_KEY_MAX = 255
LIST_STATUSES = ("active", "revoked", "expired", "all")

# A community name as the routes take it in their path (OpenAPI documents this pattern) and as
# the operator CLI accepts it: a name outside it could never be reached through the API.
COMMUNITY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

CREATE_FIELDS = frozenset({"name", "description", "roles", "expires_at", "expires_in_days", "vault", "reveal", "plan"})
# ``plan`` is checked against the deployment's usage plans by the service (chalicelib.usage_plans).
EDIT_FIELDS = frozenset({"name", "description", "roles", "plan"})
REVOKE_FIELDS = frozenset({"reason"})
LIST_PARAMS = frozenset({"search", "status", "limit", "cursor"})
# Every body this API takes is a flat object of short fields, a few levels deep at most (a
# vault object, a list of roles): these bounds are far above any valid body and far below what
# would make the parser recurse or allocate without limit.
BODY_MAX_BYTES = 64 * 1024
BODY_MAX_DEPTH = 32
# An unterminated string runs to the end (the closing quote is optional), so no input makes the
# scan backtrack: one pass, whatever the quotes and backslashes.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


@dataclass(frozen=True)
class CreateRequest:
    name: str
    description: str
    roles: tuple[str, ...]
    expires_at: datetime | None
    vault_target: str | None
    vault_path: str | None
    reveal: bool
    plan: str | None = None


@dataclass(frozen=True)
class ListRequest:
    search: str
    status: str
    limit: int
    cursor: str | None


def parse_json(raw: bytes | str, *, max_bytes: int = BODY_MAX_BYTES, max_depth: int = BODY_MAX_DEPTH) -> Any:
    """JSON text → value, refusing (400 naming ``body``) what is too large or nested too deeply
    before the parser sees it: Python's parser recurses once per level, and a few thousand
    ``[`` raise RecursionError, not ValueError."""
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > max_bytes:
        raise ValidationError("body", f"must be at most {max_bytes} bytes")
    if json_depth(data) > max_depth:
        raise ValidationError("body", f"must not nest arrays and objects more than {max_depth} levels deep")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationError("body", "not valid JSON") from None


def json_depth(data: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in JSON text, brackets inside strings not counted.
    Linear, no recursion; on text that is not JSON the figure is a bound the parser then refuses."""
    depth = deepest = 0
    for bracket in _JSON_STRING.sub(b'""', data).translate(None, _NOT_BRACKET):
        if bracket in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _has_control(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Cf", "Cs") for char in text)


def community(value: str) -> str:
    if not COMMUNITY_PATTERN.fullmatch(value):
        raise ValidationError("community", "must be 1-64 characters: letters, digits, '-' or '_'")
    return value


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationError("body", "must be a JSON object")
    return body


def reject_unknown(body: Mapping[str, Any], allowed: frozenset[str], where: str = "body") -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationError(unknown[0], f"unknown field in {where}; allowed: {', '.join(sorted(allowed))}")


def text(body: Mapping[str, Any], field: str, *, max_length: int, required: bool) -> str:
    if required and field not in body:
        raise ValidationError(field, "is required")
    value = body.get(field, None if required else "")
    if value is None and not required:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    if _has_control(value):
        raise ValidationError(field, "must not contain control characters")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    if required and not value.strip():
        raise ValidationError(field, "must not be empty")
    return value.strip() if required else value


def names(
    body: Mapping[str, Any], field: str, known: Mapping[str, Any], noun: str, *, list_known: bool = False
) -> tuple[str, ...]:
    """A non-empty list of distinct names, each one of ``known``."""
    value = body.get(field)
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValidationError(field, f"must be a list of {noun} names")
    if not value:
        raise ValidationError(field, f"must name at least one {noun}")
    if len(set(value)) != len(value):
        raise ValidationError(field, f"must not repeat a {noun}")
    unknown = [name for name in value if name not in known]
    if unknown:
        suffix = f"; known: {', '.join(known)}" if list_known else ""
        raise ValidationError(field, f"unknown {noun} {unknown[0]!r}{suffix}")
    return tuple(value)


def roles(body: Mapping[str, Any], known: Mapping[str, Any]) -> tuple[str, ...]:
    return names(body, "roles", known, "role")


def expiry(body: Mapping[str, Any], now: datetime, max_days: int) -> datetime | None:
    has_at = body.get("expires_at") is not None
    has_days = body.get("expires_in_days") is not None
    if has_at and has_days:
        raise ValidationError("expires_at", "give expires_at or expires_in_days, not both")
    if has_days:
        days = body["expires_in_days"]
        if isinstance(days, bool) or days not in EXPIRY_PRESETS_DAYS or days > max_days:
            allowed = ", ".join(str(d) for d in EXPIRY_PRESETS_DAYS if d <= max_days)
            raise ValidationError("expires_in_days", f"must be one of {allowed}")
        return now + timedelta(days=days)
    if not has_at:
        return None
    raw = body["expires_at"]
    if not isinstance(raw, str):
        raise ValidationError("expires_at", "must be an ISO 8601 date-time string")
    try:
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # OverflowError: an offset that pushes year 1 or 9999 out of range in UTC.
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise ValidationError("expires_at", "must be an ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z") from error
    if moment <= now:
        raise ValidationError("expires_at", "must be in the future")
    if moment > now + timedelta(days=max_days):
        raise ValidationError("expires_at", f"must be at most {max_days} days from now")
    return moment


def vault_choice(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    value = body.get("vault")
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise ValidationError("vault", "must be an object with target and optional path")
    reject_unknown(value, frozenset({"target", "path"}), where="vault")
    target = value.get("target")
    if not isinstance(target, str) or not target:
        raise ValidationError("vault.target", "must name a vault target")
    path = value.get("path")
    if path is not None and (not isinstance(path, str) or not path):
        raise ValidationError("vault.path", "must be a non-empty string")
    return target, path


def create_request(body: Any, *, known_roles: Mapping[str, Any], now: datetime, max_days: int) -> CreateRequest:
    body = require_object(body)
    reject_unknown(body, CREATE_FIELDS)
    reveal = body.get("reveal", True)
    if not isinstance(reveal, bool):
        raise ValidationError("reveal", "must be true or false")
    target, path = vault_choice(body)
    if not reveal and target is None:
        raise ValidationError("reveal", "false needs a vault: the secret would be lost")
    return CreateRequest(
        name=text(body, "name", max_length=NAME_MAX, required=True),
        description=text(body, "description", max_length=DESCRIPTION_MAX, required=False),
        roles=roles(body, known_roles),
        expires_at=expiry(body, now, max_days),
        vault_target=target,
        vault_path=path,
        reveal=reveal,
    )


def edit_request(body: Any, *, known_roles: Mapping[str, Any]) -> dict[str, Any]:
    body = require_object(body)
    reject_unknown(body, EDIT_FIELDS)
    if not body:
        raise ValidationError("body", "name, description, roles or plan must be given")
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = text(body, "name", max_length=NAME_MAX, required=True)
    if "description" in body:
        changes["description"] = text(body, "description", max_length=DESCRIPTION_MAX, required=False)
    if "roles" in body:
        changes["roles"] = list(roles(body, known_roles))
    return changes


def revoke_request(body: Any) -> str | None:
    if body is None:
        return None
    body = require_object(body)
    reject_unknown(body, REVOKE_FIELDS)
    if body.get("reason") is None:
        return None
    return text(body, "reason", max_length=DESCRIPTION_MAX, required=True)


def list_request(params: Mapping[str, str] | None) -> ListRequest:
    params = params or {}
    reject_unknown(params, LIST_PARAMS, where="query string")
    search = text(params, "search", max_length=SEARCH_MAX, required=False).strip()
    status = params.get("status", "all")
    if status not in LIST_STATUSES:
        raise ValidationError("status", f"must be one of {', '.join(LIST_STATUSES)}")
    raw_limit = params.get("limit", str(LIMIT_DEFAULT))
    if not raw_limit.isascii() or not raw_limit.isdigit():
        raise ValidationError("limit", f"must be a whole number from 1 to {LIMIT_MAX}")
    limit = int(raw_limit)
    if not 1 <= limit <= LIMIT_MAX:
        raise ValidationError("limit", f"must be a whole number from 1 to {LIMIT_MAX}")
    cursor = params.get("cursor") or None
    return ListRequest(search=search, status=status, limit=limit, cursor=cursor)


def idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > IDEMPOTENCY_KEY_MAX or not value.isascii() or not value.isprintable():
        raise ValidationError("Idempotency-Key", f"must be 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters")
    return value
