"""Who is asking: what the authorizer makes of a verified key, and what every service checks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from chalicelib.roles.catalog import BUILTIN_ROLES


@dataclass(frozen=True)
class Caller:
    """Who is asking: a verified key, or the operator at the CLI."""

    key_id: str
    community: str
    roles: tuple[str, ...]
    permissions: frozenset[str]
    # The key's API Gateway key value, for the standalone authorizer's usageIdentifierKey.
    usage_identifier_key: str | None = dataclasses.field(default=None, repr=False, compare=False)
    # The networks the key may be used from (empty: any address), for a face that checks the
    # address after the authorizer: this app's routes (``routes/common.py``).
    allowed_cidrs: tuple[str, ...] = ()

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}" if self.key_id != "operator" else "operator"

    @classmethod
    def operator(cls, community: str) -> Caller:
        everything = frozenset(p for role in BUILTIN_ROLES.values() for p in role.permissions)
        return cls("operator", community, (), everything)

    def view(self) -> dict[str, Any]:
        return {
            "id": self.key_id,
            "community": self.community,
            "roles": list(self.roles),
            "permissions": sorted(self.permissions),
        }
