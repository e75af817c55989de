"""PynamoDB models and the store the service is handed.

Models are built by ``build_models`` from settings, so table names, timeouts and retries exist
before each class is defined and nothing reaches AWS at import time. The endpoint, region and
credentials come the standard way (``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, ...).
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import itertools
import random
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from pynamodb.exceptions import DoesNotExist, PutError, PynamoDBException, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.errors import AlreadyExists, OverLimit, StoreError, VersionConflict
from chalicelib.keys.reader import LAST_USE_PREFIX, LAST_USED_ATTRIBUTES
from chalicelib.keys.records import (
    ACTIVE,
    EXPIRED,
    LISTED_STATUSES,
    PENDING,
    REVOKED,
    IdempotencyRecord,
    KeyRecord,
    Page,
)
from chalicelib.settings import Settings
from chalicelib.trail import Event

PENDING_BUCKET = "pending"
TRANSACTION_CONFLICT_RETRIES = 6
GRACE_BUCKET = "grace"
EXPIRY_BUCKET = "expiry"
# The counts a community's limits are enforced on live in one item of the roles table, in the
# community's partition, under a sort key no role can have (role names start with a letter).
COUNTS_ITEM = "#counts"
# Each listed key's search entry lives there too, under this prefix and the key's created_sort.
SEARCH_PREFIX = "#search#"
LIVE_KEYS = "live_keys"
CUSTOM_ROLES = "custom_roles"
LIVE_STATUSES = (ACTIVE, PENDING)


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
        to the key (see ``DynamoStore.search_keys``). Not in ``Models.all``, like ``Counts``."""

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


def _conflicted(error: TransactWriteError) -> bool:
    """Cancelled because another transaction was writing one of the items, and for no other reason."""
    if getattr(error, "cause_response_code", None) == "TransactionConflictException":
        return True
    codes = {reason.code for reason in (getattr(error, "cancellation_reasons", None) or []) if reason is not None}
    return "TransactionConflict" in codes and codes <= {"TransactionConflict", "None"}


def _sort_key(created_at: datetime, key_id: str) -> str:
    return f"{created_at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{key_id}"


def _search_text(key: KeyRecord) -> str:
    return "\n".join((key.name, key.description, key.key_id)).casefold()


_RECORD_FIELDS = (
    "key_id", "community", "name", "description", "status", "key_hash", "pepper_id", "hint",
    "created_at", "created_by", "expires_at", "revoked_at", "revoked_by", "revoke_reason",
    "last_used_at", "updated_at", "vault", "rotated_from", "rotated_to", "grace_until", "version",
    "plan", "gateway_key_id", "gateway_key_value", "created_by_name", "revoked_by_name",
)  # fmt: skip


def _to_record(item: Any) -> KeyRecord:
    values = {name: getattr(item, name) for name in _RECORD_FIELDS}
    return KeyRecord(roles=list(item.roles or []), allowed_cidrs=list(item.allowed_cidrs or []), **values)


def _derived(key: KeyRecord) -> dict[str, Any]:
    """The attributes the indexes read, computed from the record (search reads ``search_entry``)."""
    listed = key.status in LISTED_STATUSES
    return {
        "created_sort": _sort_key(key.created_at, key.key_id),
        "listed_in": key.community if listed else None,
        "listed_status": f"{key.community}#{key.status}" if listed else None,
        "pending_bucket": PENDING_BUCKET if key.status == PENDING else None,
        "grace_bucket": GRACE_BUCKET if key.status == ACTIVE and key.grace_until is not None else None,
        "expiry_bucket": EXPIRY_BUCKET if key.status == ACTIVE and key.expires_at is not None else None,
    }


def _matched_on(key: KeyRecord) -> tuple[str, str, datetime | None]:
    """What a key's search entry holds: a change to anything else leaves the entry as it is."""
    return _search_text(key), key.status, key.expires_at


def _search_entry_name(created_at: datetime, key_id: str) -> str:
    return SEARCH_PREFIX + _sort_key(created_at, key_id)


COUNT_RETRIES = 5


def _live(status: str | None) -> int:
    return 1 if status in LIVE_STATUSES else 0


class _CountMoved(Exception):
    """Another writer seeded the count between our read and our write: read it again."""


