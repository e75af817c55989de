"""A community's counts of live keys and custom roles, changed in the same transaction as what they
count, conditionally where a limit applies.

They live in one item of the roles table, in the community's partition, under a sort key no role
can have (role names start with a letter). A count that does not exist yet (a community older
than the counts) is first computed from the items it counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist, PynamoDBException

from chalicelib.errors import OverLimit, StoreError
from chalicelib.keys.records import ACTIVE, PENDING
from chalicelib.storage.models import Models

COUNTS_ITEM = "#counts"
LIVE_KEYS = "live_keys"
CUSTOM_ROLES = "custom_roles"
LIVE_STATUSES = (ACTIVE, PENDING)
COUNT_RETRIES = 5


def live(status: str | None) -> int:
    return 1 if status in LIVE_STATUSES else 0


class CountMoved(Exception):
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


class Counts:
    def __init__(self, models: Models) -> None:
        self.models = models

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
