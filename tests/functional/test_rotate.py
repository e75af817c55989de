"""Rotation with a grace period, over HTTP: new key, old key's deadline, schedule, links, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import as_json, bearer, make_key


@pytest.fixture
def later(client):
    """Move the service's and the authorizer's clocks forward, as time passing would."""
    from chalicelib import wiring
    from chalicelib.clock import utcnow

    def advance(delta: timedelta) -> None:
        clock = lambda: utcnow() + delta  # noqa: E731
        wiring.service().clock = clock
        wiring.verifier().clock = clock

    yield advance
    advance(timedelta(0))


def rotate(client, secret, key_id, grace, community="demo"):
    return client.http.post(
        f"/communities/{community}/apikeys/{key_id}/rotate", headers=bearer(secret), body=as_json({"grace": grace})
    )


def run_schedule(client):
    event = client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    return client.lambda_.invoke("finish_grace", event)


def whoami(client, secret):
    return client.http.get("/whoami", headers=bearer(secret))


def test_rotate_with_grace_keeps_the_old_key_until_the_deadline(client, admin, later):
    _, admin_secret = admin
    old_id, old_secret = make_key(roles=("ic_viewer",), name="CTI feed", description="feeds", expires_in_days=30)

    answer = rotate(client, admin_secret, old_id, "24h")

    assert answer.status_code == 201, answer.body
    new, previous, new_secret = answer.json_body["api_key"], answer.json_body["previous"], answer.json_body["secret"]
    assert new["id"] != old_id and new_secret != old_secret
    assert (new["name"], new["description"], new["roles"]) == ("CTI feed", "feeds", ["ic_viewer"])
    assert new["expires_at"] == previous["expires_at"]
    assert new["rotated_from"] == old_id and previous["rotated_to"] == new["id"]
    assert previous["status"] == "active" and previous["grace_until"] is not None
    assert answer.headers["Cache-Control"] == "no-store"
    # Both work during the grace period.
    assert whoami(client, old_secret).status_code == 200
    assert whoami(client, new_secret).json_body["id"] == new["id"]
    # The views link both ways.
    old_view = client.http.get(f"/communities/demo/apikeys/{old_id}", headers=bearer(admin_secret)).json_body
    new_view = client.http.get(f"/communities/demo/apikeys/{new['id']}", headers=bearer(admin_secret)).json_body
    assert old_view["rotated_to"] == new["id"] and new_view["rotated_from"] == old_id

    later(timedelta(hours=25))

    assert whoami(client, old_secret).status_code == 401
    assert whoami(client, new_secret).status_code == 200
    # The schedule records what the authorizer already enforces.
    result = run_schedule(client)
    assert result.payload == {"revoked": [old_id]}
    old_view = client.http.get(f"/communities/demo/apikeys/{old_id}", headers=bearer(admin_secret)).json_body
    assert old_view["status"] == "revoked" and old_view["revoked_by"] == "rotation-scheduler"
    again = run_schedule(client)
    assert again.payload == {"revoked": []}


def test_grace_never_outlives_the_old_keys_expiry(client, admin):
    _, admin_secret = admin
    soon = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old_id, old_secret = make_key(roles=("ic_viewer",), expires_at=soon)

    answer = rotate(client, admin_secret, old_id, "7d")
    assert answer.status_code == 201
    assert answer.json_body["previous"]["grace_until"] == answer.json_body["previous"]["expires_at"]


def test_immediate_rotation_revokes_the_old_key_at_once(client, admin):
    _, admin_secret = admin
    old_id, old_secret = make_key(roles=("ic_viewer",))

    answer = rotate(client, admin_secret, old_id, "immediate")

    assert answer.status_code == 201
    assert answer.json_body["previous"]["status"] == "revoked"
    assert whoami(client, old_secret).status_code == 401
    assert whoami(client, answer.json_body["secret"]).status_code == 200


def test_rotation_is_recorded_on_both_keys(client, admin):
    _, admin_secret = admin
    old_id, old_secret = make_key(roles=("ic_viewer",))
    new_id = rotate(client, admin_secret, old_id, "1h").json_body["api_key"]["id"]

    old_events = client.http.get(f"/communities/demo/apikeys/{old_id}/events", headers=bearer(admin_secret))
    new_events = client.http.get(f"/communities/demo/apikeys/{new_id}/events", headers=bearer(admin_secret))

    old_rotate = [e for e in old_events.json_body["items"] if e["action"] == "rotate"]
    new_rotate = [e for e in new_events.json_body["items"] if e["action"] == "rotate"]
    assert [e["details"]["rotated_to"] for e in old_rotate] == [new_id]
    assert [e["details"]["rotated_from"] for e in new_rotate] == [old_id]
    assert old_rotate[0]["details"]["grace"] == "1h"


def test_a_key_is_rotated_once_and_revoked_or_unknown_keys_not_at_all(client, admin):
    _, admin_secret = admin
    old_id, _ = make_key(roles=("ic_viewer",))
    assert rotate(client, admin_secret, old_id, "1h").status_code == 201

    twice = rotate(client, admin_secret, old_id, "1h")
    assert twice.status_code == 409 and "already rotated" in twice.json_body["Message"]

    revoked_id, _ = make_key(roles=("ic_viewer",))
    client.http.post(f"/communities/demo/apikeys/{revoked_id}/revoke", headers=bearer(admin_secret))
    assert rotate(client, admin_secret, revoked_id, "1h").status_code == 409

    other_id, _ = make_key(community="other", roles=("ic_viewer",))
    assert rotate(client, admin_secret, other_id, "1h").status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [({}, "grace"), ({"grace": "2h"}, "grace"), ({"grace": "1h", "extra": 1}, "extra"), ([], "body")],
)
def test_bad_rotate_bodies_name_the_field_and_change_nothing(client, admin, body, field):
    _, admin_secret = admin
    old_id, old_secret = make_key(roles=("ic_viewer",))

    answer = client.http.post(
        f"/communities/demo/apikeys/{old_id}/rotate", headers=bearer(admin_secret), body=as_json(body)
    )

    assert answer.status_code == 400 and answer.json_body["Message"].startswith(field)
    view = client.http.get(f"/communities/demo/apikeys/{old_id}", headers=bearer(admin_secret)).json_body
    assert "rotated_to" not in view


def test_rotating_needs_the_rights_to_grant_the_keys_roles(client):
    _, manager_secret = make_key(roles=("apikeys_admin",))
    admin_id, _ = make_key(roles=("community_admin",))

    answer = rotate(client, manager_secret, admin_id, "1h")

    assert answer.status_code == 403
    _, viewer_secret = make_key(roles=("ic_viewer",))
    assert rotate(client, viewer_secret, admin_id, "1h").status_code == 403


SM = {"name": "aws-secrets", "kind": "secretsmanager", "name_prefix": "apikeys/"}


def create_vaulted(client, secret):
    body = {"name": "CI", "roles": ["ic_viewer"], "vault": {"target": "aws-secrets"}}
    return client.http.post("/communities/demo/apikeys", headers=bearer(secret), body=as_json(body))


def test_a_vaulted_key_rotates_into_the_same_target(monkeypatch, client, admin, later):
    from tests.vault_fixtures import set_vault_targets, stored_secrets

    _, admin_secret = admin
    set_vault_targets(monkeypatch, [SM])
    made = create_vaulted(client, admin_secret)
    old, old_secret = made.json_body["api_key"], made.json_body["secret"]

    answer = rotate(client, admin_secret, old["id"], "1h")

    assert answer.status_code == 201, answer.body
    new, new_secret = answer.json_body["api_key"], answer.json_body["secret"]
    assert new["status"] == "active" and new["vault"]["target"] == "aws-secrets"
    assert new["vault"]["path"] != old["vault"]["path"]
    # During the grace both secrets are in the vault, each at its own key's path.
    assert sorted(stored_secrets(SM).values()) == sorted([old_secret, new_secret])

    later(timedelta(hours=2))
    run_schedule(client)

    assert list(stored_secrets(SM).values()) == [new_secret]
    assert whoami(client, new_secret).status_code == 200


def test_a_key_whose_vault_target_is_gone_is_not_rotated(monkeypatch, client, admin):
    from tests.vault_fixtures import set_vault_targets

    _, admin_secret = admin
    set_vault_targets(monkeypatch, [SM])
    old = create_vaulted(client, admin_secret)
    set_vault_targets(monkeypatch, [])
    old_id = old.json_body["api_key"]["id"]

    answer = rotate(client, admin_secret, old_id, "1h")

    assert answer.status_code == 400 and answer.json_body["Message"].startswith("vault.target")
    view = client.http.get(f"/communities/demo/apikeys/{old_id}", headers=bearer(admin_secret)).json_body
    assert view["status"] == "active" and "rotated_to" not in view


def test_a_key_in_its_grace_period_cannot_turn_on_its_successor(client, admin):
    """The reported attack: L (leaked, apikeys:manage) is rotated by its owner with 7 days' grace
    into N; during the grace L may neither rotate N away, nor revoke or edit it. L can be revoked."""
    _, admin_secret = admin
    leaked_id, leaked_secret = make_key(name="L", roles=("apikeys_admin", "ic_viewer"))
    rotated = rotate(client, admin_secret, leaked_id, "7d").json_body
    successor_id, successor_secret = rotated["api_key"]["id"], rotated["secret"]
    base = f"/communities/demo/apikeys/{successor_id}"

    answers = [
        rotate(client, leaked_secret, successor_id, "immediate"),
        client.http.post(f"{base}/revoke", headers=bearer(leaked_secret), body=b""),
        client.http.patch(base, headers=bearer(leaked_secret), body=as_json({"name": "mine"})),
    ]

    refusal = f"this key is in its rotation grace period and cannot change its successor {successor_id}"
    assert [(a.status_code, a.json_body["Message"]) for a in answers] == [(403, refusal)] * 3
    assert whoami(client, successor_secret).json_body["id"] == successor_id
    view = client.http.get(base, headers=bearer(admin_secret)).json_body
    assert (view["status"], view["name"], view.get("rotated_to")) == ("active", "L", None)
    # The retiring key can still be revoked, by the owner or by itself.
    own = client.http.post(f"/communities/demo/apikeys/{leaked_id}/revoke", headers=bearer(leaked_secret), body=b"")
    assert own.status_code == 200 and own.json_body["status"] == "revoked"
    assert whoami(client, leaked_secret).status_code == 401


def test_rotating_a_key_whose_successor_was_revoked_is_refused_in_words(client, admin):
    _, admin_secret = admin
    old_id, old_secret = make_key(roles=("ic_viewer",))
    new_id = rotate(client, admin_secret, old_id, "7d").json_body["api_key"]["id"]
    client.http.post(f"/communities/demo/apikeys/{new_id}/revoke", headers=bearer(admin_secret), body=b"")

    answer = rotate(client, admin_secret, old_id, "immediate")

    assert answer.status_code == 409
    assert answer.json_body["Message"] == (
        f"this key was already rotated to {new_id}, which was revoked; create a new key instead "
        "(this one stops working when its grace period ends)"
    )
    assert whoami(client, old_secret).status_code == 200


def _at_cap(monkeypatch, cap: int) -> None:
    from chalicelib import wiring

    monkeypatch.setenv("APIKEYS_MAX_KEYS_PER_COMMUNITY", str(cap))
    wiring.reset()


def live_keys(client, secret) -> list[str]:
    listed = client.http.get("/communities/demo/apikeys?status=active&limit=100", headers=bearer(secret)).json_body
    return [item["id"] for item in listed["items"]]


AT_CAP = (
    "this community already has 4 live API keys, the most allowed, and a key in its grace period counts until "
    'it stops working; rotate with grace "immediate", or revoke a key it no longer needs'
)


def test_rotation_chains_stop_at_the_live_key_cap(client, monkeypatch):
    """The reported chain: at the cap, rotate with grace, then the successor, and so on. Keys in
    grace count: the chain stops at the cap; an immediate rotation always goes through."""
    _at_cap(monkeypatch, 4)
    _, admin_secret = make_key(name="admin")
    first_id, _ = make_key(roles=("ic_viewer",), name="chain")
    successor = rotate(client, admin_secret, first_id, "7d")
    assert successor.status_code == 201, successor.body
    make_key(roles=("ic_viewer",), name="filler")
    assert len(live_keys(client, admin_secret)) == 4

    refused = rotate(client, admin_secret, successor.json_body["api_key"]["id"], "7d")

    assert (refused.status_code, refused.json_body["Message"]) == (409, AT_CAP)
    assert len(live_keys(client, admin_secret)) == 4
    immediate = rotate(client, admin_secret, successor.json_body["api_key"]["id"], "immediate")
    assert immediate.status_code == 201, immediate.body
    again = rotate(client, admin_secret, immediate.json_body["api_key"]["id"], "immediate")
    assert again.status_code == 201, again.body
    assert len(live_keys(client, admin_secret)) == 4
    # The count moved with each rotation: a create is refused, a revoke frees a place for one.
    from chalicelib.errors import Conflict

    with pytest.raises(Conflict, match="4 live"):
        make_key(name="one too many")
    client.http.post(f"/communities/demo/apikeys/{first_id}/revoke", headers=bearer(admin_secret), body=b"")
    assert rotate(client, admin_secret, again.json_body["api_key"]["id"], "1h").status_code == 201
    assert len(live_keys(client, admin_secret)) == 4


def test_a_vaulted_rotation_with_grace_at_the_cap_leaves_nothing_and_an_immediate_one_works(monkeypatch, client):
    from tests.vault_fixtures import set_vault_targets, stored_secrets

    _at_cap(monkeypatch, 4)
    set_vault_targets(monkeypatch, [SM])
    _, admin_secret = make_key(name="admin")
    made = create_vaulted(client, admin_secret)
    old_id = made.json_body["api_key"]["id"]
    make_key(roles=("ic_viewer",), name="filler 1")
    make_key(roles=("ic_viewer",), name="filler 2")
    before = dict(stored_secrets(SM))

    refused = rotate(client, admin_secret, old_id, "24h")

    assert (refused.status_code, refused.json_body["Message"]) == (409, AT_CAP)
    assert stored_secrets(SM) == before, "no secret written for a key that was never made"
    assert len(live_keys(client, admin_secret)) == 4
    view = client.http.get(f"/communities/demo/apikeys/{old_id}", headers=bearer(admin_secret)).json_body
    assert "rotated_to" not in view

    immediate = rotate(client, admin_secret, old_id, "immediate")
    assert immediate.status_code == 201, immediate.body
    assert len(live_keys(client, admin_secret)) == 4
    assert list(stored_secrets(SM).values()) == [immediate.json_body["secret"]]


def test_an_expired_key_is_not_rotated_and_the_refusal_says_so(client, admin, later):
    _, admin_secret = admin
    key_id, _ = make_key(roles=("ic_viewer",), expires_in_days=30)
    later(timedelta(days=31))
    refused = rotate(client, admin_secret, key_id, "1h")
    assert (refused.status_code, refused.json_body["Message"]) == (409, "an expired key cannot be rotated")