@dataclass
class CountChange:
    item: Any
    actions: list[Any]
    condition: Any
    seeding: bool

    def add_to(self, tx: Any) -> None:
        if self.item is not None:
            tx.update(self.item, actions=self.actions, condition=self.condition)


class DynamoStore:
    """The ``records.Store`` over DynamoDB, through PynamoDB."""

    def __init__(self, models: Models, reader: Any = None) -> None:
        self.models = models
        self.conflicts_retried = 0  # transactions cancelled by another in flight, then committed again
        if reader is not None:
            # PynamoDB makes a botocore session and client per connection, each parsing DynamoDB's
            # service model again (~100 ms on a cold container): here every connection sends
            # through the clients the authorizer's ``KeyReader`` already made.
            extra = (models.Counts, models.SearchEntry, models.LastUse)
            sharing = (*models.all, *(m for m in extra if m is not None))
            for connection in (models.connection, *(model._get_connection().connection for model in sharing)):
                connection._client = reader.client
            self.touch_connection.connection._client = reader.client

    # -- writes -----------------------------------------------------------------------------

    def insert(
        self, key: KeyRecord, event: Event, idempotency: IdempotencyRecord | None, *, limit: int | None = None
    ) -> None:
        """Key, event, idempotency record and the community's live-key count in one transaction.
        With ``limit``, OverLimit if the community already has that many live keys."""
        ApiKey, Idem = self.models.ApiKey, self.models.Idempotency
        item = ApiKey(key.key_id, roles=key.roles, **self._attributes(key), **_derived(key))

        def conflict(reasons: list[Any]) -> Exception:
            failed = [r is not None and r.code == "ConditionalCheckFailed" for r in reasons]
            # Items in order: key, event, idempotency record (if any), then the count.
            if any(failed[: 3 if idempotency is not None else 2]):
                return AlreadyExists()  # the key id or the idempotency key (a replay wins over the limit)
            return _CountMoved() if counting.seeding else OverLimit()

        for _ in range(COUNT_RETRIES):
            counting = self.count_change(key.community, LIVE_KEYS, _live(key.status), limit)
            try:
                with self.transaction("keys", conflict) as tx:
                    tx.save(item, condition=ApiKey.key_id.does_not_exist())
                    tx.save(self.event_item(event))
                    if idempotency is not None:
                        idem_item = Idem(
                            idempotency.scope,
                            key_id=idempotency.key_id,
                            fingerprint=idempotency.fingerprint,
                            created_at=idempotency.created_at,
                            expires=timedelta(days=1),
                        )
                        tx.save(idem_item, condition=Idem.scope.does_not_exist())
                    counting.add_to(tx)
                    self._index(tx, None, key)
            except _CountMoved:
                continue
            except AlreadyExists:
                if not self._holds(key):
                    raise
                # Our own first attempt: DynamoDB applied it, its answer was lost and botocore
                # sent it again. AWS honours the transaction's token and answers the retry with
                # success; an engine that does not (moto, DynamoDB Local) fails the key's
                # condition, and the stored hash says whose the key is.
            key.version = 1
            return
        raise StoreError("the key count kept changing; nothing was changed")

    def _holds(self, key: KeyRecord) -> bool:
        """Whether the stored item of ``key.key_id`` is ``key`` itself: a hash of a fresh secret
        is never anyone else's."""
        stored = self.get(key.key_id)
        return stored is not None and hmac.compare_digest(stored.key_hash, key.key_hash)

    def update(self, key: KeyRecord, changes: dict[str, Any], event: Event) -> KeyRecord:
        ApiKey = self.models.ApiKey
        updated, item, actions = self._update_actions(key, changes)
        # A change of status in or out of the live ones (revoke, fail, a failed create resumed)
        # moves the community's live-key count in the same transaction. The version guard makes
        # each transition happen once, so the count moves once.
        counting = self.count_change(key.community, LIVE_KEYS, _live(updated.status) - _live(key.status))
        with self.transaction("keys", lambda _: VersionConflict()) as tx:
            # The version guard makes this an optimistic edit; the status guard makes
            # revocation final whatever a caller sends.
            tx.update(item, actions=actions, condition=ApiKey.status != REVOKED)
            tx.save(self.event_item(event))
            counting.add_to(tx)
            self._index(tx, key, updated)
        updated.version = (key.version or 0) + 1
        return updated

    def rotate(
        self,
        old: KeyRecord,
        old_changes: dict[str, Any],
        old_event: Event,
        new: KeyRecord,
        new_event: Event,
        *,
        limit: int | None = None,
    ) -> KeyRecord:
        """Insert ``new`` and apply ``old_changes`` to ``old`` (version-guarded, not revoked), with
        both audit events and the live-key count, in one transaction. AlreadyExists if the new id
        is taken, VersionConflict if the old key changed meanwhile, OverLimit with ``limit`` if the
        rotation adds a live key (the old one stays in its grace period) to a community that
        already has that many. Returns the old key's new record."""
        ApiKey = self.models.ApiKey
        new_item = ApiKey(new.key_id, roles=new.roles, **self._attributes(new), **_derived(new))
        updated, old_item, actions = self._update_actions(old, old_changes)

        def conflict(reasons: list[Any]) -> Exception:
            failed = [r is not None and r.code == "ConditionalCheckFailed" for r in reasons]
            # Items in order: new key, its event, old key, its event, then the count.
            if failed[0]:
                return AlreadyExists()
            if any(failed[1:4]):
                return VersionConflict()
            return _CountMoved() if counting.seeding else OverLimit()

        # With grace the old key stays live beside the new one: one live key more, held to the
        # limit like a create. Without grace the old key leaves in the same write: no change.
        delta = _live(new.status) + _live(updated.status) - _live(old.status)
        for _ in range(COUNT_RETRIES):
            counting = self.count_change(old.community, LIVE_KEYS, delta, limit)
            try:
                with self.transaction("keys", conflict) as tx:
                    tx.save(new_item, condition=ApiKey.key_id.does_not_exist())
                    tx.save(self.event_item(new_event))
                    tx.update(old_item, actions=actions, condition=ApiKey.status != REVOKED)
                    tx.save(self.event_item(old_event))
                    counting.add_to(tx)
                    self._index(tx, None, new)
                    self._index(tx, old, updated)
            except _CountMoved:
                continue
            new.version = 1
            updated.version = (old.version or 0) + 1
            return updated
        raise StoreError("the key count kept changing; nothing was changed")

    def list_grace_ended(self, now: datetime) -> Sequence[KeyRecord]:
        """Active keys whose rotation grace period ended by ``now``."""
        ApiKey = self.models.ApiKey
        try:
            ids = [item.key_id for item in ApiKey.grace_index.query(GRACE_BUCKET, ApiKey.grace_until <= now)]
        except PynamoDBException as error:
            raise StoreError("the keys table could not be read") from error
        records = (self._read(key_id) for key_id in ids)
        return [r for r in records if r is not None and r.status == ACTIVE and r.grace_until and r.grace_until <= now]

    def list_expiring(self, start: datetime, end: datetime) -> Sequence[KeyRecord]:
        """Active keys whose expiry falls in ``(start, end]``: one Query of the sparse expiry index."""
        ApiKey = self.models.ApiKey
        try:
            query = ApiKey.expiry_index.query(EXPIRY_BUCKET, ApiKey.expires_at.between(start, end))
            ids = [item.key_id for item in query]
        except PynamoDBException as error:
            raise StoreError("the keys table could not be read") from error
        found = self.get_many(ids, last_use=False)
        return [
            key
            for key in (found.get(key_id) for key_id in ids)
            if key is not None and key.status == ACTIVE and key.expires_at is not None and start < key.expires_at <= end
        ]

    def record_once(self, event: Event) -> bool:
        """Write an audit event whose id says what it is once (an expiry reminder); False if it
        was written before."""
        item = self.event_item(event)
        try:
            item.save(condition=self.models.KeyEvent.event_id.does_not_exist())
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise StoreError("the events table could not be written") from error
        except PynamoDBException as error:
            raise StoreError("the events table could not be written") from error
        return True

    # The only attributes the last-used write names (the same write as ``KeyReader``'s).
    LAST_USED_ATTRIBUTES = LAST_USED_ATTRIBUTES

    def touch_last_used(self, key_id: str, now: datetime, interval_seconds: float) -> None:
        """The same write as ``KeyReader.touch_last_used``: the key's last-use item, never the
        key's own (no index is written, 1 WRU). One attempt: bookkeeping never holds a decision
        up. Only the attributes of LAST_USED_ATTRIBUTES are named, conditions included."""
        LastUse = self.models.LastUse
        stale = now - timedelta(seconds=interval_seconds)
        self.touch_connection.update_item(
            LAST_USE_PREFIX + key_id,
            actions=[LastUse.last_used_at.set(now)],
            condition=LastUse.last_used_at.does_not_exist() | (LastUse.last_used_at < stale),
            return_values="NONE",
        )

    @functools.cached_property
    def touch_connection(self) -> Any:
        """The keys table with the model's timeouts but no retry, for ``touch_last_used``."""
        from pynamodb.connection import TableConnection

        ApiKey = self.models.ApiKey
        meta = ApiKey.Meta
        return TableConnection(
            meta.table_name,
            region=meta.region,
            host=meta.host,
            connect_timeout_seconds=meta.connect_timeout_seconds,
            read_timeout_seconds=meta.read_timeout_seconds,
            max_retry_attempts=0,
            meta_table=ApiKey._get_connection().get_meta_table(),
        )

    # -- reads ------------------------------------------------------------------------------

    def get(self, key_id: str) -> KeyRecord | None:
        key = self._read(key_id)
        return None if key is None else self.with_last_use([key])[0]

    def _read(self, key_id: str) -> KeyRecord | None:
        """The key's own item, without its last use (what the scheduled functions need)."""
        try:
            return _to_record(self.models.ApiKey.get(key_id, consistent_read=True))
        except DoesNotExist:
            return None
        except PynamoDBException as error:
            raise StoreError("the keys table could not be read") from error

    def get_many(self, key_ids: Sequence[str], *, last_use: bool = True) -> dict[str, KeyRecord]:
        """The keys among ``key_ids`` that exist, by id: BatchGetItem, strongly consistent, in
        pages of 100 (PynamoDB pages and retries unprocessed keys). ``last_use=False`` for a
        reader that shows no ``last_used_at`` (leak reports, role holders): no second read."""
        if not key_ids:
            return {}
        try:
            items = self.models.ApiKey.batch_get(list(dict.fromkeys(key_ids)), consistent_read=True)
            records = [_to_record(item) for item in items]
        except PynamoDBException as error:
            raise StoreError("the keys table could not be read") from error
        return {key.key_id: key for key in (self.with_last_use(records) if last_use else records)}

    def with_last_use(self, keys: list[KeyRecord]) -> list[KeyRecord]:
        """``keys`` with ``last_used_at`` read from their last-use items: one BatchGetItem per
        100 keys, eventually consistent (half a read unit an item). A key's own item may still
        hold a last_used_at written before last-use items existed; the later of the two is shown."""
        if not keys:
            return keys
        LastUse = self.models.LastUse
        try:
            names = list(dict.fromkeys(LAST_USE_PREFIX + key.key_id for key in keys))
            used = {item.key_id[len(LAST_USE_PREFIX) :]: item.last_used_at for item in LastUse.batch_get(names)}
        except PynamoDBException as error:
            raise StoreError("the keys table could not be read") from error
        for key in keys:
            at = used.get(key.key_id)
            if at is not None and (key.last_used_at is None or at > key.last_used_at):
                key.last_used_at = at
        return keys

    def get_idempotency(self, scope: str) -> IdempotencyRecord | None:
        try:
            item = self.models.Idempotency.get(scope, consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as error:
            raise StoreError("the idempotency table could not be read") from error
        return IdempotencyRecord(item.scope, item.key_id, item.fingerprint, item.created_at)

    def list_keys(
        self,
        community: str,
        status: str,
        search: str,
        limit: int,
        after: tuple[str, datetime] | None,
        now: datetime,
    ) -> Page:
        if search:
            return self.search_keys(community, status, search, limit, after, now)
        ApiKey = self.models.ApiKey
        if status == "all":
            index, partition, hash_name = ApiKey.community_index, community, "listed_in"
        else:
            stored_status = ACTIVE if status == EXPIRED else status
            index, partition, hash_name = ApiKey.community_status_index, f"{community}#{stored_status}", "listed_status"
        condition = None
        if status == ACTIVE:
            condition = ApiKey.expires_at.does_not_exist() | (ApiKey.expires_at > now)
        elif status == EXPIRED:
            condition = ApiKey.expires_at.exists() & (ApiKey.expires_at <= now)
        start = None
        if after is not None:
            after_id, after_created = after
            start = {
                "key_id": {"S": after_id},
                "created_sort": {"S": _sort_key(after_created, after_id)},
                hash_name: {"S": partition},
            }
        try:
            results = index.query(
                partition,
                filter_condition=condition,
                scan_index_forward=False,
                limit=limit + 1,
                page_size=min(max(limit + 1, 25), 100),
                last_evaluated_key=start,
            )
            items = [_to_record(item) for item in results]
        except PynamoDBException as error:
            raise StoreError("the keys table could not be read") from error
        if len(items) > limit:
            return Page(self.with_last_use(items[:limit]), items[limit - 1])
        return Page(self.with_last_use(items), None)

    def search_keys(
        self,
        community: str,
        status: str,
        search: str,
        limit: int,
        after: tuple[str, datetime] | None,
        now: datetime,
    ) -> Page:
        """``list_keys`` with a search term, in the same order, with the same cursor.

        Each listed key has a search entry in its community's partition of the roles table
        (``SearchEntry``: sort key, case-folded name + description + id, status, expiry; about
        150 bytes), written in the same transaction as the key. The entries are read newest
        first with no ``Limit``, so each Query reads up to DynamoDB's 1 MB of them (some 6,000
        keys a request) and DynamoDB's filter keeps the matches. Reading stops once
        ``limit + 1`` matched (one more tells that more follow). The page's items are then
        read by key in one BatchGetItem.

        Entries live in a table, not in an index, so the Query is strongly consistent: a key
        created, renamed or revoked a moment ago is found (or not) at once. Each item read by
        key is matched again all the same, so a page only ever shows a key as it is now.
        """
        SearchEntry = self.models.SearchEntry
        ApiKey = self.models.ApiKey
        term = search.casefold()
        condition = SearchEntry.text.contains(term)
        if status == ACTIVE:
            condition &= (SearchEntry.status == ACTIVE) & (
                SearchEntry.expires_at.does_not_exist() | (SearchEntry.expires_at > now)
            )
        elif status == EXPIRED:
            condition &= (
                (SearchEntry.status == ACTIVE) & SearchEntry.expires_at.exists() & (SearchEntry.expires_at <= now)
            )
        elif status != "all":
            condition &= SearchEntry.status == status
        start = None
        if after is not None:
            after_id, after_created = after
            start = {"community": {"S": community}, "name": {"S": _search_entry_name(after_created, after_id)}}
        try:
            entries = SearchEntry.query(
                community,
                SearchEntry.name.startswith(SEARCH_PREFIX),
                filter_condition=condition,
                scan_index_forward=False,
                consistent_read=True,
                last_evaluated_key=start,
            )
            ids = [entry.name.rsplit("#", 1)[1] for entry in itertools.islice(entries, limit + 1)]
            page_ids = ids[:limit]
            found = {item.key_id: _to_record(item) for item in ApiKey.batch_get(page_ids, consistent_read=True)}
        except PynamoDBException as error:
            raise StoreError("the keys table could not be read") from error
        self.with_last_use(list(found.values()))

        def matches(key: KeyRecord) -> bool:
            listed = key.community == community and key.status in LISTED_STATUSES
            return listed and term in _search_text(key) and status in ("all", key.status_at(now))

        items = [found[key_id] for key_id in page_ids if key_id in found and matches(found[key_id])]
        if len(ids) <= limit:
            return Page(items, None)
        # Resume after the index's last entry of this page, shown or not (an id and a creation
        # time never change); keys are never deleted once listed, so it was read.
        present = [found[key_id] for key_id in page_ids if key_id in found]
        return Page(items, present[-1] if present else None)

    def list_events(
        self, community: str, key_id: str | None, limit: int, after: str | None
    ) -> tuple[list[Event], str | None]:
        KeyEvent = self.models.KeyEvent
        try:
            if key_id is None:
                start = {"community": {"S": community}, "event_id": {"S": after}} if after else None
                results = KeyEvent.query(community, scan_index_forward=False, limit=limit + 1, last_evaluated_key=start)
            else:
                start = (
                    {"community": {"S": community}, "event_id": {"S": after}, "key_id": {"S": key_id}}
                    if after
                    else None
                )
                results = KeyEvent.key_index.query(
                    key_id,
                    filter_condition=KeyEvent.community == community,
                    scan_index_forward=False,
                    limit=limit + 1,
                    last_evaluated_key=start,
                )
            events = [
                Event(i.community, i.key_id, i.action, i.actor, i.at, dict(i.details or {}), i.event_id, i.actor_name)
                for i in results
            ]
        except PynamoDBException as error:
            raise StoreError("the events table could not be read") from error
        if len(events) > limit:
            return events[:limit], events[limit - 1].event_id
        return events, None

    def list_stuck_pending(self, older_than: datetime) -> Sequence[KeyRecord]:
        ApiKey = self.models.ApiKey
        bound = _sort_key(older_than, "")
        try:
            ids = [item.key_id for item in ApiKey.pending_index.query(PENDING_BUCKET, ApiKey.created_sort < bound)]
        except PynamoDBException as error:
            raise StoreError("the keys table could not be read") from error
        records = (self._read(key_id) for key_id in ids)
        return [record for record in records if record is not None and record.status == PENDING]

    # -- counts -----------------------------------------------------------------------------

    def count_change(self, community: str, field: str, delta: int, limit: int | None = None) -> CountChange:
        """The change of one of the community's counts to add to a transaction. A count that does
        not exist yet (a community older than the counts) is first computed from the items it
        counts and set only if still absent, so two first writers cannot both seed it."""
        Counts = self.models.Counts
        if delta == 0:
            return CountChange(None, [], None, seeding=False)
        try:
            item = Counts.get(community, COUNTS_ITEM, consistent_read=True)
            current = getattr(item, field)
        except DoesNotExist:
            current = None
        except PynamoDBException as error:
            raise StoreError("the roles table could not be read") from error
        attribute = getattr(Counts, field)
        target = Counts(community, COUNTS_ITEM)
        if current is None:
            seed = self._seed(community, field)
            if limit is not None and delta > 0 and seed + delta > limit:
                raise OverLimit()
            return CountChange(target, [attribute.set(seed + delta)], attribute.does_not_exist(), seeding=True)
        condition = attribute.exists()
        if limit is not None and delta > 0:
            condition = condition & (attribute <= limit - delta)
        return CountChange(target, [attribute.add(delta)], condition, seeding=False)

    def _seed(self, community: str, field: str) -> int:
        try:
            if field == LIVE_KEYS:
                # Keys stored active (expired ones included, as they count until revoked); keys
                # pending at this very moment are not indexed by community and are left out.
                ApiKey = self.models.ApiKey
                return int(ApiKey.community_status_index.count(f"{community}#{ACTIVE}"))
            CustomRole = self.models.CustomRole
            return int(CustomRole.count(community, CustomRole.name >= "a", consistent_read=True))
        except PynamoDBException as error:
            raise StoreError("a count could not be computed") from error

    # -- helpers ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, table: str, on_condition: Callable[[list[Any]], Exception]) -> Iterator[Any]:
        """A TransactWrite whose failures leave as the domain's errors: ``on_condition(reasons)``
        (the cancellation reasons, in item order) when a condition failed, StoreError otherwise.
        Nothing of it is written unless all of it is."""
        from pynamodb.transactions import TransactWrite

        # One token per logical write: botocore's retries resend it, so a transaction whose answer
        # was lost (timeout, 500) is not applied twice by DynamoDB (a duplicate key, a lost secret).
        tx = TransactWrite(connection=self.models.connection, client_request_token=secrets.token_hex(16))
        try:
            try:
                with tx:
                    yield tx
            except TransactWriteError as first:
                self._retry_conflicts(tx, first)
        except TransactWriteError as error:
            reasons = list(getattr(error, "cancellation_reasons", None) or [])
            if any(reason is not None and reason.code == "ConditionalCheckFailed" for reason in reasons):
                raise on_condition(reasons) from error
            raise StoreError(f"the {table} table refused the write") from error
        except PynamoDBException as error:
            raise StoreError(f"the {table} table could not be reached") from error

    def _retry_conflicts(self, tx: Any, error: TransactWriteError) -> None:
        """Commit ``tx`` again while DynamoDB cancelled it only for another transaction in flight on
        one of its items (reason ``TransactionConflict``): nothing of it was written, and the same
        writes with the same conditions decide again once the other one is done. Re-raises the last
        error otherwise, or when conflicts outlast the retries."""
        for attempt in range(TRANSACTION_CONFLICT_RETRIES):
            if not _conflicted(error):
                break
            self.conflicts_retried += 1
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # jitter: racing writers retry apart
            # A fresh token: the cancelled request wrote nothing, and this one must not be taken
            # for a replay of it.
            tx._client_request_token = secrets.token_hex(16)
            try:
                tx._commit()
                return
            except TransactWriteError as again:
                error = again
        raise error

    def _update_actions(self, key: KeyRecord, changes: dict[str, Any]) -> tuple[KeyRecord, Any, list[Any]]:
        """The record after ``changes``, the version-carrying item and the update actions."""
        ApiKey = self.models.ApiKey
        updated = KeyRecord(**{**key.__dict__, **changes})
        actions = []
        for name, value in {**changes, **_derived(updated)}.items():
            attribute = getattr(ApiKey, name)
            absent = value is None or (name == "allowed_cidrs" and not value)  # any address: no attribute
            actions.append(attribute.remove() if absent else attribute.set(value))
        item = ApiKey(key.key_id)
        item.version = key.version
        return updated, item, actions

    def search_entry(self, key: KeyRecord) -> Any:
        """The key's search entry, as ``_index`` writes it."""
        return self.models.SearchEntry(
            key.community,
            _search_entry_name(key.created_at, key.key_id),
            text=_search_text(key),
            status=key.status,
            expires_at=key.expires_at,
        )

    def index_all(self) -> dict[str, int]:
        """Give every listed key without one its search entry: once, after upgrading a deployment
        made before search entries existed. Safe while the service runs: an entry is only put
        where none is, and any change to what it holds writes one in the key's own transaction."""
        ApiKey, SearchEntry = self.models.ApiKey, self.models.SearchEntry
        counts = {"indexed": 0, "present": 0}
        try:
            for item in ApiKey.scan(ApiKey.listed_in.exists()):
                try:
                    self.search_entry(_to_record(item)).save(condition=SearchEntry.name.does_not_exist())
                    counts["indexed"] += 1
                except PutError as error:
                    if error.cause_response_code != "ConditionalCheckFailedException":
                        raise
                    counts["present"] += 1
        except PynamoDBException as error:
            raise StoreError("the keys could not be indexed for search") from error
        return counts

    def _index(self, tx: Any, before: KeyRecord | None, after: KeyRecord) -> None:
        """Keep the key's search entry as the key is after ``tx``: written while the key is listed
        (active or revoked), removed if it stops being listed, absent while it is pending."""
        if after.status in LISTED_STATUSES:
            if before is None or before.status not in LISTED_STATUSES or _matched_on(before) != _matched_on(after):
                tx.save(self.search_entry(after))
        elif before is not None and before.status in LISTED_STATUSES:
            tx.delete(self.models.SearchEntry(before.community, _search_entry_name(before.created_at, before.key_id)))

    @staticmethod
    def _attributes(key: KeyRecord) -> dict[str, Any]:
        attributes = {name: getattr(key, name) for name in _RECORD_FIELDS if name not in ("key_id", "version")}
        # An unrestricted key's item has no allowed_cidrs at all, as before the attribute existed.
        return {**attributes, "allowed_cidrs": key.allowed_cidrs or None}

    def event_item(self, event: Event) -> Any:
        if not event.event_id:
            event.event_id = f"{event.at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{event.key_id}#{secrets.token_hex(4)}"
        return self.models.KeyEvent(
            event.community,
            event.event_id,
            key_id=event.key_id,
            action=event.action,
            actor=event.actor,
            actor_name=event.actor_name,
            at=event.at,
            details=event.details,
        )
