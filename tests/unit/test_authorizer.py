"""The verification core with an in-memory table: refusals, cache, last used, route map, logs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import logs
from chalicelib.authorizer.policy import DEFAULT_ROUTE_MAP, RouteMap, RouteMapError
from chalicelib.authorizer.verifier import Unauthorized, Verifier
from chalicelib.keys import format as key_format
from chalicelib.keys.records import ACTIVE, PENDING, REVOKED, KeyRecord
from chalicelib.roles.caller import Caller, Grant
from chalicelib.roles.catalog import BUILTIN_ROLES, Role
from tests.iam import iam_allows

PEPPER = key_format.Pepper("p1", b"k" * 32)
NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
ARN_BASE = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod"


class Table:
    """The keys table as the verifier sees it: a lookup that counts its calls."""

    def __init__(self) -> None:
        self.items: dict[str, KeyRecord] = {}
        self.lookups = 0
        self.touches: list[str] = []
        self.touch_error: Exception | None = None

    def add(self, roles: tuple[str, ...] = ("ic_viewer",), **changes: Any) -> str:
        parsed = key_format.generate("apk")
        record = KeyRecord(
            key_id=parsed.key_id, community="demo", name="k", description="", roles=list(roles), status=ACTIVE,
            key_hash=key_format.hash_key(parsed.plaintext, PEPPER), pepper_id=PEPPER.id, hint="", created_at=NOW,
            created_by="operator",
        )  # fmt: skip
        self.items[parsed.key_id] = replace(record, **changes)
        return parsed.plaintext

    def lookup(self, key_id: str) -> KeyRecord | None:
        self.lookups += 1
        return self.items.get(key_id)

    def touch(self, key_id: str, now: datetime) -> None:
        self.touches.append(key_id)
        if self.touch_error is not None:
            raise self.touch_error


class Clock:
    def __init__(self) -> None:
        self.now = NOW
        self.moment = 1000.0

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.moment += seconds


@pytest.fixture
def table() -> Table:
    return Table()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def verifier(table: Table, clock: Clock, **options: Any) -> Verifier:
    return Verifier(
        table.lookup, key_prefix="apk", peppers=(PEPPER,), catalog=lambda community: BUILTIN_ROLES,
        clock=lambda: clock.now, touch=table.touch, monotonic=lambda: clock.moment, **options,
    )  # fmt: skip


def refusal(call: Any) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        call()
    assert str(caught.value) == "Unauthorized"
    return caught.value


# -- refusals ------------------------------------------------------------------------------------


def test_a_good_key_gives_its_caller(table, clock):
    secret = table.add(roles=("ic_editor",))
    caller = verifier(table, clock).verify(f"Bearer {secret}")
    assert caller.community == "demo"
    assert caller.permissions == {"intelligence:read", "intelligence:write"}


@pytest.mark.parametrize(
    "token",
    ["", None, "Bearer ", "apk_short", "xyz_" + "A" * 46, "apk_" + "!" * 46, "Basic dXNlcjpwYXNz"],
)
def test_missing_and_malformed_keys_make_no_lookup(table, clock, token):
    assert refusal(lambda: verifier(table, clock).verify(token)).reason in ("missing", "malformed")
    assert table.lookups == 0


def test_a_bad_checksum_makes_no_lookup(table, clock):
    secret = table.add()
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert refusal(lambda: verifier(table, clock).verify(flipped)).reason == "malformed"
    assert table.lookups == 0


def test_every_bad_key_gets_the_same_refusal(table, clock):
    check = verifier(table, clock)
    unknown = key_format.generate("apk").plaintext
    revoked = table.add(status=REVOKED)
    pending = table.add(status=PENDING)
    expired = table.add(expires_at=NOW - timedelta(seconds=1))
    wrong_secret = key_format.generate("apk", key_id=key_format.parse(table.add(), "apk").key_id).plaintext
    reasons = {}
    for name, token in [
        ("unknown", unknown), ("revoked", revoked), ("pending", pending), ("expired", expired),
        ("hash mismatch", wrong_secret),
    ]:  # fmt: skip
        refused = refusal(lambda token=token: check.verify(token))
        reasons[name] = refused.reason
        assert refused.args == ("Unauthorized",)
    assert reasons == {
        "unknown": "unknown", "revoked": "revoked", "pending": "pending", "expired": "expired",
        "hash mismatch": "hash mismatch",
    }  # fmt: skip


def test_an_internal_error_fails_closed(table, clock, capsys):
    secret = table.add()

    def broken(key_id: str) -> None:
        raise RuntimeError("the table is on fire")

    check = verifier(table, clock)
    check.lookup = broken
    logs.configure("INFO")
    refused = refusal(lambda: check.authorize(secret, face="app"))
    assert refused.reason == "error:RuntimeError"
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["outcome"] == "unauthorized" and line["reason"] == "error:RuntimeError"


# -- cache and revocation ------------------------------------------------------------------------


def test_cache_ttl_zero_reads_every_time(table, clock):
    secret = table.add()
    check = verifier(table, clock, cache_ttl_seconds=0)
    check.verify(secret)
    check.verify(secret)
    assert table.lookups == 2


def test_cache_serves_within_ttl_and_forget_drops_it(table, clock):
    secret = table.add()
    key_id = key_format.parse(secret, "apk").key_id
    check = verifier(table, clock, cache_ttl_seconds=30)
    check.verify(secret)
    check.verify(secret)
    assert table.lookups == 1
    table.items[key_id] = replace(table.items[key_id], status=REVOKED)
    check.forget(key_id)
    assert refusal(lambda: check.verify(secret)).reason == "revoked"


def test_a_revoked_key_is_refused_once_the_cache_ttl_has_passed(table, clock):
    secret = table.add()
    key_id = key_format.parse(secret, "apk").key_id
    check = verifier(table, clock, cache_ttl_seconds=30)
    check.verify(secret)
    table.items[key_id] = replace(table.items[key_id], status=REVOKED)  # revoked elsewhere
    clock.advance(31)
    assert refusal(lambda: check.verify(secret)).reason == "revoked"


def test_a_cached_key_is_read_again_once_its_whole_ttl_has_passed(table, clock):
    """A TTL of a second or less caches too (APIKEYS_AUTH_CACHE_TTL takes fractions), and at
    exactly the TTL the key is read again: a revoke elsewhere is seen within the TTL, not later."""
    for ttl in (0.5, 1, 30):
        table.lookups = 0
        secret = table.add()
        check = verifier(table, clock, cache_ttl_seconds=ttl)
        check.verify(secret)
        clock.advance(ttl / 2)
        check.verify(secret)
        assert table.lookups == 1, ttl
        key_id = key_format.parse(secret, "apk").key_id
        table.items[key_id] = replace(table.items[key_id], status=REVOKED)  # revoked elsewhere
        clock.advance(ttl / 2)
        assert refusal(lambda secret=secret, check=check: check.verify(secret)).reason == "revoked", ttl
        assert table.lookups == 2, ttl


def test_the_cache_holds_at_most_its_limit_of_keys(table, clock, monkeypatch):
    """Memory stays bounded: the key past the limit empties the cache, so every key is read anew."""
    monkeypatch.setattr("chalicelib.authorizer.verifier._CACHE_LIMIT", 3)
    check = verifier(table, clock, cache_ttl_seconds=300)
    secrets = [table.add() for _ in range(4)]
    for secret in secrets[:3]:
        check.verify(secret)
    check.verify(secrets[0])
    assert table.lookups == 3  # three keys fit: the first is still cached
    check.verify(secrets[3])  # the fourth empties the cache before it is kept
    assert table.lookups == 4
    check.verify(secrets[3])
    assert table.lookups == 4
    check.verify(secrets[0])
    assert table.lookups == 5


def test_expiry_is_checked_on_every_call_even_when_cached(table, clock):
    secret = table.add(expires_at=NOW + timedelta(seconds=10))
    check = verifier(table, clock, cache_ttl_seconds=300)
    check.verify(secret)
    clock.advance(11)
    assert refusal(lambda: check.verify(secret)).reason == "expired"


# -- last used -----------------------------------------------------------------------------------


def test_last_used_is_written_at_most_once_per_interval(table, clock):
    secret = table.add()
    check = verifier(table, clock, last_used_interval_seconds=60)
    for _ in range(5):
        check.verify(secret)
        clock.advance(10)
    assert len(table.touches) == 1
    clock.advance(20)
    check.verify(secret)
    assert len(table.touches) == 2


def test_last_used_recent_in_the_record_is_not_rewritten(table, clock):
    secret = table.add(last_used_at=NOW - timedelta(seconds=5))
    verifier(table, clock).verify(secret)
    assert table.touches == []


def test_a_failed_last_used_write_never_denies(table, clock):
    secret = table.add()
    table.touch_error = RuntimeError("throttled")
    assert verifier(table, clock).verify(secret).community == "demo"
    assert len(table.touches) == 1


def test_last_used_is_written_again_once_a_whole_interval_has_passed(table, clock):
    """At the interval (n) it is written again, one second before it (n-1) not, whether the
    last write is known from the record or from this container."""
    secret = table.add(last_used_at=NOW - timedelta(seconds=59))
    check = verifier(table, clock, last_used_interval_seconds=60)
    check.verify(secret)
    assert table.touches == []
    clock.advance(1)  # the record's last use is now 60 s old
    check.verify(secret)
    assert len(table.touches) == 1
    key_id = key_format.parse(secret, "apk").key_id
    table.items[key_id] = replace(table.items[key_id], last_used_at=None)  # only the container remembers
    clock.advance(59)
    check.verify(secret)
    assert len(table.touches) == 1
    clock.advance(1)
    check.verify(secret)
    assert len(table.touches) == 2


def test_a_failed_last_used_write_is_logged_with_the_key_and_the_error(table, clock, caplog):
    secret = table.add()
    table.touch_error = RuntimeError("throttled")
    with caplog.at_level("WARNING"):
        verifier(table, clock).verify(secret)
    assert caplog.messages == [f"last_used_at not recorded for {key_format.parse(secret, 'apk').key_id}: RuntimeError"]


def test_a_refused_key_is_never_touched(table, clock):
    check = verifier(table, clock)
    for token in (table.add(status=REVOKED), table.add(expires_at=NOW), table.add(status=PENDING)):
        refusal(lambda token=token: check.verify(token))
    assert table.touches == []


# -- route map and policy ------------------------------------------------------------------------


def test_route_rules_match_like_iam():
    routes = RouteMap.from_pairs([("GET /intelligence/*", "intelligence:read")])
    read = frozenset({"intelligence:read"})
    for path in ("/intelligence", "/intelligence/", "/intelligence/reports/42"):
        assert routes.allows(read, "GET", path) == (True, "ok")
    assert routes.allows(read, "GET", "/intelligencex") == (False, "unmapped route")
    assert routes.allows(read, "POST", "/intelligence/x") == (False, "unmapped route")
    assert routes.allows(frozenset(), "GET", "/intelligence/x") == (False, "lacks intelligence:read")


def test_an_exact_rule_matches_its_path_only_and_a_wildcard_matches_any_character():
    routes = RouteMap.from_pairs([("GET   /feeds", "intelligence:read"), ("GET /intelligence/*", "intelligence:read")])
    read = frozenset({"intelligence:read"})
    assert routes.allows(read, "GET", "/feeds") == (True, "ok")
    assert routes.allows(read, "GET", "/feeds/x") == (False, "unmapped route")
    # IAM's * takes any character, a line break too: the decision must agree with the policy
    assert routes.allows(read, "GET", "/intelligence/a\nb") == (True, "ok")
    assert iam_allows(routes.policy(read, ARN_BASE), f"{ARN_BASE}/GET/intelligence/a\nb")


def test_a_route_needs_every_matching_rule():
    routes = RouteMap.from_pairs(
        [("GET /intelligence/*", "intelligence:read"), ("* /intelligence/admin/*", "apikeys:manage")]
    )
    read = frozenset({"intelligence:read"})
    assert routes.allows(read, "GET", "/intelligence/admin/x") == (False, "lacks apikeys:manage")
    policy = routes.policy(read, ARN_BASE)
    assert not iam_allows(policy, f"{ARN_BASE}/GET/intelligence/admin/x")
    assert iam_allows(policy, f"{ARN_BASE}/GET/intelligence/reports")


# Rules nested both ways, with one and two wildcards: whichever rule is the broader, a route both
# match needs both permissions, and the cached policy must say so for every route.
NESTED_MAPS = [
    [("GET /a/*", "intelligence:read"), ("GET /a/b/*", "intelligence:write")],
    [("GET /a/b/*", "intelligence:read"), ("GET /a/*", "intelligence:write")],
    [("GET /a/*/c/*", "intelligence:write"), ("GET /a/b/*", "intelligence:read")],
    [("GET /a/b/*", "intelligence:write"), ("GET /a/*/c/*", "intelligence:read")],
    [("* /a/*", "intelligence:read"), ("GET /a/b", "intelligence:write")],
]
NESTED_PATHS = ["/a", "/a/", "/a/x", "/a/b", "/a/b/", "/a/b/x", "/a/bx", "/a/b/c", "/a/b/c/x", "/a/x/c/y", "/b"]


@pytest.mark.parametrize("rules", NESTED_MAPS)
@pytest.mark.parametrize("granted", [{"intelligence:read"}, {"intelligence:write"}])
def test_a_route_inside_a_refused_rule_is_denied_by_the_cached_policy(rules, granted):
    routes = RouteMap.from_pairs(rules)
    policy = routes.policy(frozenset(granted), ARN_BASE)
    for method in ("GET", "POST"):
        for path in NESTED_PATHS:
            arn = f"{ARN_BASE}/{method}{path}"
            assert iam_allows(policy, arn) == routes.allows(frozenset(granted), method, path)[0], (arn, policy)


def test_the_deny_statement_names_only_rules_that_could_cover_an_allowed_route():
    """A viewer may read intelligence: its policy denies the unsafe paths, and no other area's
    routes nor the other methods of its own (those are denied anyway, as no Allow names them)."""
    policy = RouteMap.from_pairs(DEFAULT_ROUTE_MAP).policy(frozenset({"intelligence:read"}), ARN_BASE)
    deny = next(s["Resource"] for s in policy["Statement"] if s["Effect"] == "Deny")
    assert not [r for r in deny if re.match(rf"{re.escape(ARN_BASE)}/[A-Z]+/", r)], deny
    assert f"{ARN_BASE}/*/.." in deny


def test_a_rule_covers_its_path_as_written():
    rule = RouteMap.from_pairs([("GET /XML/*", "intelligence:read")]).rules[0]
    assert rule.resources(ARN_BASE) == (f"{ARN_BASE}/GET/XML", f"{ARN_BASE}/GET/XML/*")


@pytest.mark.parametrize(
    ("spec", "permission"),
    [("FETCH /x", "intelligence:read"), ("GET x", "intelligence:read"), ("GET /a b", "intelligence:read"),
     ("GET /x?y", "intelligence:read"), ("GET /x/{id}", "intelligence:read"), ("GET /x", "made:up")],
)  # fmt: skip
def test_a_wrong_route_map_entry_is_refused(spec, permission):
    with pytest.raises(RouteMapError) as refused:
        RouteMap.from_pairs([(spec, permission)])
    assert str(refused.value).startswith(f"route map: {spec!r}: ")  # the operator sees which entry


def test_a_route_map_error_says_what_is_wrong():
    for spec, permission, says in (
        ("FETCH /x", "intelligence:read", "unknown method 'FETCH'"),
        ("GET x", "intelligence:read", "the path must start with /"),
        ("GET /x", "made:up", "unknown permission 'made:up'"),
    ):
        with pytest.raises(RouteMapError, match=re.escape(says)):
            RouteMap.from_pairs([(spec, permission)])
    with pytest.raises(RouteMapError, match="^route map: empty$"):
        RouteMap.from_pairs([])


def test_the_default_map_covers_the_catalog_areas():
    routes = RouteMap.from_pairs(DEFAULT_ROUTE_MAP)
    viewer = frozenset(BUILTIN_ROLES["ic_viewer"].permissions)
    assert routes.allows(viewer, "GET", "/intelligence/reports")[0]
    assert not routes.allows(viewer, "POST", "/intelligence/reports")[0]
    granted = {rule.permission for rule in routes.rules}
    assert {"intelligence:read", "intelligence:write", "playbooks:read", "playbooks:run",
            "operations:read", "operations:write"} <= granted  # fmt: skip


def test_policy_size_is_bounded_by_the_map_not_by_grants():
    routes = RouteMap.from_pairs(DEFAULT_ROUTE_MAP)
    everything = frozenset(BUILTIN_ROLES["community_admin"].permissions)
    for permissions in (frozenset(), frozenset({"intelligence:read"}), everything):
        policy = routes.policy(permissions, ARN_BASE)
        assert len(policy["Statement"]) <= 2
        assert sum(len(s["Resource"]) for s in policy["Statement"]) <= 2 * 7 * len(routes.rules)


def test_a_key_with_no_mapped_permission_gets_a_policy_that_denies_all():
    policy = RouteMap.from_pairs(DEFAULT_ROUTE_MAP).policy(frozenset(), ARN_BASE)
    assert policy["Statement"] and not iam_allows(policy, f"{ARN_BASE}/GET/intelligence/x")


_methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
_paths = st.lists(st.sampled_from(["intelligence", "playbooks", "operations", "apikeys", "admin", "x", ""]),
                  min_size=0, max_size=4).map(lambda parts: "/" + "/".join(parts))  # fmt: skip
_rules = st.lists(
    st.tuples(
        st.sampled_from(["GET", "POST", "*", "DELETE"]),
        st.sampled_from(["/intelligence/*", "/intelligence/admin/*", "/playbooks/*", "/*", "/x", "/operations/*/x"]),
        st.sampled_from(sorted(BUILTIN_ROLES["community_admin"].permissions)),
    ),
    min_size=1, max_size=8,
).map(lambda rows: [(f"{m} {p}", perm) for m, p, perm in rows])  # fmt: skip
_grants = st.frozensets(st.sampled_from(sorted(BUILTIN_ROLES["community_admin"].permissions)))


@settings(max_examples=150, deadline=None)
@given(rules=_rules, granted=_grants, calls=st.lists(st.tuples(_methods, _paths), min_size=1, max_size=10))
def test_the_cached_policy_answers_every_route_as_the_decision_does(rules, granted, calls):
    """What API Gateway caches for one route is right for every other route of the same key."""
    routes = RouteMap.from_pairs(rules)
    policy = routes.policy(granted, ARN_BASE)
    for method, path in calls:
        arn = f"{ARN_BASE}/{method}/{path[1:]}"
        assert iam_allows(policy, arn) == routes.allows(granted, method, path)[0], (method, path, policy)


# -- decisions and logs --------------------------------------------------------------------------


def test_one_json_line_per_decision_never_the_key(table, clock, capsys):
    logs.configure("INFO")
    secret = table.add(roles=("ic_viewer",))
    check = verifier(table, clock)
    check.authorize(secret, face="gateway", method="GET", path="/intelligence/x")
    check.authorize(secret, face="gateway", method="POST", path="/intelligence/x")
    with pytest.raises(Unauthorized):
        check.authorize("apk_" + "Z" * 46, face="gateway", method="GET", path="/intelligence/x")
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [(line["outcome"], line["reason"]) for line in lines] == [
        ("allow", "ok"), ("deny", "lacks intelligence:write"), ("unauthorized", "malformed"),
    ]  # fmt: skip
    key_id = key_format.parse(secret, "apk").key_id
    assert [line["key_id"] for line in lines] == [key_id, key_id, "unknown"]
    assert all(isinstance(line["latency_ms"], float) and line["community"] in ("demo", "") for line in lines)
    text = json.dumps(lines)
    assert secret[len("apk_") + 16 :] not in text and table.items[key_id].key_hash not in text


def decision_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]


class PerfCounter:
    """A stand-in for the ``time`` module's perf_counter, stopped at ``now``."""

    def __init__(self, now: float) -> None:
        self.now = now

    def perf_counter(self) -> float:
        return self.now


