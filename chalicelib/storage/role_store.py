"""The role store: the custom roles' ``RoleStore`` over DynamoDB, one partition per community in the
roles table.

Each change is written with its audit event in one transaction, through the key store's
events table, so the community's trail shows role changes beside key changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pynamodb.exceptions import PynamoDBException

from chalicelib.errors import AlreadyExists, OverLimit, StoreError, VersionConflict
from chalicelib.keys.records import ACTIVE, PENDING, KeyRecord
from chalicelib.roles.catalog import Role
from chalicelib.roles.custom import CustomRole, with_changes
from chalicelib.storage.counts import COUNT_RETRIES, CUSTOM_ROLES, CountMoved
from chalicelib.storage.items import PENDING_BUCKET, to_record
from chalicelib.storage.key_store import DynamoStore
from chalicelib.trail import Event

_ROLE_FIELDS = ("description", "permissions", "created_at", "created_by", "updated_at", "updated_by")


class DynamoRoleStore:
    def __init__(self, key_store: DynamoStore) -> None:
        self.key_store = key_store
        self.models = key_store.models

    def list(self, community: str) -> Sequence[CustomRole]:
        CustomRoleItem = self.models.CustomRole
        try:
            return [
                CustomRole(
                    community=item.community,
                    name=item.name,
                    description=item.description or "",
                    permissions=list(item.permissions or []),
                    created_at=item.created_at,
                    created_by=item.created_by,
                    updated_at=item.updated_at,
                    updated_by=item.updated_by,
                    version=item.version,
                )
                # Role names start with a letter; the community's counts item ("#counts") sorts before.
                for item in CustomRoleItem.query(community, CustomRoleItem.name >= "a", consistent_read=True)
            ]
        except PynamoDBException as error:
            raise StoreError("the roles table could not be read") from error

    def permissions_of(self, community: str, names: Sequence[str]) -> dict[str, Role]:
        """The named custom roles that exist, with their permissions only (no description):
        BatchGetItem by key, strongly consistent, so the cost follows the names asked for,
        never the number of roles the community has."""
        if not names:
            return {}
        CustomRoleItem = self.models.CustomRole
        try:
            items = CustomRoleItem.batch_get(
                [(community, name) for name in dict.fromkeys(names)],
                consistent_read=True,
                attributes_to_get=["community", "name", "permissions"],
            )
            return {item.name: Role(item.name, "", tuple(item.permissions or ()), builtin=False) for item in items}
        except PynamoDBException as error:
            raise StoreError("the roles table could not be read") from error

    def insert(self, role: CustomRole, event: Event, *, limit: int | None = None) -> None:
        """Role, event and the community's role count in one transaction: AlreadyExists if the name
        is taken, OverLimit if the community already has ``limit`` custom roles."""
        CustomRoleItem = self.models.CustomRole
        item = CustomRoleItem(role.community, role.name, **{name: getattr(role, name) for name in _ROLE_FIELDS})

        def conflict(reasons: list[Any]) -> Exception:
            if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
                return AlreadyExists()
            return CountMoved() if counting.seeding else OverLimit()

        for _ in range(COUNT_RETRIES):
            counting = self.key_store.counts.count_change(role.community, CUSTOM_ROLES, 1, limit)
            try:
                with self.key_store.transactions.transaction("roles", conflict) as tx:
                    tx.save(item, condition=CustomRoleItem.name.does_not_exist())
                    tx.save(self.key_store.event_item(event))
                    counting.add_to(tx)
            except CountMoved:
                continue
            role.version = 1
            return
        raise StoreError("the role count kept changing; nothing was changed")

    def update(self, role: CustomRole, changes: dict[str, Any], event: Event) -> CustomRole:
        CustomRoleItem = self.models.CustomRole
        item = CustomRoleItem(role.community, role.name)
        item.version = role.version
        actions = [
            getattr(CustomRoleItem, name).remove() if value is None else getattr(CustomRoleItem, name).set(value)
            for name, value in changes.items()
        ]
        with self.key_store.transactions.transaction("roles", lambda _: VersionConflict()) as tx:
            tx.update(item, actions=actions, condition=CustomRoleItem.name.exists())
            tx.save(self.key_store.event_item(event))
        updated = with_changes(role, changes)
        updated.version = (role.version or 0) + 1
        return updated

    def delete(self, role: CustomRole, event: Event) -> None:
        CustomRoleItem = self.models.CustomRole
        item = CustomRoleItem(role.community, role.name)
        item.version = role.version
        counting = self.key_store.counts.count_change(role.community, CUSTOM_ROLES, -1)
        with self.key_store.transactions.transaction("roles", lambda _: VersionConflict()) as tx:
            tx.delete(item, condition=CustomRoleItem.name.exists())
            tx.save(self.key_store.event_item(event))
            counting.add_to(tx)

    def keys_granted(self, community: str, name: str) -> Sequence[KeyRecord]:
        """The community's active keys holding the role (those in a rotation grace period are
        active), read from its ``community#active`` partition with DynamoDB's filter: bounded by
        the live-key cap. Then the pending ones: they are in no community's partition, only in the
        sparse pending index (keys whose secret is on its way, a handful at any moment), read by
        key and kept if theirs."""
        ApiKey = self.models.ApiKey
        try:
            results = ApiKey.community_status_index.query(
                f"{community}#{ACTIVE}", filter_condition=ApiKey.roles.contains(name)
            )
            active = [to_record(item) for item in results]
            pending_ids = [item.key_id for item in ApiKey.pending_index.query(PENDING_BUCKET)]
        except PynamoDBException as error:
            raise StoreError("the keys table could not be read") from error
        pending = self.key_store.get_many(pending_ids, last_use=False).values()
        return active + [
            key for key in pending if key.community == community and key.status == PENDING and name in key.roles
        ]
