"""What a search matches a listed key on: one small entry per key in its community's partition of
the roles table, written in the same transaction as every change to the key, and the search
that reads them."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError, PynamoDBException

from chalicelib.errors import StoreError
from chalicelib.keys.records import ACTIVE, EXPIRED, LISTED_STATUSES, KeyRecord, Page
from chalicelib.storage.items import sort_key, to_record
from chalicelib.storage.models import Models

# Each listed key's search entry lives under this prefix and the key's created_sort.
SEARCH_PREFIX = "#search#"


def search_text(key: KeyRecord) -> str:
    return "\n".join((key.name, key.description, key.key_id)).casefold()


def matched_on(key: KeyRecord) -> tuple[str, str, datetime | None]:
    """What a key's search entry holds: a change to anything else leaves the entry as it is."""
    return search_text(key), key.status, key.expires_at


def entry_name(created_at: datetime, key_id: str) -> str:
    return SEARCH_PREFIX + sort_key(created_at, key_id)


class Search:
    def __init__(self, models: Models, with_last_use: Callable[[list[KeyRecord]], list[KeyRecord]]) -> None:
        self.models = models
        self.with_last_use = with_last_use

    def keys(
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
            start = {"community": {"S": community}, "name": {"S": entry_name(after_created, after_id)}}
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
            found = {item.key_id: to_record(item) for item in ApiKey.batch_get(page_ids, consistent_read=True)}
        except PynamoDBException as error:
            raise StoreError("the keys table could not be read") from error
        self.with_last_use(list(found.values()))

        def matches(key: KeyRecord) -> bool:
            listed = key.community == community and key.status in LISTED_STATUSES
            return listed and term in search_text(key) and status in ("all", key.status_at(now))

        items = [found[key_id] for key_id in page_ids if key_id in found and matches(found[key_id])]
        if len(ids) <= limit:
            return Page(items, None)
        # Resume after the index's last entry of this page, shown or not (an id and a creation
        # time never change); keys are never deleted once listed, so it was read.
        present = [found[key_id] for key_id in page_ids if key_id in found]
        return Page(items, present[-1] if present else None)

    def entry(self, key: KeyRecord) -> Any:
        """The key's search entry, as ``_index`` writes it."""
        return self.models.SearchEntry(
            key.community,
            entry_name(key.created_at, key.key_id),
            text=search_text(key),
            status=key.status,
            expires_at=key.expires_at,
        )

    def index(self, tx: Any, before: KeyRecord | None, after: KeyRecord) -> None:
        """Keep the key's search entry as the key is after ``tx``: written while the key is listed
        (active or revoked), removed if it stops being listed, absent while it is pending."""
        if after.status in LISTED_STATUSES:
            if before is None or before.status not in LISTED_STATUSES or matched_on(before) != matched_on(after):
                tx.save(self.entry(after))
        elif before is not None and before.status in LISTED_STATUSES:
            tx.delete(self.models.SearchEntry(before.community, entry_name(before.created_at, before.key_id)))

    def index_all(self) -> dict[str, int]:
        """Give every listed key without one its search entry: once, after upgrading a deployment
        made before search entries existed. Safe while the service runs: an entry is only put
        where none is, and any change to what it holds writes one in the key's own transaction."""
        ApiKey, SearchEntry = self.models.ApiKey, self.models.SearchEntry
        counts = {"indexed": 0, "present": 0}
        try:
            for item in ApiKey.scan(ApiKey.listed_in.exists()):
                try:
                    self.entry(to_record(item)).save(condition=SearchEntry.name.does_not_exist())
                    counts["indexed"] += 1
                except PutError as error:
                    if error.cause_response_code != "ConditionalCheckFailedException":
                        raise
                    counts["present"] += 1
        except PynamoDBException as error:
            raise StoreError("the keys could not be indexed for search") from error
        return counts