def test_a_refused_known_key_id_is_named_in_its_decision_line(table, clock, capsys):
    """The operator looking into a refusal needs its reason and the key it was about (never its
    secret): the key id and community of every key found, the id alone of one not found."""
    logs.configure("INFO")
    revoked = table.add(roles=("ic_viewer",), status=REVOKED)
    expired = table.add(expires_at=NOW)
    rotated = table.add(grace_until=NOW)  # the old secret of a rotated key, its grace over
    wrong_secret = key_format.generate("apk", key_id=key_format.parse(table.add(), "apk").key_id).plaintext
    unknown = key_format.generate("apk").plaintext
    check = verifier(table, clock)
    tokens = {
        "revoked": revoked, "expired": expired, "rotated": rotated, "hash mismatch": wrong_secret,
        "unknown": unknown, "malformed": "apk_" + "Z" * 46,
    }  # fmt: skip
    for token in tokens.values():
        with pytest.raises(Unauthorized):
            check.authorize(token, face="app")
    key_ids = [key_format.parse(token, "apk").key_id for token in list(tokens.values())[:-1]]
    assert [(line["reason"], line["key_id"], line["community"]) for line in decision_lines(capsys)] == [
        ("revoked", key_ids[0], "demo"),
        ("expired", key_ids[1], "demo"),
        ("rotated", key_ids[2], "demo"),
        ("hash mismatch", key_ids[3], "demo"),
        ("unknown", key_ids[4], ""),
        ("malformed", "unknown", ""),
    ]


