"""Large communities, written fast: keys straight into the keys table with BatchWriteItem.

Each item carries every attribute the store writes (the indexes' keys, computed by the store's
own ``storage.items``), and each listed key its search entry (the store's own ``Search.entry``), so
lists and searches see them as keys the service made. Their hashes verify no secret: these keys
are listed and searched, never used.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from chalicelib.keys import format as key_format
from chalicelib.keys.records import ACTIVE, KeyRecord


def key_record(community: str, index: int, created_at: datetime, name: str, description: str, status: str) -> KeyRecord:
    return KeyRecord(
        key_id=key_format.new_key_id(),
        community=community,
        name=name,
        description=description,
        roles=["ic_viewer"],
        status=status,
        key_hash=secrets.token_hex(32),
        pepper_id="p2",
        hint=f"apk_bulk{index:04d}…"[:11],
        created_at=created_at,
        created_by="operator:bulk",
        revoked_at=created_at if status != ACTIVE else None,
        revoked_by="operator:bulk" if status != ACTIVE else None,
        version=1,
    )


def bulk_keys(
    store: Any,
    community: str,
    count: int,
    *,
    start: datetime,
    name: Callable[[int], str] = lambda i: f"bulk key {i}",
    description: Callable[[int], str] = lambda i: "written by tests/bulk.py",
    status: Callable[[int], str] = lambda i: ACTIVE,
    threads: int = 4,
) -> list[KeyRecord]:
    """``count`` keys, the i-th created ``i`` milliseconds after ``start`` (so the last is the newest)."""
    from chalicelib.keys.records import LISTED_STATUSES
    from chalicelib.storage.items import attributes, derived

    ApiKey = store.models.ApiKey
    records = [
        key_record(community, i, start + timedelta(milliseconds=i), name(i), description(i), status(i))
        for i in range(count)
    ]

    def write(chunk: list[KeyRecord]) -> None:
        with ApiKey.batch_write() as batch:  # 25 items a BatchWriteItem, unprocessed ones resent
            for record in chunk:
                item = ApiKey(record.key_id, roles=record.roles, **attributes(record), **derived(record))
                item.version = 1  # as the store's first write leaves it, so the service may edit it
                batch.save(item)
        with store.models.SearchEntry.batch_write() as batch:
            for record in chunk:
                if record.status in LISTED_STATUSES:
                    batch.save(store.search.entry(record))

    size = -(-count // threads)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, [records[i : i + size] for i in range(0, count, size)]))
    return records
