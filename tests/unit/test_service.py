from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.api.bodies import Bodies
from chalicelib.errors import Conflict, Forbidden, IdempotencyKeyReused, NotFound, ValidationError, VersionConflict
from chalicelib.keys import format as key_format
from chalicelib.keys.service import KeyService
from chalicelib.roles.caller import Caller
from chalicelib.roles.catalog import BUILTIN_ROLES
from tests.fakes import InMemoryStore

PEPPERS = (key_format.Pepper("new", b"n" * 32), key_format.Pepper("old", b"o" * 32))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def service(store, clock):
    return KeyService(store, key_prefix="apk", peppers=PEPPERS, max_expiry_days=365, clock=clock, bodies=Bodies())


ADMIN = Caller.operator("demo")
VIEWER_ADMIN = Caller("k1", "demo", ("apikeys_admin",), frozenset({"apikeys:manage"}))


def create(service, name="CTI", roles=("ic_viewer",), caller=ADMIN, **extra):
    return service.create(caller, "demo", {"name": name, "roles": list(roles), **extra})


def test_create_returns_the_secret_once_and_stores_only_its_hash(service, store):
    created = create(service)
    stored = store.keys[created.key.key_id]
    assert created.secret and key_format.parse(created.secret, "apk").key_id == stored.key_id
    assert stored.key_hash == key_format.hash_key(created.secret, PEPPERS[0])
    assert stored.pepper_id == "new"
    assert created.secret not in repr(stored.__dict__)
    assert service.get(ADMIN, "demo", stored.key_id).view(service.clock()).get("secret") is None
    assert [e.action for e in store.events] == ["create"]


def test_a_key_made_for_some_networks_only_is_stored_with_them(service, store):
    created = create(service, allowed_cidrs=["203.0.113.0/24", "2001:db8::/32"])
    assert store.keys[created.key.key_id].allowed_cidrs == ["203.0.113.0/24", "2001:db8::/32"]


def test_idempotency_key_replays_the_same_key_without_the_secret(service, store):
    body = {"name": "CI", "roles": ["ic_viewer"]}
    first = service.create(ADMIN, "demo", body, "retry-1")
    again = service.create(ADMIN, "demo", dict(body), "retry-1")
    assert again.replayed and again.secret is None
    assert again.key.key_id == first.key.key_id
    assert len(store.keys) == 1
    with pytest.raises(IdempotencyKeyReused):
        service.create(ADMIN, "demo", {"name": "other", "roles": ["ic_viewer"]}, "retry-1")
    assert len(store.keys) == 1


def test_a_caller_cannot_grant_permissions_it_lacks(service, store):
    with pytest.raises(Forbidden, match="intelligence:read"):
        create(service, caller=VIEWER_ADMIN, roles=("ic_viewer",))
    assert create(service, caller=VIEWER_ADMIN, roles=("apikeys_admin",)).key
    assert len(store.keys) == 1


def test_other_communities_do_not_exist_and_managing_needs_the_permission(service):
    key = create(service).key
    stranger = Caller.operator("other")
    with pytest.raises(NotFound):
        service.get(stranger, "demo", key.key_id)
    with pytest.raises(NotFound):
        service.get(stranger, "other", key.key_id)
    reader = Caller("k2", "demo", ("ic_viewer",), frozenset({"intelligence:read"}))
    with pytest.raises(Forbidden):
        service.list(reader, "demo", {})


def test_edit_changes_fields_and_records_before_and_after(service, store):
    key = create(service).key
    edited = service.edit(ADMIN, "demo", key.key_id, {"name": "Renamed", "roles": ["ic_editor"]})
    assert (edited.name, edited.roles) == ("Renamed", ["ic_editor"])
    event = store.events[-1]
    assert event.action == "edit"
    assert event.details == {
        "before": {"name": "CTI", "roles": ["ic_viewer"]},
        "after": {"name": "Renamed", "roles": ["ic_editor"]},
    }


def test_edit_lost_race_is_applied_to_the_new_version(service, store, monkeypatch):
    key = create(service).key
    real_update = store.update
    calls = {"n": 0}

    def racing_update(current, changes, event):
        calls["n"] += 1
        if calls["n"] == 1:
            real_update(current, {"description": "by someone else"}, event)
            raise VersionConflict()
        return real_update(current, changes, event)

    monkeypatch.setattr(store, "update", racing_update)
    edited = service.edit(ADMIN, "demo", key.key_id, {"name": "Mine"})
    assert (edited.name, edited.description) == ("Mine", "by someone else")