def test_every_decision_line_names_the_route_asked_about(table, clock, capsys):
    """The operator reads which route each refusal was about; a check of the key alone (the app
    face decides routes in the app) names none."""
    logs.configure("INFO")
    check = verifier(table, clock)
    secret = table.add(roles=("ic_viewer",))
    check.authorize(secret, face="gateway", method="GET", path="/intelligence/x")
    check.authorize(secret, face="app")
    with pytest.raises(Unauthorized):
        check.authorize(table.add(status=REVOKED), face="gateway", method="DELETE", path="/apikeys/x")
    check.lookup = lambda key_id: 1 / 0  # type: ignore[assignment, return-value]
    with pytest.raises(Unauthorized):
        check.authorize(secret, face="gateway", method="POST", path="/playbooks/run")
    assert [(line["outcome"], line["reason"], line["route"]) for line in decision_lines(capsys)] == [
        ("allow", "ok", "GET /intelligence/x"),
        ("allow", "ok", ""),
        ("unauthorized", "revoked", "DELETE /apikeys/x"),
        ("unauthorized", "error:ZeroDivisionError", "POST /playbooks/run"),
    ]


def test_an_internal_error_is_logged_against_no_key(table, clock, capsys):
    """Fail closed without naming a key or community the error may have come before reading."""
    logs.configure("INFO")
    check = verifier(table, clock)
    check.lookup = lambda key_id: 1 / 0  # type: ignore[assignment, return-value]
    with pytest.raises(Unauthorized) as refused:
        check.authorize(table.add(), face="app")
    assert (refused.value.key_id, refused.value.community) == ("unknown", "")
    [line] = decision_lines(capsys)
    assert (line["key_id"], line["community"]) == ("unknown", "")


