"""A write DynamoDB applied whose answer never came back: botocore retries it, and the retry
must be recognised as the same write, never taken for another.

The fault is a botocore ``before-send`` hook on the store's own clients: it lets the first
TransactWriteItems through to DynamoDB (moto in-process, or DynamoDB Local), then raises the
ReadTimeoutError a lost answer gives. The hook stands in for a network fault neither moto nor
DynamoDB Local can produce; everything else, botocore's retry included, is the real thing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.hooks import first_non_none_response

from chalicelib import wiring
from chalicelib.keys import format as key_format
from chalicelib.storage.counts import COUNTS_ITEM
from tests.conftest import as_json, bearer, make_key
from tests.security.conftest import count

OPERATION = "TransactWriteItems"


class LostAnswers:
    """Loses the answer of the next ``times`` TransactWriteItems after DynamoDB applied each."""

    def __init__(self, times: int = 1) -> None:
        self.remaining = times
        self.applied = 0
        self.tokens: list[str] = []
        self._sending = False
        models = wiring.store().models
        connections = [models.connection] + [m._get_connection().connection for m in models.all]
        clients = {id(c.client): c.client for c in connections}
        for client in clients.values():
            client.meta.events.register_first(f"before-send.dynamodb.{OPERATION}", self._hook(client))

    def _hook(self, client: Any) -> Any:
        def before_send(request: Any, **kwargs: Any) -> Any:
            self.tokens.append(json.loads(request.body)["ClientRequestToken"])
            if self._sending or self.remaining == 0:
                return None
            self.remaining -= 1
            self._sending = True
            try:
                # The rest of the chain first (moto's own handler answers here in-process), else
                # the real socket (DynamoDB Local): the write is applied either way.
                rest = client.meta.events.emit(f"before-send.dynamodb.{OPERATION}", request=request)
                answer = first_non_none_response(rest)
                if answer is None:
                    answer = client._endpoint._send(request)
            finally:
                self._sending = False
            self.tokens.pop()  # the inner emit recorded the same request once more
            assert answer.status_code == 200, answer.content
            self.applied += 1
            count("faults")
            raise ReadTimeoutError(endpoint_url=request.url)

        return before_send


def _live_count(community: str) -> int:
    store = wiring.store()
    item = store.models.Counts.get(community, COUNTS_ITEM, consistent_read=True)
    return int(item.live_keys)


@pytest.mark.parametrize("idempotency_key", [None, "lost-answer-1"])
def test_a_create_whose_answer_was_lost_makes_one_key(client: Any, idempotency_key: str | None) -> None:
    _, admin = make_key(community="lost")
    before = wiring.store().list_keys("lost", "all", "", 100, None, wiring.service().clock()).items
    counted = _live_count("lost")
    lost = LostAnswers(times=1)
    headers = bearer(admin) | ({"Idempotency-Key": idempotency_key} if idempotency_key else {})

    answer = client.http.post(
        "/communities/lost/apikeys", headers=headers, body=as_json({"name": "once", "roles": ["ic_viewer"]})
    )

    assert answer.status_code == 201, answer.body
    assert lost.applied == 1
    assert len(lost.tokens) == 2 and lost.tokens[0] == lost.tokens[1], "botocore resent the same write"
    keys = wiring.store().list_keys("lost", "all", "", 100, None, wiring.service().clock()).items
    created = [key for key in keys if key.key_id not in {k.key_id for k in before}]
    assert [(key.name, key.status) for key in created] == [("once", "active")]
    assert _live_count("lost") == counted + 1
    secret = answer.json_body["secret"]
    parsed = key_format.parse(secret, wiring.service().key_prefix)
    assert answer.json_body["api_key"]["id"] == created[0].key_id == parsed.key_id
    # The secret answered is the one stored: it opens the key.
    whoami = client.http.get("/whoami", headers=bearer(secret))
    assert whoami.status_code == 200 and whoami.json_body["id"] == created[0].key_id
    events, _ = wiring.store().list_events("lost", created[0].key_id, 100, None)
    assert [event.action for event in events] == ["create"]


def test_a_key_id_taken_by_another_key_is_still_a_collision(moto_aws: None) -> None:
    """Only our own hash makes a failed existence condition a success: another key's is a collision."""
    import dataclasses

    from chalicelib.errors import AlreadyExists
    from chalicelib.trail import Event

    key_id, _ = make_key(community="lost")
    store = wiring.store()
    taken = store.get(key_id)
    assert taken is not None
    other = key_format.generate(wiring.service().key_prefix, key_id=key_id)
    twin = dataclasses.replace(taken, key_hash=key_format.hash_key(other.plaintext, wiring.service().peppers[0]))
    event = Event("lost", key_id, "create", "operator", taken.created_at, {})
    with pytest.raises(AlreadyExists):
        store.insert(twin, event, None)
    assert store.get(key_id) == taken


@pytest.mark.parametrize("grace", ["immediate", "1h"])
def test_a_rotation_whose_answer_was_lost_makes_one_successor(client: Any, grace: str) -> None:
    """The rotation's transaction (the new key, the old key's change) applied, its answer lost and
    sent again: one successor, the one whose secret was answered, and the old key changed once."""
    _, admin = make_key(community="lost")
    old_id, _ = make_key(community="lost", roles=("ic_viewer",))
    counted = _live_count("lost")
    lost = LostAnswers(times=1)

    answer = client.http.post(
        f"/communities/lost/apikeys/{old_id}/rotate", headers=bearer(admin), body=as_json({"grace": grace})
    )

    assert answer.status_code == 201, answer.body
    assert lost.applied == 1
    keys = wiring.store().list_keys("lost", "all", "", 100, None, wiring.service().clock()).items
    successors = [key for key in keys if key.rotated_from == old_id]
    assert [key.key_id for key in successors] == [answer.json_body["api_key"]["id"]]
    whoami = client.http.get("/whoami", headers=bearer(answer.json_body["secret"]))
    assert whoami.status_code == 200 and whoami.json_body["id"] == successors[0].key_id
    assert _live_count("lost") == counted + (1 if grace != "immediate" else 0)
    events, _ = wiring.store().list_events("lost", old_id, 100, None)
    assert [event.action for event in events].count("rotate") == 1
