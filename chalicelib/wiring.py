"""Builds the service, the store and the verifier for this container, lazily, once.

Nothing reaches AWS until the first request: clients are made by small getters, so tests
can start moto (or swap settings) before anything exists, then call ``reset()``.
"""

from __future__ import annotations

import functools
from typing import Any

from chalicelib.settings import get_settings, reset_settings


@functools.lru_cache(maxsize=1)
def store() -> Any:
    from chalicelib.store import DynamoStore, models_for

    return DynamoStore(models_for(get_settings()))


@functools.lru_cache(maxsize=1)
def vaults() -> Any:
    settings = get_settings()
    if not settings.vault_targets:
        return None
    from chalicelib.vaults import VaultRegistry

    return VaultRegistry.from_settings(settings.vault_targets)


@functools.lru_cache(maxsize=1)
def plans() -> Any:
    """The deployment's API Gateway usage plans (none configured: every plan name is unknown)."""
    from chalicelib.usage_plans import UsagePlans

    settings = get_settings()
    return UsagePlans(settings.usage_plans, default_plan=settings.default_plan)


@functools.lru_cache(maxsize=1)
def service() -> Any:
    from chalicelib import logs
    from chalicelib.service import KeyService

    settings = get_settings()
    logs.configure(settings.log_level)
    return KeyService(
        store(),
        key_prefix=settings.key_prefix,
        peppers=settings.peppers,
        max_expiry_days=settings.max_expiry_days,
        vaults=vaults(),
        catalog=custom_roles().catalog,
        plans=plans(),
    )


@functools.lru_cache(maxsize=1)
def verifier() -> Any:
    from chalicelib import logs
    from chalicelib.authorizer import DEFAULT_ROUTE_MAP, RouteMap, Verifier
    from chalicelib.service import utcnow

    settings = get_settings()
    logs.configure(settings.log_level)
    key_store = store()
    return Verifier(
        key_store.get,
        key_prefix=settings.key_prefix,
        peppers=settings.peppers,
        catalog=service().catalog,
        clock=utcnow,
        touch=lambda key_id, now: key_store.touch_last_used(key_id, now, settings.last_used_interval_seconds),
        last_used_interval_seconds=settings.last_used_interval_seconds,
        cache_ttl_seconds=settings.auth_cache_ttl_seconds,
        route_map=RouteMap.from_pairs(settings.route_map or DEFAULT_ROUTE_MAP),
    )


@functools.lru_cache(maxsize=1)
def custom_roles() -> Any:
    from chalicelib.custom_roles import CustomRoles
    from chalicelib.role_store import DynamoRoleStore

    return CustomRoles(DynamoRoleStore(store()), cache_ttl_seconds=get_settings().roles_cache_ttl_seconds)


@functools.lru_cache(maxsize=1)
def rotation() -> Any:
    from chalicelib.rotation import Rotation

    return Rotation(service(), store())


@functools.lru_cache(maxsize=1)
def audit() -> Any:
    from chalicelib.audit import AuditTrail

    return AuditTrail(service())


@functools.lru_cache(maxsize=1)
def leaks() -> Any:
    from chalicelib.leaks import LeakReports

    return LeakReports(service(), on_revoke=verifier().forget)


def reset() -> None:
    """Forget everything built, so the next request reads settings and makes clients anew."""
    from chalicelib.store import build_models

    for getter in (store, vaults, plans, service, verifier, custom_roles, rotation, audit, leaks):
        getter.cache_clear()
    build_models.cache_clear()
    reset_settings()