def test_a_decisions_latency_counts_from_when_the_face_received_the_request(table, clock, capsys, monkeypatch):
    """Each face passes the moment its request arrived, so the DecisionLatency metric covers the
    reading of the event too; without one, the latency counts from the call."""

    monkeypatch.setattr("chalicelib.authorizer.verifier.time", PerfCounter(100.0))
    logs.configure("INFO")
    check = verifier(table, clock)
    secret = table.add()
    check.authorize(secret, face="gateway", method="GET", path="/intelligence/x", started=99.75)
    check.authorize(secret, face="app")
    check.authorize(secret, face="app", started=99.9987654)
    assert [(line["latency_ms"], line["DecisionLatency"]) for line in decision_lines(capsys)] == [
        (250.0, 250.0),
        (0.0, 0.0),
        (1.235, 1.235),  # milliseconds, to the microsecond
    ]


def test_forgetting_a_key_this_container_never_read_is_fine(table, clock):
    check = verifier(table, clock, cache_ttl_seconds=60)
    check.forget("0123456789ABCDEF")  # a revoke of a key no request here has used
    secret = table.add()
    check.authorize(secret, face="app")
    check.forget(key_format.parse(secret, "apk").key_id)
    check.authorize(secret, face="app")
    assert table.lookups == 2


