"""The community catalog: built-in roles cost no read; custom ones are read once per catalog."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.roles.catalog import permissions_of
from chalicelib.roles.custom import CustomRole, CustomRoles


class CountingStore:
    def __init__(self, roles: list[CustomRole]) -> None:
        self.roles = roles
        self.reads = 0

    def list(self, community: str) -> list[CustomRole]:
        self.reads += 1
        return [role for role in self.roles if role.community == community]


def hunter(community: str = "demo") -> CustomRole:
    return CustomRole(community, "hunter", "", ["intelligence:read"], datetime.now(UTC), "operator")


def test_builtin_roles_need_no_read_and_custom_ones_one():
    store = CountingStore([hunter()])
    catalog = CustomRoles(store).catalog("demo")  # type: ignore[arg-type]

    assert "ic_viewer" in catalog and permissions_of(["ic_viewer"], catalog) == {"intelligence:read"}
    assert store.reads == 0
    assert permissions_of(["hunter", "nobody"], catalog) == {"intelligence:read"}
    assert "hunter" in catalog and "nobody" not in catalog
    assert store.reads == 1
    assert "hunter" not in CustomRoles(store).catalog("other")  # type: ignore[arg-type]


def test_the_cache_is_per_container_bounded_and_forgotten_on_change():
    store = CountingStore([hunter()])
    moment = [0.0]
    roles = CustomRoles(store, cache_ttl_seconds=30, monotonic=lambda: moment[0])  # type: ignore[arg-type]

    roles.custom("demo")
    roles.custom("demo")
    assert store.reads == 1
    moment[0] = 31.0
    roles.custom("demo")
    assert store.reads == 2
    roles.forget("demo")
    roles.custom("demo")
    assert store.reads == 3
