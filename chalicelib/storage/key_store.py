"""The key store: the ``keys.records.Store`` over DynamoDB, through PynamoDB.

A key's every change is one transaction (``transactions.py``) with its audit event, the
community's live-key count (``counts.py``) and its search entry (``search.py``).
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, PynamoDBException

from chalicelib.errors import AlreadyExists, OverLimit, StoreError, VersionConflict
from chalicelib.keys.reader import LAST_USE_PREFIX, LAST_USED_ATTRIBUTES
from chalicelib.keys.records import ACTIVE, EXPIRED, PENDING, REVOKED, IdempotencyRecord, KeyRecord, Page
from chalicelib.storage.counts import COUNT_RETRIES, LIVE_KEYS, CountMoved, Counts, live
from chalicelib.storage.items import (
    EXPIRY_BUCKET,
    GRACE_BUCKET,
    PENDING_BUCKET,
    attributes,
    derived,
    event_item,
    sort_key,
    to_record,
)
from chalicelib.storage.models import Models
from chalicelib.storage.search import Search
from chalicelib.storage.transactions import Transactions
from chalicelib.trail import Event


class DynamoStore:
    """The ``records.Store`` over DynamoDB, through PynamoDB."""

    def __init__(self, models: Models, reader: Any = None) -> None:
        self.models = models
        self.transactions = Transactions(models.connection)
        self.counts = Counts(models)
        self.search = Search(models, self.with_last_use)
        if reader is not None:
            # PynamoDB makes a botocore session and client per connection, each parsing DynamoDB's
            # service model again (~100 ms on a cold container): here every connection sends
            # through the clients the authorizer's ``KeyReader`` already made.
            extra = (models.Counts, models.SearchEntry, models.LastUse)
            sharing = (*models.all, *(m for m in extra if m is not None))
            for connection in (models.connection, *(model._get_connection().connection for model in sharing)):
                connection._client = reader.client
            self.touch_connection.connection._client = reader.client

    @property
    def conflicts_retried(self) -> int:
        """Transactions cancelled by another in flight, then committed again."""
        return self.transactions.conflicts_retried

    # -- writes -----------------------------------------------------------------------------

    def insert(
        self, key: KeyRecord, event: Event, idempotency: IdempotencyRecord | None, *, limit: int | None = None
    ) -> None:
        """Key, event, idempotency record and the community's live-key count in one transaction.
        With ``limit``, OverLimit if the community already has that many live keys."""
        ApiKey, Idem = self.models.ApiKey, self.models.Idempotency
        item = ApiKey(key.key_id, roles=key.roles, **attributes(key), **derived(key))

        def conflict(reasons: list[Any]) -> Exception:
            failed = [r is not None and r.code == "ConditionalCheckFailed" for r in reasons]
            # Items in order: key, event, idempotency record (if any), then the count.
            if any(failed[: 3 if idempotency is not None else 2]):
                return AlreadyExists()  # the key id or the idempotency key (a replay wins over the limit)
            return CountMoved() if counting.seeding else OverLimit()

        for _ in range(COUNT_RETRIES):
            counting = self.counts.count_change(key.community, LIVE_KEYS, live(key.status), limit)
            try:
                with self.transactions.transaction("keys", conflict) as tx:
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
                    self.search.index(tx, None, key)
            except CountMoved:
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
        counting = self.counts.count_change(key.community, LIVE_KEYS, live(updated.status) - live(key.status))
        with self.transactions.transaction("keys", lambda _: VersionConflict()) as tx:
            # The version guard makes this an optimistic edit; the status guard makes
            # revocation final whatever a caller sends.
            tx.update(item, actions=actions, condition=ApiKey.status != REVOKED)
            tx.save(self.event_item(event))
            counting.add_to(tx)
            self.search.index(tx, key, updated)
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
        new_item = ApiKey(new.key_id, roles=new.roles, **attributes(new), **derived(new))
        updated, old_item, actions = self._update_actions(old, old_changes)

        def conflict(reasons: list[Any]) -> Exception:
            failed = [r is not None and r.code == "ConditionalCheckFailed" for r in reasons]
            # Items in order: new key, its event, old key, its event, then the count.
            if failed[0]:
                return AlreadyExists()
            if any(failed[1:4]):
                return VersionConflict()
            return CountMoved() if counting.seeding else OverLimit()

        # With grace the old key stays live beside the new one: one live key more, held to the
        # limit like a create. Without grace the old key leaves in the same write: no change.
        delta = live(new.status) + live(updated.status) - live(old.status)
        for _ in range(COUNT_RETRIES):
            counting = self.counts.count_change(old.community, LIVE_KEYS, delta, limit)
            try:
                with self.transactions.transaction("keys", conflict) as tx:
                    tx.save(new_item, condition=ApiKey.key_id.does_not_exist())
                    tx.save(self.event_item(new_event))
                    tx.update(old_item, actions=actions, condition=ApiKey.status != REVOKED)
                    tx.save(self.event_item(old_event))
                    counting.add_to(tx)
                    self.search.index(tx, None, new)
                    self.search.index(tx, old, updated)
            except CountMoved:
                continue
            except AlreadyExists:
                if not self._holds(new):
                    raise
                # Our own first attempt, as in ``insert``: the new key holds our hash, so the whole
                # transaction (the old key's change and both events too) was applied once.
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
            return to_record(self.models.ApiKey.get(key_id, consistent_read=True))
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
            records = [to_record(item) for item in items]
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
            return self.search.keys(community, status, search, limit, after, now)
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
                "created_sort": {"S": sort_key(after_created, after_id)},
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
            items = [to_record(item) for item in results]
        except PynamoDBException as error:
            raise StoreError("the keys table could not be read") from error
        if len(items) > limit:
            return Page(self.with_last_use(items[:limit]), items[limit - 1])
        return Page(self.with_last_use(items), None)

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
        bound = sort_key(older_than, "")
        try:
            ids = [item.key_id for item in ApiKey.pending_index.query(PENDING_BUCKET, ApiKey.created_sort < bound)]
        except PynamoDBException as error:
            raise StoreError("the keys table could not be read") from error
        records = (self._read(key_id) for key_id in ids)
        return [record for record in records if record is not None and record.status == PENDING]

    # -- helpers ----------------------------------------------------------------------------

    def _update_actions(self, key: KeyRecord, changes: dict[str, Any]) -> tuple[KeyRecord, Any, list[Any]]:
        """The record after ``changes``, the version-carrying item and the update actions."""
        ApiKey = self.models.ApiKey
        updated = KeyRecord(**{**key.__dict__, **changes})
        actions = []
        for name, value in {**changes, **derived(updated)}.items():
            attribute = getattr(ApiKey, name)
            absent = value is None or (name == "allowed_cidrs" and not value)  # any address: no attribute
            actions.append(attribute.remove() if absent else attribute.set(value))
        item = ApiKey(key.key_id)
        item.version = key.version
        return updated, item, actions

    def event_item(self, event: Event) -> Any:
        return event_item(self.models, event)

    def index_all(self) -> dict[str, int]:
        """Give every listed key without one its search entry (``Search.index_all``)."""
        return self.search.index_all()