def test_a_key_gets_the_permissions_of_its_communitys_roles(table, clock):
    """Without a reader of held roles, the catalog of the key's own community is read."""
    custom = Role("feed_reader", "reads feeds", ("intelligence:read",))
    catalogs = {"demo": {**BUILTIN_ROLES, "feed_reader": custom}}
    secret = table.add(roles=("feed_reader",))
    check = Verifier(
        table.lookup, key_prefix="apk", peppers=(PEPPER,), catalog=lambda community: catalogs.get(community, {}),
        clock=lambda: clock.now,
    )  # fmt: skip
    assert check.verify(secret).permissions == frozenset({"intelligence:read"})


def test_log_level_above_info_silences_decisions(table, clock, capsys):
    logs.configure("WARNING")
    try:
        verifier(table, clock).authorize(table.add(), face="app")
        assert capsys.readouterr().out == ""
    finally:
        logs.configure("INFO")


def test_decision_context_is_strings_only(table, clock):
    secret = table.add(roles=("ic_viewer", "playbooks_operator"))
    context = verifier(table, clock).authorize(secret, face="app").context()
    assert context == {
        "key_id": key_format.parse(secret, "apk").key_id, "community": "demo", "roles": "ic_viewer,playbooks_operator",
        "permissions": "intelligence:read,playbooks:read,playbooks:run",
    }  # fmt: skip


