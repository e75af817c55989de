"""Every documented input limit, at the limit (accepted) and one past it (refused, naming the field)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import params
from chalicelib.api import schemas
from chalicelib.errors import ValidationError
from chalicelib.keys.service import CreateRequest
from chalicelib.roles.catalog import BUILTIN_ROLES

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def create(body: dict[str, Any], max_days: int = 365) -> CreateRequest:
    return schemas.create_request(
        {"name": "CI", "roles": ["ic_viewer"], **body}, known_roles=BUILTIN_ROLES, now=NOW, max_days=max_days
    )


def refused(call: Any, *args: Any, **kwargs: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    return caught.value


# -- expiry -------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [30, 180, 365])
def test_each_expiry_preset_is_that_many_days_from_now(days):
    assert create({"expires_in_days": days}).expires_at == NOW + timedelta(days=days)


@pytest.mark.parametrize("days", [0, 29, 31, 364, 366, True, "30", 30.0, 180.0, 365.0, -30])
def test_any_other_expiry_in_days_is_refused_listing_the_presets(days):
    error = refused(create, {"expires_in_days": days})
    assert str(error) == "expires_in_days: must be one of 30, 180, 365"


def test_every_preset_is_offered_where_no_maximum_is_set():
    body = {"name": "CI", "roles": ["ic_viewer"], "expires_in_days": 365}
    assert schemas.parse(schemas.CreateKey, body).expires_in_days == 365
    with pytest.raises(ValidationError, match=r"^expires_in_days: must be one of 30, 180, 365$"):
        schemas.parse(schemas.CreateKey, {**body, "expires_in_days": 366})


def test_a_preset_beyond_the_deployments_maximum_is_refused_and_not_offered():
    assert create({"expires_in_days": 180}, max_days=180).expires_at == NOW + timedelta(days=180)
    error = refused(create, {"expires_in_days": 365}, max_days=364)
    assert error.field == "expires_in_days" and str(error).endswith("must be one of 30, 180")


def test_an_expiry_date_up_to_the_maximum_is_accepted_and_one_second_more_refused():
    limit = NOW + timedelta(days=365)
    assert create({"expires_at": limit.isoformat()}).expires_at == limit
    error = refused(create, {"expires_at": (limit + timedelta(seconds=1)).isoformat()})
    assert str(error) == "expires_at: must be at most 365 days from now"
    later = limit + timedelta(days=1)
    assert create({"expires_at": later.isoformat()}, max_days=366).expires_at == later
    assert str(refused(create, {"expires_at": limit.isoformat()}, max_days=30)).endswith("at most 30 days from now")


def test_an_expiry_date_must_be_in_the_future():
    soon = NOW + timedelta(seconds=1)
    assert create({"expires_at": soon.isoformat()}).expires_at == soon
    assert str(refused(create, {"expires_at": NOW.isoformat()})) == "expires_at: must be in the future"
    assert str(refused(create, {"expires_at": "2025-12-31T23:59:59Z"})) == "expires_at: must be in the future"


@pytest.fixture
def local_time_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process in a time zone five hours west of UTC (a laptop running the service locally)."""
    monkeypatch.setenv("TZ", "EST5")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_an_expiry_date_without_offset_is_utc_and_one_with_an_offset_is_converted(local_time_zone):
    # Whatever the server's own time zone: the date kept, and shown, is in UTC.
    for given, kept in (("2026-02-01T10:00:00", "2026-02-01T10:00:00+00:00"),
                        ("2026-02-01T10:00:00+02:00", "2026-02-01T08:00:00+00:00"),
                        ("2026-02-01T10:00:00Z", "2026-02-01T10:00:00+00:00")):  # fmt: skip
        assert create({"expires_at": given}).expires_at.isoformat() == kept


