"""The authorizer's way to the keys table: one plain botocore client, no PynamoDB.

A standalone authorizer's cold start pays for what its first decision needs: botocore (imported
with this module, at Lambda init), one DynamoDB client from the container's one botocore session
(``aws_session``, which read the pepper secret; the service model parsed once, at the first
request), one consistent GetItem, and, when the key's last use is stale, one conditional
UpdateItem of its last-use item on the same client, in a single attempt. PynamoDB's import and
model classes (about half a second on a cold container) are left to the API's routes, which reuse these clients
(``store.share_clients``), so a container never parses DynamoDB's service model twice.

The item is read as PynamoDB writes it (``store.ApiKey``): ``UTCDateTimeAttribute`` as
``%Y-%m-%dT%H:%M:%S.%f+0000``, ``JSONAttribute`` as a JSON string, absent when null.
"""

from __future__ import annotations

import functools
import json
import threading
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib import aws_session
from chalicelib.errors import StoreError
from chalicelib.keys.records import KeyRecord

_DATETIMES = ("created_at", "expires_at", "revoked_at", "last_used_at", "updated_at", "grace_until")
# A key's last use is an item of its own in the keys table, keyed by this prefix and the key's id:
# it holds none of the attributes the listing indexes are keyed on, so recording a use writes one
# small item (1 WRU), where setting last_used_at on the key's item wrote it again into both
# listing indexes, which project every attribute (3 WRU, more for an item over 1 KB). The list
# reads it back by key (``store.DynamoStore``). Key ids are base62 (``format.is_key_id``): no
# key's id starts with "#".
LAST_USE_PREFIX = "#used#"
# The only attributes the last-used write names, and all the authorizer's IAM role lets it name
# in an UpdateItem (``dynamodb:Attributes``), on items whose key starts with LAST_USE_PREFIX
# (``dynamodb:LeadingKeys``): see stack/policies.py.
LAST_USED_ATTRIBUTES = ("key_id", "last_used_at")

_STRINGS = (
    "key_id", "community", "name", "description", "status", "key_hash", "pepper_id", "hint", "created_by",
    "revoked_by", "revoke_reason", "rotated_from", "rotated_to", "plan", "gateway_key_id", "gateway_key_value",
    "created_by_name", "revoked_by_name",
)  # fmt: skip


def format_datetime(value: datetime) -> str:
    """As PynamoDB's ``UTCDateTimeAttribute`` stores it, so conditions compare like for like."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000").zfill(31)


def parse_datetime(text: str) -> datetime:
    """By slicing, as PynamoDB does: ``strptime`` would import and set up ``_strptime`` on a cold start."""
    text = text.zfill(31)
    if len(text) != 31 or text[4] + text[7] + text[10] + text[13] + text[16] + text[19] + text[26:] != "--T::.+0000":
        raise ValueError(f"not a stored UTC datetime: {text!r}")
    return datetime(
        int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]), int(text[17:19]),
        int(text[20:26]), UTC,
    )  # fmt: skip


def to_record(item: dict[str, Any]) -> KeyRecord:
    """A raw GetItem ``Item`` of the keys table → the domain's record."""

    def plain(name: str) -> Any:
        value = item.get(name)
        return None if value is None or "NULL" in value else next(iter(value.values()))

    values: dict[str, Any] = {name: plain(name) for name in _STRINGS}
    values.update({name: None if plain(name) is None else parse_datetime(plain(name)) for name in _DATETIMES})
    vault = plain("vault")
    version = plain("version")
    return KeyRecord(
        **values,
        roles=[role["S"] for role in plain("roles") or []],
        allowed_cidrs=[network["S"] for network in plain("allowed_cidrs") or []],
        vault=None if vault is None else json.loads(vault, strict=False),
        version=None if version is None else int(version),
    )


class KeyReader:
    """GetItem and the last-used write, on clients made on first use (never at import)."""

    def __init__(self, table: str, connect_timeout: float, read_timeout: float, max_retries: int) -> None:
        self.table = table
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_retries = max_retries
        self._touching = threading.local()  # set while this thread makes the last-used write

    @functools.cached_property
    def session(self) -> botocore.session.Session:
        """The container's session, which the pepper's read has most often made already: its
        credentials, endpoints and botocore's data files are resolved once per container."""
        return aws_session.session()

    def _client(self, attempts: int) -> Any:
        config = Config(
            parameter_validation=False,  # what PynamoDB sets: our requests are built, not typed in
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"total_max_attempts": attempts, "mode": "standard"},
        )
        return self.session.create_client("dynamodb", config=config)

    @functools.cached_property
    def client(self) -> Any:
        """Every read and write of the service, with the configured timeouts and retries, but
        for the last-used write, which makes one attempt (``_one_attempt``). One client: a second
        would parse DynamoDB's service model again, about 30 ms of every cold start."""
        client = self._client(1 + self.max_retries)
        client.meta.events.register_first("needs-retry.dynamodb.UpdateItem", self._one_attempt)
        return client

    def _one_attempt(self, response: Any = None, caught_exception: Any = None, **_: Any) -> None:
        """While this thread makes the last-used write, its first failure ends it: bookkeeping never
        holds a decision up. Called before the standard retry handler; ``None`` lets that handler
        decide as usual (a success, or a failed condition, which it never retries)."""
        if not getattr(self._touching, "active", False):
            return None
        if caught_exception is not None:
            raise caught_exception
        http, parsed = response
        if http.status_code >= 300 and parsed.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise ClientError(parsed, "UpdateItem")
        return None

    def get(self, key_id: str) -> KeyRecord | None:
        try:
            answer = self.client.get_item(TableName=self.table, Key={"key_id": {"S": key_id}}, ConsistentRead=True)
        except Exception as error:  # noqa: BLE001 - botocore's errors, whatever their class
            raise StoreError("the keys table could not be read") from error
        item = answer.get("Item")
        return None if item is None else to_record(item)

    def touch_last_used(self, key_id: str, now: datetime, interval_seconds: float) -> None:
        """The key's last-use item says ``now`` unless it says a time within the interval. Called
        for a key just verified active; the key's own item is not written (see LAST_USE_PREFIX).

        Only the attributes of ``LAST_USED_ATTRIBUTES`` are named, conditions included, and only
        a last-use item's key: the authorizer's IAM role allows nothing else.
        """
        from datetime import timedelta

        stale = format_datetime(now - timedelta(seconds=interval_seconds))
        self._touching.active = True
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"key_id": {"S": LAST_USE_PREFIX + key_id}},
                UpdateExpression="SET last_used_at = :now",
                ConditionExpression="attribute_not_exists(last_used_at) OR last_used_at < :stale",
                ExpressionAttributeValues={":now": {"S": format_datetime(now)}, ":stale": {"S": stale}},
                ReturnValues="NONE",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            pass  # another container recorded a use within the interval
        finally:
            self._touching.active = False