def test_revoke_is_final_and_repeatable(service, store, clock):
    key = create(service).key
    revoked = service.revoke(ADMIN, "demo", key.key_id, {"reason": "left the team"})
    assert revoked.status == "revoked" and revoked.revoked_by == "operator"
    clock.advance(minutes=5)
    again = service.revoke(ADMIN, "demo", key.key_id)
    assert again.revoked_at == revoked.revoked_at
    assert [e.action for e in store.events].count("revoke") == 1
    with pytest.raises(Conflict):
        service.edit(ADMIN, "demo", key.key_id, {"name": "back"})
    with pytest.raises(VersionConflict):
        store.update(store.get(key.key_id), {"status": "active"}, store.events[-1])


def test_expiry_presets_custom_dates_and_bounds(service, clock):
    preset = create(service, expires_in_days=30).key
    assert preset.expires_at == clock.now + timedelta(days=30)
    custom = create(service, expires_at="2026-06-01T12:00:00Z").key
    assert custom.expires_at == datetime(2026, 6, 1, 12, tzinfo=UTC)
    for bad in ("2025-12-31T00:00:00Z", "2028-01-01T00:00:00Z", "tomorrow", 5):
        with pytest.raises(ValidationError, match="expires_at"):
            create(service, expires_at=bad)
    with pytest.raises(ValidationError, match="expires_in_days"):
        create(service, expires_in_days=31)
    clock.advance(days=31)
    assert service.get(ADMIN, "demo", preset.key_id).status_at(clock.now) == "expired"


def test_list_filters_searches_and_pages_newest_first(service, clock):
    made = []
    for index in range(7):
        clock.advance(seconds=1)
        made.append(create(service, name=f"Key {index}", description="Playbook" if index % 2 else "").key)
    service.revoke(ADMIN, "demo", made[0].key_id)
    page = service.list(ADMIN, "demo", {"limit": "3"})
    assert [i["name"] for i in page["items"]] == ["Key 6", "Key 5", "Key 4"]
    rest = service.list(ADMIN, "demo", {"limit": "3", "cursor": page["next_cursor"]})
    assert [i["name"] for i in rest["items"]] == ["Key 3", "Key 2", "Key 1"]
    assert [i["name"] for i in service.list(ADMIN, "demo", {"status": "revoked"})["items"]] == ["Key 0"]
    assert len(service.list(ADMIN, "demo", {"status": "active"})["items"]) == 6
    assert [i["name"] for i in service.list(ADMIN, "demo", {"search": "PLAYBOOK"})["items"]] == [
        "Key 5", "Key 3", "Key 1",
    ]  # fmt: skip
    by_id = service.list(ADMIN, "demo", {"search": made[2].key_id.lower()})
    assert [i["id"] for i in by_id["items"]] == [made[2].key_id]


def test_cursor_cannot_be_edited_or_reused_elsewhere(service, clock):
    for index in range(3):
        clock.advance(seconds=1)
        create(service, name=f"Key {index}")
    cursor = service.list(ADMIN, "demo", {"limit": "1"})["next_cursor"]
    # Edit the signed payload, not the signature's last characters (base64 padding bits there
    # may decode to the same bytes).
    tampered = ("B" if cursor[0] != "B" else "C") + cursor[1:]
    for params in ({"cursor": tampered}, {"cursor": cursor, "status": "revoked"}, {"cursor": "garbage"}):
        with pytest.raises(ValidationError, match="cursor"):
            service.list(ADMIN, "demo", {"limit": "1", **params})
    other = KeyService(InMemoryStore(), key_prefix="apk", peppers=PEPPERS, clock=clock, bodies=Bodies())
    with pytest.raises(NotFound):
        other.list(ADMIN, "other", {"limit": "1", "cursor": cursor})
    with pytest.raises(ValidationError, match="cursor"):
        other.list(Caller.operator("other"), "other", {"limit": "1", "cursor": cursor})


def test_keys_hashed_with_an_older_pepper_keep_verifying(store, clock):
    old_service = KeyService(store, key_prefix="apk", peppers=PEPPERS[1:], clock=clock, bodies=Bodies())
    created = create(old_service)
    assert store.keys[created.key.key_id].pepper_id == "old"
    stored = store.keys[created.key.key_id]
    assert key_format.verify(created.secret, stored.key_hash, stored.pepper_id, PEPPERS)


def test_catalog_lists_the_builtin_roles(service):
    names = {role["name"] for role in service.roles(ADMIN)}
    assert {"ic_viewer", "community_admin"} <= names
    viewer = next(r for r in service.roles(ADMIN) if r["name"] == "ic_viewer")
    assert viewer["description"] == "Intelligence Center Read-Only"
    assert "apikeys:manage" in BUILTIN_ROLES["community_admin"].permissions
