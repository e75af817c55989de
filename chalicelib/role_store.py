"""The custom roles' store over DynamoDB: one partition per community in the roles table.

Each change is written with its audit event in one transaction, through the key store's
events table, so the community's trail shows role changes beside key changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pynamodb.exceptions import PynamoDBException

from chalicelib.custom_roles import CustomRole, with_changes
from chalicelib.domain import ACTIVE, AlreadyExists, Event, KeyRecord, StoreError, VersionConflict
from chalicelib.store import DynamoStore, _to_record

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
                for item in CustomRoleItem.query(community, consistent_read=True)
            ]
        except PynamoDBException as error:
            raise StoreError("the roles table could not be read") from error

    def insert(self, role: CustomRole, event: Event) -> None:
        CustomRoleItem = self.models.CustomRole
        item = CustomRoleItem(role.community, role.name, **{name: getattr(role, name) for name in _ROLE_FIELDS})
        with self.key_store.transaction("roles", lambda _: AlreadyExists()) as tx:
            tx.save(item, condition=CustomRoleItem.name.does_not_exist())
            tx.save(self.key_store.event_item(event))
        role.version = 1

    def update(self, role: CustomRole, changes: dict[str, Any], event: Event) -> CustomRole:
        CustomRoleItem = self.models.CustomRole
        item = CustomRoleItem(role.community, role.name)
        item.version = role.version
        actions = [
            getattr(CustomRoleItem, name).remove() if value is None else getattr(CustomRoleItem, name).set(value)
            for name, value in changes.items()
        ]
        with self.key_store.transaction("roles", lambda _: VersionConflict()) as tx:
            tx.update(item, actions=actions, condition=CustomRoleItem.name.exists())
            tx.save(self.key_store.event_item(event))
        updated = with_changes(role, changes)
        updated.version = (role.version or 0) + 1
        return updated

    def delete(self, role: CustomRole, event: Event) -> None:
        CustomRoleItem = self.models.CustomRole
        item = CustomRoleItem(role.community, role.name)
        item.version = role.version
        with self.key_store.transaction("roles", lambda _: VersionConflict()) as tx:
            tx.delete(item, condition=CustomRoleItem.name.exists())
            tx.save(self.key_store.event_item(event))

    def keys_granted(self, community: str, name: str) -> Sequence[KeyRecord]:
        ApiKey = self.models.ApiKey
        try:
            results = ApiKey.community_status_index.query(
                f"{community}#{ACTIVE}", filter_condition=ApiKey.roles.contains(name)
            )
            return [_to_record(item) for item in results]
        except PynamoDBException as error:
            raise StoreError("the keys table could not be read") from error
