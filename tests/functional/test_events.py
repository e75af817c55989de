"""The audit trail over HTTP: who did what when, newest first, paginated, never a secret."""

from __future__ import annotations

import json

from tests.conftest import as_json, bearer, make_key


def events(client, secret, path, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.http.get(f"{path}?{query}" if query else path, headers=bearer(secret))


def all_pages(client, secret, path, limit):
    items, cursor, pages = [], None, 0
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        answer = events(client, secret, path, **params)
        assert answer.status_code == 200, answer.body
        items += answer.json_body["items"]
        pages += 1
        cursor = answer.json_body["next_cursor"]
        if cursor is None:
            return items, pages


def test_a_keys_life_is_in_its_trail_newest_first(client, admin):
    admin_id, secret = admin
    created = client.http.post("/communities/demo/apikeys", headers=bearer(secret),
                               body=as_json({"name": "CTI", "roles": ["ic_viewer"]})).json_body  # fmt: skip
    key_id = created["api_key"]["id"]
    client.http.patch(f"/communities/demo/apikeys/{key_id}", headers=bearer(secret),
                      body=as_json({"name": "CTI feed", "roles": ["ic_editor"]}))  # fmt: skip
    rotated = client.http.post(f"/communities/demo/apikeys/{key_id}/rotate", headers=bearer(secret),
                               body=as_json({"grace": "1h"})).json_body  # fmt: skip
    client.http.post(f"/communities/demo/apikeys/{key_id}/revoke", headers=bearer(secret),
                     body=as_json({"reason": "moved to the new key"}))  # fmt: skip

    trail = events(client, secret, f"/communities/demo/apikeys/{key_id}/events").json_body

    assert [e["action"] for e in trail["items"]] == ["revoke", "rotate", "edit", "create"]
    assert {e["actor"] for e in trail["items"]} == {f"key:{admin_id}"}
    assert all(e["key_id"] == key_id and e["at"] for e in trail["items"])
    edit = trail["items"][2]["details"]
    assert edit == {
        "before": {"name": "CTI", "roles": ["ic_viewer"]},
        "after": {"name": "CTI feed", "roles": ["ic_editor"]},
    }
    assert trail["items"][0]["details"]["reason"] == "moved to the new key"
    assert trail["items"][3]["details"]["roles"] == ["ic_viewer"]

    # Never a secret nor a hash, in any event of the community.
    from chalicelib import wiring

    community_trail, _ = all_pages(client, secret, "/communities/demo/events", 100)
    text = json.dumps(community_trail)
    for kid, plaintext in ((key_id, created["secret"]), (rotated["api_key"]["id"], rotated["secret"])):
        assert plaintext not in text and plaintext[4:] not in text
        assert wiring.store().get(kid).key_hash not in text
    assert secret not in text


def test_pages_follow_signed_cursors_without_gaps_or_repeats(client, admin):
    _, secret = admin
    key_id, _ = make_key(roles=("ic_viewer",))
    for number in range(6):
        client.http.patch(f"/communities/demo/apikeys/{key_id}", headers=bearer(secret),
                          body=as_json({"description": f"version {number}"}))  # fmt: skip

    items, pages = all_pages(client, secret, f"/communities/demo/apikeys/{key_id}/events", 3)

    assert [e["action"] for e in items] == ["edit"] * 6 + ["create"]
    assert pages == 3
    assert len({e["id"] for e in items}) == 7
    assert [e["details"]["after"]["description"] for e in items[:6]] == [f"version {n}" for n in range(5, -1, -1)]

    community_items, _ = all_pages(client, secret, "/communities/demo/events", 2)
    assert {e["id"] for e in items} <= {e["id"] for e in community_items}
    ids = [e["id"] for e in community_items]
    assert ids == sorted(ids, reverse=True)


def test_cursors_cannot_be_forged_or_moved_to_another_listing(client, admin):
    _, secret = admin
    key_id, _ = make_key(roles=("ic_viewer",))
    other_id, _ = make_key(roles=("ic_viewer",))
    client.http.patch(f"/communities/demo/apikeys/{key_id}", headers=bearer(secret), body=as_json({"description": "x"}))
    cursor = events(client, secret, f"/communities/demo/apikeys/{key_id}/events", limit=1).json_body["next_cursor"]
    assert cursor

    for path, bad in (
        (f"/communities/demo/apikeys/{key_id}/events", ("B" if cursor[0] != "B" else "C") + cursor[1:]),
        (f"/communities/demo/apikeys/{other_id}/events", cursor),
        ("/communities/demo/events", cursor),
    ):
        answer = events(client, secret, path, cursor=bad)
        assert answer.status_code == 400 and answer.json_body["Message"].startswith("cursor"), path
    bad_limit = events(client, secret, "/communities/demo/events", limit=0)
    assert bad_limit.status_code == 400 and bad_limit.json_body["Message"].startswith("limit")
    unknown = events(client, secret, "/communities/demo/events", colour="red")
    assert unknown.status_code == 400 and unknown.json_body["Message"].startswith("colour")


def test_only_managers_of_the_community_read_its_trail(client, admin):
    _, secret = admin
    other_key, other_secret = make_key(community="other")
    _, viewer_secret = make_key(roles=("ic_viewer",))

    assert events(client, secret, f"/communities/other/apikeys/{other_key}/events").status_code == 404
    assert events(client, secret, "/communities/other/events").status_code == 404
    assert events(client, viewer_secret, "/communities/demo/events").status_code == 403
    assert events(client, secret, "/communities/demo/apikeys/0000000000000000/events").status_code == 404
    other_trail = events(client, other_secret, "/communities/other/events").json_body["items"]
    assert [e["key_id"] for e in other_trail] == [other_key]
