"""Builds the service, the store and the verifier for this container, lazily, once.

Nothing reaches AWS until the first request: clients are made by small getters, so tests
can start moto (or swap settings) before anything exists, then call ``reset()``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

# botocore's import is code only (no settings, no credentials, no I/O): it belongs to Lambda's
# init, which runs on a boosted CPU and which a SnapStart snapshot captures.
from chalicelib import aws_session
from chalicelib.keys.reader import KeyReader
from chalicelib.settings import get_settings, reset_settings

if TYPE_CHECKING:  # the types only: each getter imports its module when first called
    from chalicelib.authorizer.tokens import Person, TokenVerifier
    from chalicelib.authorizer.verifier import Verifier
    from chalicelib.keys.audit import AuditTrail
    from chalicelib.keys.leak_keys import LeakSigningKeys
    from chalicelib.keys.leaks import LeakReports
    from chalicelib.keys.lifecycle import Publisher
    from chalicelib.keys.records import KeyRecord
    from chalicelib.keys.rotation import Rotation
    from chalicelib.keys.service import KeyService
    from chalicelib.plans.usage_plans import UsagePlans
    from chalicelib.roles.custom import CustomRoles
    from chalicelib.storage.key_store import DynamoStore
    from chalicelib.storage.role_store import DynamoRoleStore
    from chalicelib.vaults import VaultRegistry

T = TypeVar("T")


@functools.lru_cache(maxsize=1)
def key_reader() -> KeyReader:
    """The authorizer's reads, without PynamoDB: a cold start's first decision skips its import."""
    settings = get_settings()
    return KeyReader(
        settings.keys_table,
        settings.ddb_connect_timeout_seconds,
        settings.ddb_read_timeout_seconds,
        settings.ddb_max_retry_attempts,
    )


@functools.lru_cache(maxsize=1)
def store() -> DynamoStore:
    from chalicelib.storage.key_store import DynamoStore
    from chalicelib.storage.models import models_for

    return DynamoStore(models_for(get_settings()), key_reader())


@functools.lru_cache(maxsize=1)
def vaults() -> VaultRegistry | None:
    settings = get_settings()
    if not settings.vault_targets:
        return None
    from chalicelib.vaults import VaultRegistry

    return VaultRegistry.from_settings(settings.vault_targets)


@functools.lru_cache(maxsize=1)
def plans() -> UsagePlans:
    """The deployment's API Gateway usage plans (none configured: every plan name is unknown)."""
    from chalicelib.plans.usage_plans import UsagePlans

    settings = get_settings()
    return UsagePlans(settings.usage_plans, default_plan=settings.default_plan)


@functools.lru_cache(maxsize=1)
def service() -> KeyService:
    from chalicelib import logs
    from chalicelib.api.bodies import Bodies
    from chalicelib.keys.service import KeyService

    settings = get_settings()
    logs.configure(settings.log_level)
    return KeyService(
        store(),
        key_prefix=settings.key_prefix,
        peppers=settings.peppers,
        max_expiry_days=settings.max_expiry_days,
        max_keys=settings.max_keys_per_community,
        vaults=vaults(),
        catalog=custom_roles().catalog,
        plans=plans(),
        bodies=Bodies(),
    )


@functools.lru_cache(maxsize=1)
def verifier() -> Verifier:
    from chalicelib import logs
    from chalicelib.authorizer.policy import DEFAULT_ROUTE_MAP, RouteMap
    from chalicelib.authorizer.verifier import Verifier
    from chalicelib.clock import utcnow

    settings = get_settings()
    logs.configure(settings.log_level)
    reader = key_reader()
    return Verifier(
        reader.get,
        key_prefix=settings.key_prefix,
        peppers=settings.peppers,
        catalog=custom_roles().catalog,  # what service().catalog hands on, without building the service
        roles_held=custom_roles().held,
        clock=utcnow,
        touch=lambda key_id, now: reader.touch_last_used(key_id, now, settings.last_used_interval_seconds),
        last_used_interval_seconds=settings.last_used_interval_seconds,
        cache_ttl_seconds=settings.auth_cache_ttl_seconds,
        route_map=RouteMap.from_pairs(settings.route_map or DEFAULT_ROUTE_MAP),
        people=_verify_person if settings.oidc is not None else None,
    )


