"""Who is asking: what the authorizer makes of a verified key or person, and what every service checks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from chalicelib.roles.catalog import BUILTIN_ROLES


@dataclass(frozen=True)
class Grant:
    """What a person holds in one community: the roles its groups name there, and their permissions."""

    community: str
    roles: tuple[str, ...]
    permissions: frozenset[str]


@dataclass(frozen=True)
class Caller:
    """Who is asking: a verified key, a person signed in with the platform's identity provider,
    or the operator at the CLI.

    A person holds roles per community (``grants``); ``in_community`` gives the caller a route acts
    as, in the route's community: exactly a key holding the roles of that community's grant, or,
    without one, a caller of no community at all, whom every service answers 404.
    """

    key_id: str
    community: str
    roles: tuple[str, ...]
    permissions: frozenset[str]
    # The key's API Gateway key value, for the standalone authorizer's usageIdentifierKey.
    usage_identifier_key: str | None = dataclasses.field(default=None, repr=False, compare=False)
    # The networks the key may be used from (empty: any address), for a face that checks the
    # address after the authorizer: this app's routes (``routes/common.py``).
    allowed_cidrs: tuple[str, ...] = ()
    person: str | None = None  # the issuer's subject (``sub``) of a person signed in
    name: str = ""  # a person's name to show: their username or email
    grants: tuple[Grant, ...] = ()

    @property
    def actor(self) -> str:
        """Who the audit trail names: ``key:<id>``, ``user:<sub>`` or ``operator``."""
        if self.person is not None:
            return f"user:{self.person}"
        return f"key:{self.key_id}" if self.key_id != "operator" else "operator"

    @property
    def principal(self) -> str:
        """Whose requests these are (idempotency scopes, the gateway's principal): a key's id,
        ``operator``, or a person's ``user:<sub>``."""
        return self.actor if self.person is not None else self.key_id

    @classmethod
    def operator(cls, community: str) -> Caller:
        everything = frozenset(p for role in BUILTIN_ROLES.values() for p in role.permissions)
        return cls("operator", community, (), everything)

    @classmethod
    def signed_in(cls, sub: str, name: str, grants: tuple[Grant, ...]) -> Caller:
        """A person, in no community until a route names one (``in_community``)."""
        return cls("", "", (), frozenset(), person=sub, name=name, grants=grants)

    def in_community(self, community: str | None) -> Caller:
        """The caller a route in ``community`` acts as. A key or the operator is what it is."""
        if self.person is None:
            return self
        grant = next((grant for grant in self.grants if grant.community == community), None)
        if grant is None:
            return dataclasses.replace(self, community="", roles=(), permissions=frozenset())
        return dataclasses.replace(self, community=grant.community, roles=grant.roles, permissions=grant.permissions)

    def view(self) -> dict[str, Any]:
        if self.person is not None:
            return {
                "user": self.actor,
                "name": self.name,
                "communities": [
                    {"community": g.community, "roles": list(g.roles), "permissions": sorted(g.permissions)}
                    for g in self.grants
                ],
            }
        return {
            "id": self.key_id,
            "community": self.community,
            "roles": list(self.roles),
            "permissions": sorted(self.permissions),
        }
