"""The built-in role catalog and the permission rules. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MANAGE_KEYS = "apikeys:manage"
# Usage plans are a cost and abuse control: a key that may manage keys does not choose its own.
CHOOSE_PLANS = "apikeys:plans"


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    permissions: tuple[str, ...]
    builtin: bool = True

    def to_view(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "permissions": list(self.permissions),
            "builtin": self.builtin,
        }


# Every permission the platform knows, ``area:action``. Custom roles draw from this list.
PERMISSIONS: dict[str, str] = {
    "apikeys:manage": "Create, edit and revoke the community's API keys",
    "apikeys:plans": "Choose and change the usage plan of the API keys it manages",
    "intelligence:read": "Read the Intelligence Center",
    "intelligence:write": "Create and edit Intelligence Center objects",
    "playbooks:read": "Read playbooks and their runs",
    "playbooks:run": "Run playbooks",
    "operations:read": "Read alerts and cases",
    "operations:write": "Edit alerts and cases",
}

BUILTIN_ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role("community_admin", "Community administrator: every permission", tuple(PERMISSIONS)),
        Role("apikeys_admin", "API keys administrator", (MANAGE_KEYS,)),
        Role("ic_viewer", "Intelligence Center Read-Only", ("intelligence:read",)),
        Role("ic_editor", "Intelligence Center Editor", ("intelligence:read", "intelligence:write")),
        Role(
            "cti_connector", "CTI interconnection with third-party tools", ("intelligence:read", "intelligence:write")
        ),
        Role("playbooks_operator", "Playbooks operator", ("playbooks:read", "playbooks:run")),
        Role("soc_analyst", "Operations analyst", ("operations:read", "operations:write", "intelligence:read")),
    )
}


def permissions_of(role_names: Iterable[str], catalog: Mapping[str, Role] = BUILTIN_ROLES) -> frozenset[str]:
    """The union of the permissions of ``role_names``; unknown names grant nothing."""
    granted: set[str] = set()
    for name in role_names:
        role = catalog.get(name)
        if role is not None:
            granted.update(role.permissions)
    return frozenset(granted)


def missing_permissions(
    caller_permissions: Iterable[str], role_names: Iterable[str], catalog: Mapping[str, Role] = BUILTIN_ROLES
) -> frozenset[str]:
    """What granting ``role_names`` would give beyond what the caller holds itself."""
    return permissions_of(role_names, catalog) - frozenset(caller_permissions)