# -- people ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    sub: str
    name: str
    groups: dict[str, tuple[str, ...]]

    def grants(self) -> dict[str, tuple[str, ...]]:
        return self.groups


class People:
    """The token verifier as the core sees it: a token in, a person out, or a refusal."""

    def __init__(self, **groups: tuple[str, ...]) -> None:
        self.groups = groups
        self.seen: list[str] = []

    def __call__(self, token: str) -> _Person:
        self.seen.append(token)
        if token != "good-token":
            raise Unauthorized("token:signature")
        return _Person("sub-1", "Alice", self.groups)


CUSTOM = {"clerk": Role("clerk", "", ("apikeys:manage",), builtin=False)}


def people_verifier(table: Table, clock: Clock, people: People) -> Verifier:
    def held(community: str, names: Any) -> dict[str, Role]:
        known = {**BUILTIN_ROLES, **(CUSTOM if community == "demo" else {})}
        return {name: known[name] for name in names if name in known}

    return verifier(table, clock, people=people, roles_held=held)


def test_a_persons_groups_become_grants_per_community(table, clock):
    people = People(demo=("clerk", "ic_viewer", "nosuch"), acme=("clerk",), lab=("nosuch",))
    caller = people_verifier(table, clock, people).verify("Bearer good-token", people=True)
    assert caller.person == "sub-1" and caller.name == "Alice" and caller.actor == "user:sub-1"
    assert caller.principal == "user:sub-1" and caller.community == "" and caller.permissions == frozenset()
    assert caller.key_id == "" and caller.roles == ()  # no key, and no roles until a route names a community
    # acme has no custom role "clerk", lab's only role is unknown: neither is a grant.
    assert caller.grants == (Grant("demo", ("clerk", "ic_viewer"), frozenset({"apikeys:manage", "intelligence:read"})),)


