"""What a request says besides its body: path and query parameters, headers. Every refusal
names its parameter; the operator CLI checks a community by the same rule as the routes.

Below every subject (the services, the authorizer's community rule and ``api/schemas.py``'s
text rules all read it), and no pydantic here: the authorizers import this module, and their
cold start does not pay for a validator they never use.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.errors import ValidationError

SEARCH_MAX = 100
LIMIT_DEFAULT = 20
LIMIT_MAX = 100
IDEMPOTENCY_KEY_MAX = 255
LIST_STATUSES = ("active", "revoked", "expired", "all")
LIST_PARAMS = frozenset({"search", "status", "limit", "cursor"})

# A community name as the routes take it in their path (OpenAPI documents this pattern) and as
# the operator CLI accepts it: a name outside it could never be reached through the API.
COMMUNITY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Letters that draw nothing: Hangul fillers (choseong, jungseong, the compatibility and halfwidth
# ones) and the blank Braille pattern. A name made only of these and blanks looks empty.
INVISIBLE_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


@dataclass(frozen=True)
class ListRequest:
    search: str
    status: str
    limit: int
    cursor: str | None


def text_problem(value: str, max_length: int, *, trimmed: bool) -> str | None:
    """What is wrong with a text field or parameter, if anything: control and format characters
    and lone surrogates, a length past ``max_length``, and (``trimmed``) nothing but blanks and
    invisible fillers."""
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs") for char in value):
        return "must not contain control characters"
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    if trimmed and all(char.isspace() or char in INVISIBLE_FILLERS for char in value):
        return "must not be empty"
    return None


def community(value: str) -> str:
    if not COMMUNITY_PATTERN.fullmatch(value):
        raise ValidationError("community", "must be 1-64 characters: letters, digits, '-' or '_'")
    return value


def reject_unknown(params: Mapping[str, str], allowed: frozenset[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValidationError(unknown[0], f"unknown field in query string; allowed: {', '.join(sorted(allowed))}")


def page_limit(params: Mapping[str, str]) -> int:
    """The ``limit`` of a paginated listing: a whole number from 1 to ``LIMIT_MAX``."""
    raw_limit = params.get("limit", str(LIMIT_DEFAULT))
    if not raw_limit.isascii() or not raw_limit.isdigit() or not 1 <= int(raw_limit) <= LIMIT_MAX:
        raise ValidationError("limit", f"must be a whole number from 1 to {LIMIT_MAX}")
    return int(raw_limit)


def list_request(params: Mapping[str, str] | None) -> ListRequest:
    params = params or {}
    reject_unknown(params, LIST_PARAMS)
    search = params.get("search", "")
    problem = text_problem(search, SEARCH_MAX, trimmed=False)
    if problem:
        raise ValidationError("search", problem)
    status = params.get("status", "all")
    if status not in LIST_STATUSES:
        raise ValidationError("status", f"must be one of {', '.join(LIST_STATUSES)}")
    return ListRequest(
        search=search.strip(), status=status, limit=page_limit(params), cursor=params.get("cursor") or None
    )


def idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > IDEMPOTENCY_KEY_MAX or not value.isascii() or not value.isprintable():
        raise ValidationError("Idempotency-Key", f"must be 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters")
    return value
