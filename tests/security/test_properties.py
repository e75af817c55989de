"""Hypothesis properties of the key format and of the lifecycle.

The format: every generated key parses and verifies; every one-character change, truncation or
extension is refused by ``key_format.parse`` (the checksum and the shape, with no read at all).
The lifecycle: a state machine over the real ``KeyService`` and ``Verifier`` (on the in-memory
store of tests/fakes.py, which keeps DynamoStore's guarantees) creates, edits, revokes, lets
time pass and authenticates in any order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from chalicelib.api.bodies import Bodies
from chalicelib.authorizer.verifier import Unauthorized, Verifier
from chalicelib.errors import Conflict
from chalicelib.keys import format as key_format
from chalicelib.keys.service import KeyService
from chalicelib.roles.caller import Caller
from chalicelib.roles.catalog import PERMISSIONS
from tests.fakes import InMemoryStore
from tests.security.conftest import count

PREFIX = "apk"
PEPPERS = (key_format.Pepper("p2", b"p" * 32), key_format.Pepper("p1", b"o" * 32))
PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
ANY_CHAR = st.one_of(PRINTABLE, st.characters(blacklist_categories=("Cs",)))


def generated_keys() -> st.SearchStrategy[str]:
    """Keys exactly as the service makes them (their randomness comes from ``secrets``)."""
    return st.builds(
        lambda prefix, _example: key_format.generate(prefix).plaintext,
        st.sampled_from([PREFIX, "sk", "acme2024x"]),
        st.integers(),  # makes every example distinct, so hypothesis runs them all
    )


@settings(max_examples=300)
@given(plaintext=generated_keys())
def test_every_generated_key_parses_and_verifies(plaintext: str) -> None:
    count("generated keys")
    prefix = plaintext.split("_", 1)[0]
    parsed = key_format.parse(plaintext, prefix)
    assert parsed.plaintext == plaintext and plaintext.startswith(f"{prefix}_{parsed.key_id}")
    assert key_format.is_key_id(parsed.key_id)
    for pepper in PEPPERS:
        stored = key_format.hash_key(plaintext, pepper)
        assert key_format.verify(plaintext, stored, pepper.id, PEPPERS)
        assert not key_format.verify(plaintext, stored, "gone", PEPPERS)
    assert key_format.key_pattern(prefix)  # the scanners' expression exists for every prefix


@settings(max_examples=500)
@given(plaintext=generated_keys(), data=st.data())
def test_every_one_character_change_is_refused(plaintext: str, data: Any) -> None:
    prefix = plaintext.split("_", 1)[0]
    position = data.draw(st.integers(0, len(plaintext) - 1), label="position")
    replacement = data.draw(ANY_CHAR.filter(lambda c: c != plaintext[position]), label="replacement")
    changed = plaintext[:position] + replacement + plaintext[position + 1 :]
    count("bad inputs")
    with pytest.raises(key_format.InvalidKey):
        key_format.parse(changed, prefix)


@settings(max_examples=300)
@given(plaintext=generated_keys(), data=st.data())
def test_every_truncation_and_extension_is_refused(plaintext: str, data: Any) -> None:
    prefix = plaintext.split("_", 1)[0]
    cut = data.draw(st.integers(0, len(plaintext) - 1), label="cut")
    tail = data.draw(st.text(ANY_CHAR, min_size=1, max_size=8), label="tail")
    head = data.draw(st.text(ANY_CHAR, min_size=1, max_size=8), label="head")
    for bad in (plaintext[:cut], plaintext + tail, head + plaintext, plaintext[1:], " " + plaintext):
        count("bad inputs")
        with pytest.raises(key_format.InvalidKey):
            key_format.parse(bad, prefix)


@settings(max_examples=200)
@given(plaintext=generated_keys(), data=st.data())
def test_a_changed_key_never_matches_the_stored_hash(plaintext: str, data: Any) -> None:
    """Past the checksum, the hash is the second wall: a key forged with a valid checksum fails."""
    prefix = plaintext.split("_", 1)[0]
    parsed = key_format.parse(plaintext, prefix)
    other = key_format.generate(prefix, key_id=parsed.key_id).plaintext  # same id, valid checksum
    count("bad inputs")
    stored = key_format.hash_key(plaintext, PEPPERS[0])
    assert not key_format.verify(other, stored, PEPPERS[0].id, PEPPERS)


# -- the lifecycle state machine -----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


ADMIN = Caller("adminadminadmin1", "demo", ("community_admin",), frozenset(PERMISSIONS))
NAMES = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)
ROLE_SETS = st.lists(
    st.sampled_from(["ic_viewer", "ic_editor", "soc_analyst", "apikeys_admin"]), min_size=1, max_size=3, unique=True
)  # noqa: E501


class Lifecycle(RuleBasedStateMachine):
    keys_made = Bundle("keys")

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.store = InMemoryStore()
        self.service = KeyService(self.store, key_prefix=PREFIX, peppers=PEPPERS, clock=self.clock, bodies=Bodies())
        self.verifier = Verifier(
            self.store.get, key_prefix=PREFIX, peppers=PEPPERS, catalog=self.service.catalog, clock=self.clock
        )
        self.secrets: dict[str, str] = {}  # key id -> secret, as shown once
        self.shown: list[str] = []  # every secret any answer ever carried
        self.revoked: set[str] = set()
        self.expires: dict[str, datetime | None] = {}
        self.names: dict[str, str] = {}

    @rule(target=keys_made, name=NAMES, roles=ROLE_SETS, days=st.sampled_from([None, 30, 180]), idem=st.booleans())
    def create(self, name: str, roles: list[str], days: int | None, idem: bool) -> str:
        body: dict[str, Any] = {"name": name, "roles": roles}
        if days:
            body["expires_in_days"] = days
        idempotency_key = f"idem-{len(self.shown)}" if idem else None
        created = self.service.create(ADMIN, "demo", body, idempotency_key)
        assert created.secret is not None and not created.replayed
        self._shown(created.secret)
        key_id = created.key.key_id
        self.secrets[key_id] = created.secret
        self.expires[key_id] = created.key.expires_at
        self.names[key_id] = name
        if idem:  # the retry of a create answers the same key and never the secret again
            again = self.service.create(ADMIN, "demo", body, idempotency_key)
            assert again.replayed and again.secret is None and again.key.key_id == key_id
        return key_id

    @rule(key_id=keys_made, name=NAMES)
    def edit(self, key_id: str, name: str) -> None:
        try:
            edited = self.service.edit(ADMIN, "demo", key_id, {"name": name})
        except Conflict:
            assert key_id in self.revoked
            return
        assert key_id not in self.revoked
        assert edited.name == name.strip()
        self.names[key_id] = edited.name

    @rule(key_id=keys_made)
    def revoke(self, key_id: str) -> None:
        revoked = self.service.revoke(ADMIN, "demo", key_id, None)
        assert revoked.status == "revoked"
        self.revoked.add(key_id)

    @rule(key_id=consumes(keys_made))
    def revoke_twice(self, key_id: str) -> None:
        first = self.service.revoke(ADMIN, "demo", key_id, None)
        second = self.service.revoke(ADMIN, "demo", key_id, {"reason": "again"})
        assert second.revoked_at == first.revoked_at and second.status == "revoked"
        self.revoked.add(key_id)

    @rule(days=st.sampled_from([1, 29, 31, 200]))
    def time_passes(self, days: int) -> None:
        self.clock.now += timedelta(days=days)

    @rule(key_id=keys_made, tamper=st.booleans())
    def authenticate(self, key_id: str, tamper: bool) -> None:
        secret = self.secrets[key_id]
        if tamper:
            secret = key_format.generate(PREFIX, key_id=key_id).plaintext  # right id and checksum, wrong secret
        expires = self.expires[key_id]
        should_pass = not tamper and key_id not in self.revoked and (expires is None or expires > self.clock.now)
        try:
            caller = self.verifier.verify(f"Bearer {secret}")
        except Unauthorized:
            assert not should_pass
            return
        assert should_pass, f"{key_id} passed while revoked/expired/tampered"
        assert caller.key_id == key_id and caller.community == "demo"

    @rule()
    def read_everything(self) -> None:
        listed = self.service.list(ADMIN, "demo", {"status": "all", "limit": "100"})
        text = repr(listed)
        for key_id in self.secrets:
            text += repr(self.service.get(ADMIN, "demo", key_id).view(self.clock.now))
        for secret in self.shown:
            assert secret not in text and secret.split("_", 1)[1][16:40] not in text

    @invariant()
    def revoked_is_never_left(self) -> None:
        for key_id in self.revoked:
            assert self.store.keys[key_id].status == "revoked"

    @invariant()
    def a_secret_is_shown_once(self) -> None:
        assert len(self.shown) == len(set(self.shown))

    @invariant()
    def the_store_holds_no_secret(self) -> None:
        stored = repr(self.store.keys) + repr(self.store.events)
        for secret in self.shown[-5:]:
            assert secret not in stored and secret.split("_", 1)[1][16:40] not in stored

    def _shown(self, secret: str) -> None:
        self.shown.append(secret)


TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