def test_a_persons_caller_in_a_community_is_a_key_holding_that_grants_roles(table, clock):
    caller = people_verifier(table, clock, People(demo=("clerk",), acme=("ic_viewer",))).verify(
        "good-token", people=True
    )
    in_acme = caller.in_community("acme")
    assert (in_acme.community, in_acme.roles, in_acme.permissions) == ("acme", ("ic_viewer",), {"intelligence:read"})
    assert in_acme.actor == "user:sub-1" and in_acme.grants == caller.grants
    nowhere = caller.in_community("other")
    assert (nowhere.community, nowhere.roles, nowhere.permissions) == ("", (), frozenset())
    assert caller.in_community(None).community == ""
    # Moved on from a community with a grant to one without: nothing of the first goes along.
    moved = in_acme.in_community("other")
    assert (moved.community, moved.roles, moved.permissions) == ("", (), frozenset())


def test_a_key_caller_is_the_same_in_every_community(table, clock):
    caller = verifier(table, clock).verify(table.add())
    assert caller.in_community("acme") is caller
    assert caller.principal == caller.key_id and caller.actor == f"key:{caller.key_id}"
    assert Caller.operator("demo").principal == "operator" and Caller.operator("demo").actor == "operator"


def test_tokens_reach_people_only_when_the_face_asks(table, clock):
    people = People(demo=("clerk",))
    check = people_verifier(table, clock, people)
    assert refusal(lambda: check.verify("good-token")).reason == "malformed"
    assert refusal(lambda: check.verify("bad-token", people=True)).reason == "token:signature"
    assert people.seen == ["bad-token"]


