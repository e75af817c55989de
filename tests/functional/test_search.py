"""Search over the keys' search entries, on moto and (``DDB_BACKEND=dynamodb-local``) DynamoDB Local.

What a console user relies on: a key is found by any part of its name, description or id, in
any case, as it is now (edited a moment ago, revoked a moment ago), wherever it sits in a large
community, with the same pages and cursor as the listing, in a bounded number of DynamoDB calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from chalicelib import wiring
from chalicelib.keys.records import ACTIVE, REVOKED
from chalicelib.roles.caller import Caller
from tests.bulk import bulk_keys
from tests.conftest import as_json, bearer

BASE = "/communities/demo/apikeys"


def listing(client: Any, secret: str, **params: str) -> dict[str, Any]:
    query = "&".join(f"{name}={quote(value)}" for name, value in params.items())
    response = client.http.get(f"{BASE}?{query}", headers=bearer(secret))
    assert response.status_code == 200, response.body
    return dict(response.json_body)


def found(client: Any, secret: str, term: str, status: str = "all") -> list[str]:
    return [item["id"] for item in listing(client, secret, search=term, status=status)["items"]]


def create(client: Any, secret: str, **body: Any) -> dict[str, Any]:
    response = client.http.post(BASE, headers=bearer(secret), body=as_json({"roles": ["ic_viewer"], **body}))
    assert response.status_code == 201, response.body
    return dict(response.json_body["api_key"])


@contextmanager
def dynamodb_calls() -> Iterator[list[str]]:
    """The DynamoDB operations the service sends meanwhile (every store connection shares this client)."""
    wiring.store()
    calls: list[str] = []
    events = wiring.key_reader().client.meta.events

    def count(model: Any, **_: Any) -> None:
        calls.append(model.name)

    events.register("before-call.dynamodb", count)
    try:
        yield calls
    finally:
        events.unregister("before-call.dynamodb", count)


def test_a_key_is_found_as_it_is_now_after_each_edit(client, admin):
    _, secret = admin
    key = create(client, secret, name="Alpha Feed", description="old words")
    assert found(client, secret, "ALPHA f") == [key["id"]]
    assert found(client, secret, key["id"][3:11].upper()) == [key["id"]]  # the id, in another case

    edited = client.http.patch(
        f"{BASE}/{key['id']}", headers=bearer(secret), body=as_json({"name": "Bravo Relay", "description": "new text"})
    )
    assert edited.status_code == 200, edited.body
    assert found(client, secret, "bravo") == [key["id"]]
    assert found(client, secret, "NEW TEXT") == [key["id"]]
    assert found(client, secret, "alpha") == []
    assert found(client, secret, "old words") == []

    revoked = client.http.post(f"{BASE}/{key['id']}/revoke", headers=bearer(secret), body=as_json({}))
    assert revoked.status_code == 200, revoked.body
    assert found(client, secret, "bravo", status="active") == []
    assert found(client, secret, "bravo", status="revoked") == [key["id"]]
    assert found(client, secret, "bravo", status="all") == [key["id"]]


def test_a_rotated_key_and_its_successor_are_both_found_as_they_are(client, admin):
    _, secret = admin
    old = create(client, secret, name="Orbit Relay", description="rotated monthly")
    rotated = client.http.post(f"{BASE}/{old['id']}/rotate", headers=bearer(secret), body=as_json({"grace": "24h"}))
    assert rotated.status_code == 201, rotated.body
    new = rotated.json_body["api_key"]
    assert found(client, secret, "orbit", status="active") == [new["id"], old["id"]]  # the old one, in its grace

    revoked = client.http.post(f"{BASE}/{old['id']}/revoke", headers=bearer(secret), body=as_json({}))
    assert revoked.status_code == 200, revoked.body
    assert found(client, secret, "ORBIT", status="active") == [new["id"]]
    assert found(client, secret, "monthly", status="revoked") == [old["id"]]


def test_a_key_at_the_far_end_of_a_large_community_in_a_few_calls(client, admin):
    _, secret = admin
    target = create(client, secret, name="Zebra Crossing Sensor", description="the oldest of them all")
    newer = datetime.now(UTC) + timedelta(seconds=1)
    bulk_keys(wiring.store(), "demo", 2000, start=newer, status=lambda i: REVOKED if i % 10 else ACTIVE)
    first_page = listing(client, secret, limit="100", status="all")
    assert target["id"] not in [item["id"] for item in first_page["items"]] and first_page["next_cursor"]

    operator = Caller.operator("demo")
    with dynamodb_calls() as calls:  # the service's own calls, without the route's authorizer
        answer = wiring.service().list(operator, "demo", {"search": "zebra CROSSING", "status": "all", "limit": "50"})
    assert [item["id"] for item in answer["items"]] == [target["id"]] and answer["next_cursor"] is None
    assert answer["items"][0]["name"] == "Zebra Crossing Sensor"  # the item itself, read by key
    assert "Query" in calls and calls.count("Query") + calls.count("BatchGetItem") == len(calls) <= 5, calls

    with dynamodb_calls() as calls:
        none = wiring.service().list(operator, "demo", {"search": "no key is named this", "status": "active"})
    assert none == {"items": [], "next_cursor": None}
    assert 1 <= calls.count("Query") == len(calls) <= 4, calls

    assert found(client, secret, "zebra", status="active") == [target["id"]]
    assert found(client, secret, "zebra", status="revoked") == []


def test_a_search_pages_through_many_matches_with_its_cursor(client, admin):
    _, secret = admin
    records = bulk_keys(
        wiring.store(),
        "demo",
        800,
        start=datetime.now(UTC),
        name=lambda i: f"Needle {i}" if i % 25 == 0 else f"hay {i}",
        status=lambda i: REVOKED if i % 50 == 0 else ACTIVE,
    )
    needles = [r.key_id for r in reversed(records) if r.name.startswith("Needle")]
    active_needles = [r.key_id for r in reversed(records) if r.name.startswith("Needle") and r.status == ACTIVE]
    assert len(needles) == 32 and len(active_needles) == 16

    for status, expected in (("all", needles), ("active", active_needles)):
        seen: list[str] = []
        cursor = None
        while True:
            params = {"search": "needle", "status": status, "limit": "7", **({"cursor": cursor} if cursor else {})}
            page = listing(client, secret, **params)
            assert len(page["items"]) <= 7
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == expected, status

    other = listing(client, secret, search="needle", limit="7")["next_cursor"]
    refused = client.http.get(f"{BASE}?search=hay&limit=7&cursor={other}", headers=bearer(secret))
    assert refused.status_code == 400 and "cursor" in refused.body.decode()


def test_a_search_entry_that_disagrees_with_its_item_is_not_shown(client, admin):
    """The store writes a key's search entry in the key's own transaction, so they agree; a write
    behind the store's back (a hand edit, one table restored without the other) can still make
    them differ. Here the item is renamed alone: the entry still says "Quartz", the item says
    "Basalt". A page shows a key only as its item is now."""
    _, secret = admin
    key = create(client, secret, name="Quartz Probe")
    ApiKey = wiring.store().models.ApiKey
    item = ApiKey.get(key["id"], consistent_read=True)
    item.update(actions=[ApiKey.name.set("Basalt Probe")])
    assert found(client, secret, "quartz") == []  # matched in the index, not by the item as it is
    listed = listing(client, secret, search="probe")["items"]  # matched by both: shown as it is now
    assert [(i["id"], i["name"]) for i in listed] == [(key["id"], "Basalt Probe")]