def _verify_person(token: str) -> Person:
    return token_verifier().verify(token)


@functools.lru_cache(maxsize=1)
def token_verifier() -> TokenVerifier:
    """People's tokens: PyJWT and the issuer's keys, loaded when the first token arrives."""
    from chalicelib.authorizer.tokens import IssuerKeys, TokenVerifier

    oidc = get_settings().oidc
    if oidc is None:
        raise RuntimeError("no identity provider is configured (APIKEYS_OIDC_ISSUER)")
    return TokenVerifier(
        issuer=oidc.issuer,
        audiences=oidc.audiences,
        keys=IssuerKeys(oidc.issuer, oidc.jwks_url),
        groups_claim=oidc.groups_claim,
    )


@functools.lru_cache(maxsize=1)
def custom_roles() -> CustomRoles[KeyRecord]:
    from chalicelib.api.bodies import Bodies  # no pydantic until a body is read
    from chalicelib.roles.custom import CustomRoles

    def role_store() -> DynamoRoleStore:
        from chalicelib.storage.role_store import DynamoRoleStore

        return DynamoRoleStore(store())

    return CustomRoles(
        _Deferred(role_store),
        # A role change is a change of every key holding the role: the key service's rules decide.
        authorize_changes=lambda caller, keys: service().authorize_changes(caller, keys),
        cache_ttl_seconds=get_settings().roles_cache_ttl_seconds,
        bodies=Bodies(),
    )


class _Deferred(Generic[T]):
    """Builds its object on first use: a key holding only built-in roles never needs the role
    store, so the authorizer's cold start does not import PynamoDB for it."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build

    @functools.cached_property
    def _built(self) -> T:
        return self._build()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._built, name)


@functools.lru_cache(maxsize=1)
def rotation() -> Rotation:
    from chalicelib.keys.rotation import Rotation

    return Rotation(service(), store())


@functools.lru_cache(maxsize=1)
def audit() -> AuditTrail:
    from chalicelib.keys.audit import AuditTrail

    return AuditTrail(service())


@functools.lru_cache(maxsize=1)
def leaks() -> LeakReports:
    from chalicelib.keys.leaks import LeakReports

    return LeakReports(service(), on_revoke=verifier().forget)


@functools.lru_cache(maxsize=1)
def publisher() -> Publisher:
    """Audit events to the deployment's EventBridge bus (none configured: nothing is sent)."""
    from chalicelib.clock import utcnow
    from chalicelib.keys.lifecycle import Publisher

    settings = get_settings()

    def views(key_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        now = utcnow()
        return {key_id: key.view(now) for key_id, key in store().get_many(key_ids).items()}

    @functools.cache
    def client() -> Any:
        return aws_session.client("events")

    return Publisher(client, views, settings.event_bus, settings.event_source)


@functools.lru_cache(maxsize=1)
def leak_signing_keys() -> LeakSigningKeys:
    """GitHub's keys, fetched on the first report and kept for the container (or the fixed ones)."""
    from chalicelib.keys.leak_keys import LeakSigningKeys

    settings = get_settings()
    return LeakSigningKeys(settings.leak_keys_url, fixed=dict(settings.leak_public_keys))


def reset() -> None:
    """Forget everything built, so the next request reads settings and makes clients anew."""
    from chalicelib.storage.models import build_models

    for getter in (
        *(key_reader, store, vaults, plans, service, verifier, custom_roles),
        *(rotation, audit, leaks, leak_signing_keys, publisher),
    ):
        getter.cache_clear()
    token_verifier.cache_clear()
    aws_session.reset()
    build_models.cache_clear()
    reset_settings()