def test_an_api_key_never_goes_to_people(table, clock):
    people = People(demo=("clerk",))
    check = people_verifier(table, clock, people)
    assert check.verify(table.add(), people=True).person is None
    assert refusal(lambda: check.verify("apk_notakey", people=True)).reason == "malformed"
    assert people.seen == []


def test_without_people_configured_a_token_is_a_malformed_key(table, clock):
    assert refusal(lambda: verifier(table, clock).verify("good-token", people=True)).reason == "malformed"


def test_a_persons_decision_is_logged_and_carried_without_the_token(table, clock, capsys):
    logs.configure("INFO")
    check = people_verifier(table, clock, People(demo=("clerk", "ic_viewer"), acme=("ic_viewer",)))
    decision = check.authorize("good-token", face="app", people=True)
    [line] = decision_lines(capsys)
    assert (line["outcome"], line["key_id"], line["community"]) == ("allow", "user:sub-1", "")
    assert "good-token" not in json.dumps(line)
    context = decision.context()
    assert context == {
        "person": "sub-1", "name": "Alice",
        "grants": '[["demo",["clerk","ic_viewer"],["apikeys:manage","intelligence:read"]],'
                  '["acme",["ic_viewer"],["intelligence:read"]]]',
    }  # fmt: skip
    assert all(isinstance(value, str) for value in context.values())


def test_a_persons_view_lists_their_communities():
    caller = Caller.signed_in("s", "Alice", (Grant("demo", ("clerk",), frozenset({"b:x", "a:y"})),))
    assert caller.view() == {
        "user": "user:s",
        "name": "Alice",
        "communities": [{"community": "demo", "roles": ["clerk"], "permissions": ["a:y", "b:x"]}],
    }
