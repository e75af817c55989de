"""The PynamoDB models of the four tables, built from settings.

Models are built by ``build_models`` from settings, so table names, timeouts and retries exist
before each class is defined and nothing reaches AWS at import time. The endpoint, region and
credentials come the standard way (``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, ...).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection
from pynamodb.constants import STREAM_NEW_IMAGE
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.settings import Settings


@dataclass(frozen=True)
class Models:
    ApiKey: Any
    KeyEvent: Any
    Idempotency: Any
    connection: Connection
    CustomRole: Any = None
    Counts: Any = None
    SearchEntry: Any = None
    LastUse: Any = None

    @property
    def all(self) -> tuple[Any, ...]:
        optional = (self.CustomRole,) if self.CustomRole is not None else ()
        return (self.ApiKey, self.KeyEvent, self.Idempotency, *optional)


def models_for(settings: Settings) -> Models:
    return build_models(
        settings.keys_table,
        settings.events_table,
        settings.idempotency_table,
        settings.ddb_connect_timeout_seconds,
        settings.ddb_read_timeout_seconds,
        settings.ddb_max_retry_attempts,
        settings.roles_table,
    )


@functools.lru_cache(maxsize=8)
def build_models(
    keys_table: str,
    events_table: str,
    idempotency_table: str,
    connect_timeout: float,
    read_timeout: float,
    max_retries: int,
    roles_table: str = "apikeys-roles",
) -> Models:
    class BaseMeta:
        billing_mode = "PAY_PER_REQUEST"
        connect_timeout_seconds = connect_timeout
        read_timeout_seconds = read_timeout
        max_retry_attempts = max_retries

    class CommunityIndex(GlobalSecondaryIndex["ApiKey"]):
        """Every listed key of a community, newest first. Sparse: pending keys are absent."""

        class Meta:
            index_name = "community-created"
            projection = AllProjection()

        listed_in = UnicodeAttribute(hash_key=True)
        created_sort = UnicodeAttribute(range_key=True)

    class CommunityStatusIndex(GlobalSecondaryIndex["ApiKey"]):
        """The same, one partition per ``community#status``, so a status filter reads only its keys."""

        class Meta:
            index_name = "community-status-created"
            projection = AllProjection()

        listed_status = UnicodeAttribute(hash_key=True)
        created_sort = UnicodeAttribute(range_key=True)

    class PendingIndex(GlobalSecondaryIndex["ApiKey"]):
        """Sparse: only keys whose secret is not delivered yet, for the sweeper."""

        class Meta:
            index_name = "pending-created"
            projection = KeysOnlyProjection()

        pending_bucket = UnicodeAttribute(hash_key=True)
        created_sort = UnicodeAttribute(range_key=True)

    class GraceIndex(GlobalSecondaryIndex["ApiKey"]):
        """Sparse: only active keys rotated with a grace period, soonest deadline first."""

        class Meta:
            index_name = "grace-until"
            projection = KeysOnlyProjection()

        grace_bucket = UnicodeAttribute(hash_key=True)
        grace_until = UTCDateTimeAttribute(range_key=True)

    class ExpiryIndex(GlobalSecondaryIndex["ApiKey"]):
        """Sparse: only active keys with an expiry, soonest first, for the expiry reminders."""

        class Meta:
            index_name = "expiry"
            projection = KeysOnlyProjection()

        expiry_bucket = UnicodeAttribute(hash_key=True)
        expires_at = UTCDateTimeAttribute(range_key=True)

    class ApiKey(Model):
        class Meta(BaseMeta):
            table_name = keys_table

        key_id = UnicodeAttribute(hash_key=True)
        community = UnicodeAttribute()
        name = UnicodeAttribute()
        description = UnicodeAttribute(default="")
        roles = ListAttribute(of=UnicodeAttribute)
        status = UnicodeAttribute()
        key_hash = UnicodeAttribute()
        pepper_id = UnicodeAttribute()
        hint = UnicodeAttribute()
        created_at = UTCDateTimeAttribute()
        created_by = UnicodeAttribute()
        created_sort = UnicodeAttribute()
        expires_at = UTCDateTimeAttribute(null=True)
        revoked_at = UTCDateTimeAttribute(null=True)
        revoked_by = UnicodeAttribute(null=True)
        created_by_name = UnicodeAttribute(null=True)
        revoked_by_name = UnicodeAttribute(null=True)
        revoke_reason = UnicodeAttribute(null=True)
        last_used_at = UTCDateTimeAttribute(null=True)
        updated_at = UTCDateTimeAttribute(null=True)
        vault = JSONAttribute(null=True)
        rotated_from = UnicodeAttribute(null=True)
        rotated_to = UnicodeAttribute(null=True)
        grace_until = UTCDateTimeAttribute(null=True)
        plan = UnicodeAttribute(null=True)
        gateway_key_id = UnicodeAttribute(null=True)
        gateway_key_value = UnicodeAttribute(null=True)
        allowed_cidrs = ListAttribute(of=UnicodeAttribute, null=True)
        listed_in = UnicodeAttribute(null=True)
        listed_status = UnicodeAttribute(null=True)
        pending_bucket = UnicodeAttribute(null=True)
        grace_bucket = UnicodeAttribute(null=True)
        expiry_bucket = UnicodeAttribute(null=True)
        version = VersionAttribute()

        community_index = CommunityIndex()
        community_status_index = CommunityStatusIndex()
        pending_index = PendingIndex()
        grace_index = GraceIndex()
        expiry_index = ExpiryIndex()

    class LastUse(Model):
        """When a key was last used: one small item per key in the keys table, keyed
        ``LAST_USE_PREFIX + key id``, written by the authorizers. It has none of the attributes
        the indexes are keyed on, so no index holds it (see ``reader.LAST_USE_PREFIX``). Not in
        ``Models.all``: the table is created once, for ``ApiKey``."""

        class Meta(BaseMeta):
            table_name = keys_table

        key_id = UnicodeAttribute(hash_key=True)  # LAST_USE_PREFIX + the key's id
        last_used_at = UTCDateTimeAttribute()

    class KeyIndex(GlobalSecondaryIndex["KeyEvent"]):
        class Meta:
            index_name = "key-events"
            projection = AllProjection()

        key_id = UnicodeAttribute(hash_key=True)
        event_id = UnicodeAttribute(range_key=True)

    class KeyEvent(Model):
        """The audit trail: one item per change, written in the change's transaction."""

        class Meta(BaseMeta):
            table_name = events_table
            # The outbox of lifecycle events: each new item is published to EventBridge
            # (chalicelib/routes/lifecycle.py), so none is lost if a request dies and none invented.
            stream_view_type = STREAM_NEW_IMAGE

        community = UnicodeAttribute(hash_key=True)
        event_id = UnicodeAttribute(range_key=True)
        key_id = UnicodeAttribute()
        action = UnicodeAttribute()
        actor = UnicodeAttribute()
        actor_name = UnicodeAttribute(null=True)
        at = UTCDateTimeAttribute()
        details = JSONAttribute(default=dict)

        key_index = KeyIndex()

    class Idempotency(Model):
        class Meta(BaseMeta):
            table_name = idempotency_table

        scope = UnicodeAttribute(hash_key=True)
        key_id = UnicodeAttribute()
        fingerprint = UnicodeAttribute()
        created_at = UTCDateTimeAttribute()
        expires = TTLAttribute()

    class CustomRole(Model):
        """A community's own role, built from ``roles.PERMISSIONS``; one partition per community."""

        class Meta(BaseMeta):
            table_name = roles_table

        community = UnicodeAttribute(hash_key=True)
        name = UnicodeAttribute(range_key=True)
        description = UnicodeAttribute(default="")
        permissions = ListAttribute(of=UnicodeAttribute)
        created_at = UTCDateTimeAttribute()
        created_by = UnicodeAttribute()
        updated_at = UTCDateTimeAttribute(null=True)
        updated_by = UnicodeAttribute(null=True)
        version = VersionAttribute()

    class Counts(Model):
        """A community's counts of live keys and custom roles, changed in the same transaction as
        what they count, conditionally where a limit applies. Shares the roles table (not listed
        in ``Models.all``: the table is created once, for ``CustomRole``)."""

        class Meta(BaseMeta):
            table_name = roles_table

        community = UnicodeAttribute(hash_key=True)
        name = UnicodeAttribute(range_key=True)
        live_keys = NumberAttribute(null=True)
        custom_roles = NumberAttribute(null=True)

    class SearchEntry(Model):
        """What a search matches a listed key on, and nothing else: one small item per key, in its
        community's partition of the roles table, written in the same transaction as every change
        to the key (see ``search.Search.keys``). Not in ``Models.all``, like ``Counts``."""

        class Meta(BaseMeta):
            table_name = roles_table

        community = UnicodeAttribute(hash_key=True)
        name = UnicodeAttribute(range_key=True)  # SEARCH_PREFIX + the key's created_sort
        text = UnicodeAttribute()  # name, description and id, case-folded
        status = UnicodeAttribute()
        expires_at = UTCDateTimeAttribute(null=True)

    connection = Connection(
        connect_timeout_seconds=connect_timeout,
        read_timeout_seconds=read_timeout,
        max_retry_attempts=max_retries,
    )
    return Models(ApiKey, KeyEvent, Idempotency, connection, CustomRole, Counts, SearchEntry, LastUse)


def create_tables(models: Models) -> None:
    for model in models.all:
        if not model.exists():
            model.create_table(wait=True)
    # Idempotency records expire by themselves; a table that cannot take TTL still works.
    models.Idempotency.update_ttl(ignore_update_ttl_errors=True)