@pytest.mark.parametrize(
    "value",
    # the last two are dates that an offset pushes past year 9999 or before year 1 in UTC
    ["tomorrow", "2026-13-01T00:00:00Z", "", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"],
)
def test_a_malformed_expiry_date_is_refused_with_an_example(value):
    assert str(refused(create, {"expires_at": value})) == (
        "expires_at: must be an ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z"
    )


def test_an_expiry_date_that_is_not_a_string_is_refused():
    assert str(refused(create, {"expires_at": 20270101})) == "expires_at: must be an ISO 8601 date-time string"


def test_expiry_in_days_and_expiry_date_together_are_refused_but_null_means_absent():
    error = refused(create, {"expires_at": "2026-02-01T00:00:00Z", "expires_in_days": 30})
    assert str(error) == "expires_at: give expires_at or expires_in_days, not both"
    assert create({"expires_at": None, "expires_in_days": None}).expires_at is None
    assert create({"expires_at": None, "expires_in_days": 30}).expires_at == NOW + timedelta(days=30)


# -- names and text -----------------------------------------------------------------------------


def test_a_name_of_100_characters_is_accepted_and_101_refused():
    assert create({"name": "n" * 100}).name == "n" * 100
    error = refused(create, {"name": "n" * 101})
    assert error.field == "name" and "100" in str(error)


def test_a_description_of_1000_characters_is_accepted_and_1001_refused():
    assert create({"description": "d" * 1000}).description == "d" * 1000
    assert refused(create, {"description": "d" * 1001}).field == "description"
    assert create({}).description == "" and create({"description": None}).description == ""


def test_a_description_is_kept_as_given_blanks_and_all():
    assert create({"description": "  indented\u00a0"}).description == "  indented\u00a0"
    assert create({"description": "   "}).description == "   "


def test_names_are_trimmed_and_a_blank_name_refused():
    assert create({"name": "  CI deploy   "}).name == "CI deploy"
    assert schemas.edit_request({"name": " CI "}, known_roles=BUILTIN_ROLES) == {"name": "CI"}
    error = refused(create, {"name": "   "})
    assert error.field == "name" and "empty" in str(error)
    assert refused(create, {"name": None}).field == "name"
    assert refused(schemas.create_request, {"roles": ["ic_viewer"]}, known_roles=BUILTIN_ROLES, now=NOW,
                   max_days=365).field == "name"  # fmt: skip


@pytest.mark.parametrize(
    "name",
    ["a\u200bb", "a\u202eb", "\ufeffname", "a\ud800b", "a\udfffb", "a\x00b", "a\x1bb", "a\x7fb", "line\nbreak"],
    ids=["zero-width-space", "rtl-override", "bom", "lone-high-surrogate", "lone-low-surrogate", "nul", "escape",
         "delete", "newline"],
)  # fmt: skip
def test_control_format_characters_and_lone_surrogates_are_refused(name):
    error = refused(create, {"name": name})
    assert error.field == "name" and "control characters" in str(error)
    assert refused(create, {"description": name}).field == "description"


@pytest.mark.parametrize(
    "name",
    ["\u3164", "\u115f", "\u1160", "\uffa0", "\u2800", "\u3164\u3164\u3164", " \u3164\u3000\u00a0\u115f\u1160 ",
     "\u3000", "\u00a0", "\u2002\u202f\u205f"],
    ids=["hangul-filler", "choseong-filler", "jungseong-filler", "halfwidth-filler", "braille-blank", "three-fillers",
         "fillers-and-spaces", "ideographic-space", "no-break-space", "other-spaces"],
)  # fmt: skip
def test_a_name_of_invisible_fillers_and_blanks_is_refused_as_empty(name):
    assert str(refused(create, {"name": name})) == "name: must not be empty"
    assert str(refused(schemas.edit_request, {"name": name}, known_roles=BUILTIN_ROLES)) == "name: must not be empty"


def test_a_filler_beside_a_visible_character_is_text():
    assert create({"name": "\u3164x\u3164"}).name == "\u3164x\u3164"


def test_ordinary_unicode_is_accepted():
    assert create({"name": "Équipe 東京 🚀"}).name == "Équipe 東京 🚀"


# -- list parameters ----------------------------------------------------------------------------


def test_listing_defaults_to_20_of_every_status():
    request = params.list_request(None)
    assert (request.limit, request.status, request.search, request.cursor) == (20, "all", "", None)


@pytest.mark.parametrize(("raw", "limit"), [("1", 1), ("100", 100), ("020", 20)])
def test_a_limit_from_1_to_100_is_accepted(raw, limit):
    assert params.list_request({"limit": raw}).limit == limit


@pytest.mark.parametrize("raw", ["0", "101", "-1", "1.5", "", " 5", "\u0661", "ten"])
def test_any_other_limit_is_refused(raw):
    error = refused(params.list_request, {"limit": raw})
    assert error.field == "limit" and "1 to 100" in str(error)


def test_a_search_of_100_characters_is_accepted_and_101_refused():
    assert params.list_request({"search": "s" * 100}).search == "s" * 100
    assert params.list_request({"search": "  ci  "}).search == "ci"
    error = refused(params.list_request, {"search": "s" * 101})
    assert error.field == "search" and "100" in str(error)


def test_an_unknown_status_or_parameter_is_refused_by_name():
    assert refused(params.list_request, {"status": "deleted"}).field == "status"
    assert [params.list_request({"status": s}).status for s in params.LIST_STATUSES] == list(params.LIST_STATUSES)
    assert refused(params.list_request, {"sort": "name"}).field == "sort"
    assert params.list_request({"cursor": ""}).cursor is None


def test_a_community_of_64_characters_is_accepted_and_65_or_another_character_refused():
    name = "a-Z_9" + "c" * 59
    assert params.community(name) == name
    for bad in ("c" * 65, "", "demo ", "demo/x", "dém"):
        error = refused(params.community, bad)
        assert str(error) == "community: must be 1-64 characters: letters, digits, '-' or '_'"


def test_an_unknown_parameter_is_named_first_in_order_and_the_allowed_ones_listed():
    error = refused(params.list_request, {"zeta": "1", "alpha": "1", "limit": "5"})
    assert error.field == "alpha"
    assert "allowed: cursor, limit, search, status" in str(error)


def test_list_refusals_say_what_is_wrong_in_the_documented_words():
    assert (
        str(refused(params.list_request, {"status": "gone"})) == "status: must be one of active, revoked, expired, all"
    )
    assert str(refused(params.list_request, {"search": "a\x00"})) == "search: must not contain control characters"
    assert str(refused(schemas.edit_request, {"name": "   "}, known_roles=BUILTIN_ROLES)) == "name: must not be empty"


# -- Idempotency-Key ----------------------------------------------------------------------------


def test_an_idempotency_key_of_255_characters_is_accepted_and_256_refused():
    assert params.idempotency_key("k" * 255) == "k" * 255
    error = refused(params.idempotency_key, "k" * 256)
    assert error.field == "Idempotency-Key" and "1 to 255" in str(error)


@pytest.mark.parametrize("value", ["", "caf\u00e9", "tab\there", "nl\n", "\x7f"])
def test_an_empty_non_ascii_or_unprintable_idempotency_key_is_refused(value):
    assert refused(params.idempotency_key, value).field == "Idempotency-Key"


def test_no_idempotency_key_is_fine_and_printable_ascii_is_kept_as_is():
    assert params.idempotency_key(None) is None
    assert params.idempotency_key("a b~!") == "a b~!"


# -- vault choice -------------------------------------------------------------------------------


@pytest.mark.parametrize("vault", [{}, {"target": ""}, {"target": 7}, {"target": None}, {"path": "x"}])
def test_a_missing_or_empty_vault_target_names_vault_target(vault):
    error = refused(create, {"vault": vault})
    assert error.field == "vault.target" and "vault target" in str(error)


def test_a_vault_that_is_not_an_object_names_vault_and_a_bad_path_names_vault_path():
    assert refused(create, {"vault": "aws-secrets"}).field == "vault"
    assert refused(create, {"vault": {"target": "t", "path": ""}}).field == "vault.path"
    assert refused(create, {"vault": {"target": "t", "path": 3}}).field == "vault.path"
    error = refused(create, {"vault": {"target": "t", "region": "x"}})
    assert error.field == "region" and "in vault" in str(error)


def test_a_vault_choice_is_passed_on_and_no_vault_is_none():
    request = create({"vault": {"target": "t", "path": "ci"}, "reveal": False})
    assert (request.vault_target, request.vault_path, request.reveal) == ("t", "ci", False)
    request = create({"vault": {"target": "t"}})
    assert (request.vault_target, request.vault_path, request.reveal) == ("t", None, True)
    assert create({"vault": None}).vault_target is None


def test_reveal_false_without_a_vault_or_not_a_boolean_is_refused_naming_reveal():
    assert refused(create, {"reveal": False}).field == "reveal"
    assert refused(create, {"reveal": "no"}).field == "reveal"


# -- bodies, roles, revoke ----------------------------------------------------------------------


def test_a_body_that_is_not_an_object_or_has_an_unknown_field_is_refused():
    assert refused(schemas.create_request, [], known_roles=BUILTIN_ROLES, now=NOW, max_days=365).field == "body"
    error = refused(create, {"owner": "x"})
    assert error.field == "owner" and "allowed:" in str(error)
    assert refused(schemas.edit_request, {}, known_roles=BUILTIN_ROLES).field == "body"
    assert refused(schemas.edit_request, {"status": "active"}, known_roles=BUILTIN_ROLES).field == "status"


@pytest.mark.parametrize(
    ("roles", "message"),
    [([], "must name at least one role"), (["ic_viewer", "ic_viewer"], "must not repeat a role"),
     (["ic_viewer", "root", "admin"], "unknown role 'root'"), ("ic_viewer", "must be a list of role names"),
     ([1], "must be a list of role names")],
)  # fmt: skip
def test_roles_must_be_a_non_empty_list_of_distinct_known_names(roles, message):
    # An unknown role is named alone: the community's roles are listed by GET /roles, not here.
    assert str(refused(create, {"roles": roles})) == f"roles: {message}"


def test_an_edit_keeps_only_what_was_given():
    changes = schemas.edit_request({"description": "x", "roles": ["ic_viewer"]}, known_roles=BUILTIN_ROLES)
    assert changes == {"description": "x", "roles": ["ic_viewer"]}


def test_an_edit_leaves_the_plan_to_the_usage_plans():
    # A plan change goes through API Gateway first: the record's own changes never carry it.
    changes = schemas.edit_request({"name": " CI ", "plan": "gold"}, known_roles=BUILTIN_ROLES)
    assert changes == {"name": "CI"}
    assert schemas.edit_request({"plan": None}, known_roles=BUILTIN_ROLES) == {}


# -- allowed networks ---------------------------------------------------------------------------

NOT_A_LIST = 'must be a list of networks in CIDR form, e.g. ["203.0.113.0/24", "2001:db8::/32"], or null'


def test_twenty_allowed_networks_are_accepted_and_twenty_one_refused():
    twenty = [f"10.{n}.0.0/16" for n in range(20)]
    assert create({"allowed_cidrs": twenty}).allowed_cidrs == tuple(twenty)
    assert schemas.edit_request({"allowed_cidrs": twenty}, known_roles=BUILTIN_ROLES) == {"allowed_cidrs": twenty}
    for call in (
        lambda value: create({"allowed_cidrs": value}),
        lambda value: schemas.edit_request({"allowed_cidrs": value}, known_roles=BUILTIN_ROLES),
    ):
        error = refused(call, [*twenty, "10.20.0.0/16"])
        assert (error.field, str(error)) == ("allowed_cidrs", "allowed_cidrs: at most 20 networks, not 21")


@pytest.mark.parametrize(
    ("value", "message"),
    [("10.0.0.0/8", NOT_A_LIST), ([10], NOT_A_LIST), ([None], NOT_A_LIST), ({"0": "10.0.0.0/8"}, NOT_A_LIST),
     (True, NOT_A_LIST), (["10.0.0.1/8"], "'10.0.0.1/8' has host bits set; the network is 10.0.0.0/8"),
     (["::/0", "::/00"], "'::/00' repeats ::/0")],
)  # fmt: skip
def test_allowed_networks_must_be_a_list_of_distinct_networks_naming_the_field(value, message):
    assert str(refused(create, {"allowed_cidrs": value})) == f"allowed_cidrs: {message}"
    assert str(refused(schemas.edit_request, {"allowed_cidrs": value}, known_roles=BUILTIN_ROLES)) == (
        f"allowed_cidrs: {message}"
    )


def test_no_allowed_networks_null_or_an_empty_list_is_any_address_and_an_edit_may_lift_them():
    assert create({}).allowed_cidrs == create({"allowed_cidrs": None}).allowed_cidrs == ()
    assert create({"allowed_cidrs": ["2001:DB8::/32"]}).allowed_cidrs == ("2001:db8::/32",)
    for lifted in (None, []):
        assert schemas.edit_request({"allowed_cidrs": lifted}, known_roles=BUILTIN_ROLES) == {"allowed_cidrs": []}
    assert schemas.edit_request({"name": "x"}, known_roles=BUILTIN_ROLES) == {"name": "x"}


def test_the_first_wrong_field_in_the_bodys_order_is_named_however_deep():
    body = {"vault": {"target": 7}, "name": 5, "roles": "ic_viewer"}
    assert refused(create, body).field == "vault.target"
    assert refused(create, {**body, "vault": None}).field == "name"


def test_a_revoke_reason_is_optional_trimmed_and_bounded():
    assert schemas.revoke_request(None) is None
    assert schemas.revoke_request({}) is None
    assert schemas.revoke_request({"reason": None}) is None
    assert schemas.revoke_request({"reason": " leaked "}) == "leaked"
    assert schemas.revoke_request({"reason": "r" * 1000}) == "r" * 1000
    assert refused(schemas.revoke_request, {"reason": "r" * 1001}).field == "reason"
    assert refused(schemas.revoke_request, {"why": "x"}).field == "why"
