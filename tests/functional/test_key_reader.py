"""The authorizer reads keys with a plain botocore client, the routes through PynamoDB: both must
see the same record, every field of it, or a field added to the model is silently lost on the
authorizer's path (a key's usage plan, its vault, its grace period)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from chalicelib import wiring
from chalicelib.keys.records import ACTIVE, KeyRecord
from chalicelib.trail import Event

pytestmark = pytest.mark.usefixtures("moto_aws")


def _every_field_set() -> KeyRecord:
    at = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
    values: dict[str, object] = {}
    for spec in dataclasses.fields(KeyRecord):
        if spec.name == "version":
            continue
        if spec.name == "roles":
            values[spec.name] = ["ic_viewer", "custom_reader"]
        elif spec.name == "status":
            values[spec.name] = ACTIVE
        elif spec.name == "allowed_cidrs":
            values[spec.name] = ["203.0.113.0/24", "2001:db8::/32"]
        elif spec.name == "vault":
            values[spec.name] = {"target": "sm", "location": {"name": "apikeys/demo/x"}}
        elif "datetime" in str(spec.type):
            values[spec.name] = at
        else:
            values[spec.name] = f"{spec.name}-value"
    values["key_id"] = "AbCdEfGhIjKlMnOp"
    values["community"] = "demo"
    return KeyRecord(**values)  # type: ignore[arg-type]


def test_the_authorizer_reads_every_field_the_store_writes() -> None:
    key = _every_field_set()
    store = wiring.store()
    store.insert(key, Event(key.community, key.key_id, "created", "operator", key.created_at), None)

    through_pynamodb = store.get(key.key_id)
    through_botocore = wiring.key_reader().get(key.key_id)

    assert through_pynamodb is not None and through_botocore is not None
    assert dataclasses.asdict(through_botocore) == dataclasses.asdict(through_pynamodb)
    assert through_botocore.allowed_cidrs == ["203.0.113.0/24", "2001:db8::/32"]
    unset = [name for name, value in dataclasses.asdict(through_botocore).items() if value is None]
    assert unset == [], f"fields the round trip lost: {unset}"
