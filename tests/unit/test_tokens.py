"""People's tokens, rule by rule: each forged or stale token is refused with its own reason (the
decision log's; the answer is one 401), each good one names its person. Keys the test controls
sign the tokens; the issuer's JWKS is handed over in memory, its clock is the test's."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from chalicelib.authorizer import tokens
from chalicelib.authorizer.tokens import InvalidToken, IssuerKeys, KeysUnavailable, Person, TokenVerifier, person_of
from chalicelib.authorizer.verifier import Unauthorized
from chalicelib.errors import SettingsError
from chalicelib.settings import OidcSettings, from_environ
from tests.oidc import CLIENT_ID, OTHER_CLIENT_ID, Issuer, forge, with_claims

NOW = 1_750_000_000
ISSUER = "https://issuer.test/pool"
JWKS_URL = "https://issuer.test/pool/jwks.json"


class Published:
    """The issuer's documents as a fetch sees them, and the URLs it was asked for."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self.asked: list[str] = []
        self.failing = False
        self.discovery: dict[str, Any] = {"issuer": ISSUER, "jwks_uri": JWKS_URL}
        self.jwks: Any = None

    def __call__(self, url: str) -> Any:
        self.asked.append(url)
        if self.failing:
            raise KeysUnavailable
        if url == f"{ISSUER}/.well-known/openid-configuration":
            return self.discovery
        if url == JWKS_URL:
            return self.issuer.jwks() if self.jwks is None else self.jwks
        raise KeysUnavailable


class Moment:
    def __init__(self) -> None:
        self.value = 500.0


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer(ISSUER)


@pytest.fixture
def published(issuer: Issuer) -> Published:
    issuer.published = ["rsa-1", "ec-1"]
    return Published(issuer)


@pytest.fixture
def moment() -> Moment:
    return Moment()


def make_verifier(
    published: Published, moment: Moment, *, jwks_url: str | None = JWKS_URL, now: float = NOW
) -> TokenVerifier:
    keys = IssuerKeys(ISSUER, jwks_url, fetch=published, monotonic=lambda: moment.value)
    return TokenVerifier(issuer=ISSUER, audiences=[CLIENT_ID, "second-client"], keys=keys, clock=lambda: now)


def claims(issuer: Issuer, **changes: Any) -> dict[str, Any]:
    return issuer.claims(**{"iat": NOW, "exp": NOW + 3600, **changes})


def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)
    assert isinstance(caught.value, Unauthorized) and str(caught.value) == "Unauthorized"
    return caught.value.reason


# -- tokens that name a person -------------------------------------------------------------------


def test_an_id_token_names_its_person_and_groups(issuer, published, moment):
    person = make_verifier(published, moment).verify(issuer.sign(claims(issuer)))
    assert person == Person("5f1c0a5e-0000-4000-8000-00000000a11c", "alice", ("demo:community_admin",))


def test_an_es256_token_of_the_issuers_ec_key(issuer, published, moment):
    assert make_verifier(published, moment).verify(issuer.sign(claims(issuer), kid="ec-1")).name == "alice"


def test_a_cognito_access_token_is_checked_by_client_id(issuer, published, moment):
    access = claims(issuer, token_use="access", aud=None, client_id="second-client", username="bob")
    access.pop("cognito:username")
    assert make_verifier(published, moment).verify(issuer.sign(access)).name == "bob"


def test_a_token_without_token_use_is_an_id_token(issuer, published, moment):
    assert make_verifier(published, moment).verify(issuer.sign(claims(issuer, token_use=None))).sub


def test_an_audience_list_of_trusted_clients_only(issuer, published, moment):
    verifier = make_verifier(published, moment)
    assert verifier.verify(issuer.sign(claims(issuer, aud=[CLIENT_ID, "second-client"]))).name == "alice"
    assert refused(verifier, issuer.sign(claims(issuer, aud=[CLIENT_ID, OTHER_CLIENT_ID]))) == "token:audience"
    assert refused(verifier, issuer.sign(claims(issuer, aud=[]))) == "token:audience"


# -- the header: size, algorithm, key --------------------------------------------------------------


def _padded(issuer: Issuer, length: int) -> str:
    """A good token of exactly ``length`` characters (a claim pads it; a header field too, since an
    unpadded base64 segment never has a length of 1 modulo 4)."""
    start = (length - len(issuer.sign(claims(issuer, pad="")))) * 3 // 4 - 4
    for pad in range(start, start + 8):
        for extra in range(3):
            token = issuer.sign(claims(issuer, pad="x" * pad), typ="J" * extra)
            if len(token) == length:
                return token
    raise AssertionError("no padding gives that length")


def test_a_token_at_the_size_limit_is_read_one_past_it_is_not(issuer, published, moment):
    verifier = make_verifier(published, moment)
    assert verifier.verify(_padded(issuer, tokens.MAX_TOKEN_CHARS)).name == "alice"
    published.asked.clear()
    verifier = make_verifier(published, moment)
    assert refused(verifier, _padded(issuer, tokens.MAX_TOKEN_CHARS + 1)) == "token:oversized"
    assert published.asked == []  # refused before it was parsed or any key fetched


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "eyJhbGciOiJSUzI1NiJ9", "e30.e30.e30.e30"])
def test_what_is_not_a_token_is_malformed(published, moment, token):
    assert refused(make_verifier(published, moment), token) == "token:malformed"


def test_alg_none_is_refused_before_any_key_is_fetched(issuer, published, moment):
    token = forge({"alg": "none", "kid": "rsa-1", "typ": "JWT"}, claims(issuer))
    assert refused(make_verifier(published, moment), token) == "token:algorithm"
    assert published.asked == []


def test_hs256_keyed_with_the_issuers_public_key_is_refused(issuer, published, moment):
    for key in (issuer.public_pem(), json.dumps(issuer.jwk("rsa-1")).encode()):
        token = forge({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}, claims(issuer), hmac_key=key)
        assert refused(make_verifier(published, moment), token) == "token:algorithm"


@pytest.mark.parametrize("alg", ["RS512", "PS256", "ES384", "EdDSA", "HS512"])
def test_algorithms_outside_the_allow_list_are_refused(issuer, published, moment, alg):
    token = forge({"alg": alg, "kid": "rsa-1"}, claims(issuer), hmac_key=b"k" * 32)
    assert refused(make_verifier(published, moment), token) == "token:algorithm"


def test_a_header_naming_the_other_algorithm_than_its_key_is_refused(issuer, published, moment):
    # Signed with the RSA key (RS256 in its header) but naming the EC key: ES256 is that key's only algorithm.
    token = issuer.sign(claims(issuer), kid="rsa-1")
    header, payload, signature = token.split(".")
    renamed = forge({"alg": "RS256", "kid": "ec-1", "typ": "JWT"}, claims(issuer))
    assert refused(make_verifier(published, moment), f"{renamed.split('.')[0]}.{payload}.{signature}") == (
        "token:algorithm"
    )


@pytest.mark.parametrize("kid", [None, "", "nope"])
def test_a_kid_the_issuer_does_not_publish_is_refused(issuer, published, moment, kid):
    header = {"alg": "RS256"} if kid is None else {"alg": "RS256", "kid": kid}
    token = forge(header, claims(issuer), hmac_key=b"x")
    assert refused(make_verifier(published, moment), token) == "token:unknown kid"


def test_a_token_signed_by_another_key_under_the_issuers_kid_is_refused(issuer, published, moment):
    attacker = Issuer(ISSUER, owner="attacker")
    assert refused(make_verifier(published, moment), attacker.sign(claims(issuer))) == "token:signature"


def test_claims_changed_after_signing_are_refused(issuer, published, moment):
    token = issuer.sign(claims(issuer, **{"cognito:groups": ["demo:ic_viewer"]}))
    forged = with_claims(token, **{"cognito:groups": ["demo:community_admin"]})
    assert refused(make_verifier(published, moment), forged) == "token:signature"
    assert refused(make_verifier(published, moment), token[:-4] + "AAAA") == "token:signature"


def test_jku_and_x5u_headers_are_never_followed(issuer, published, moment):
    attacker = Issuer(ISSUER, owner="attacker")
    attacker.private["evil"] = attacker.private["rsa-1"]
    elsewhere = {"jku": "https://attacker.test/jwks.json", "x5u": "https://attacker.test/cert.pem"}
    verifier = make_verifier(published, moment)
    assert refused(verifier, attacker.sign(claims(issuer), kid="evil", **elsewhere)) == "token:unknown kid"
    assert refused(verifier, attacker.sign(claims(issuer), kid="rsa-1", **elsewhere)) == "token:signature"
    assert set(published.asked) == {JWKS_URL}


# -- the claims --------------------------------------------------------------------------------------


@pytest.mark.parametrize("iss", [None, f"{ISSUER}/", f"{ISSUER}x", "https://issuer.test/Pool", "https://issuer.test"])
def test_only_the_exact_issuer(issuer, published, moment, iss):
    assert refused(make_verifier(published, moment), issuer.sign(claims(issuer, iss=iss or None))) == "token:issuer"


@pytest.mark.parametrize("use", ["refresh", "", "ID", 1])
def test_token_use_when_present_is_id_or_access(issuer, published, moment, use):
    assert refused(make_verifier(published, moment), issuer.sign(claims(issuer, token_use=use))) == "token:token_use"


@pytest.mark.parametrize("aud", [None, OTHER_CLIENT_ID, f"{CLIENT_ID} ", 5, {"a": CLIENT_ID}])
def test_an_id_token_for_another_client_is_refused(issuer, published, moment, aud):
    assert refused(make_verifier(published, moment), issuer.sign(claims(issuer, aud=aud))) == "token:audience"


def test_an_access_token_is_judged_by_its_client_id_not_its_aud(issuer, published, moment):
    verifier = make_verifier(published, moment)
    wrong = claims(issuer, token_use="access", client_id=OTHER_CLIENT_ID)  # aud is CLIENT_ID
    assert refused(verifier, issuer.sign(wrong)) == "token:audience"
    assert refused(verifier, issuer.sign(claims(issuer, token_use="access"))) == "token:audience"
    # And an ID token is judged by its aud, whatever client_id it carries.
    assert refused(verifier, issuer.sign(claims(issuer, aud=OTHER_CLIENT_ID, client_id=CLIENT_ID))) == "token:audience"


def test_expiry_has_sixty_seconds_of_leeway(issuer, published, moment):
    token = issuer.sign(claims(issuer, exp=NOW))
    assert make_verifier(published, moment, now=NOW + 59.5).verify(token).name == "alice"
    assert refused(make_verifier(published, moment, now=NOW + 60), token) == "token:expired"


def test_a_token_issued_in_the_future_has_sixty_seconds_of_leeway(issuer, published, moment):
    assert make_verifier(published, moment).verify(issuer.sign(claims(issuer, iat=NOW + 60))).name == "alice"
    assert refused(make_verifier(published, moment), issuer.sign(claims(issuer, iat=NOW + 61))) == (
        "token:issued in the future"
    )


def test_not_before_has_sixty_seconds_of_leeway(issuer, published, moment):
    assert make_verifier(published, moment).verify(issuer.sign(claims(issuer, nbf=NOW + 60))).name == "alice"
    assert refused(make_verifier(published, moment), issuer.sign(claims(issuer, nbf=NOW + 61))) == "token:not yet valid"


def test_times_within_the_leeway_are_ours_to_judge_not_the_librarys(issuer, published, moment):
    """PyJWT's own time checks are off (they read the real clock, without leeway): a token valid
    by this verifier's clock passes whatever the real time is."""
    token = issuer.sign(claims(issuer, iat=NOW + 30, nbf=NOW + 30, exp=NOW - 30))
    assert make_verifier(published, moment).verify(token).name == "alice"


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": None},
        {"iat": None},
        {"exp": str(NOW + 3600)},
        {"iat": True},
        {"exp": True},
        {"nbf": "0"},
        {"nbf": False},
        {"sub": None},
        {"sub": ""},
        {"sub": 42},
    ],
)
def test_missing_or_mistyped_claims_are_refused(issuer, published, moment, changes):
    assert refused(make_verifier(published, moment), issuer.sign(claims(issuer, **changes))) == "token:claims"


def test_float_times_are_times(issuer, published, moment):
    token = issuer.sign(claims(issuer, iat=NOW + 0.5, exp=NOW + 10.5, nbf=NOW - 0.5))
    assert make_verifier(published, moment).verify(token).name == "alice"


# -- who the token names -------------------------------------------------------------------------------


def test_the_name_is_the_first_of_username_preferred_username_email_then_sub():
    base = {"sub": "s-1"}
    assert person_of({**base, "cognito:username": "a", "username": "b", "email": "e"}, "g").name == "a"
    assert person_of({**base, "username": "b", "preferred_username": "p", "email": "e"}, "g").name == "b"
    assert person_of({**base, "preferred_username": "p", "email": "e"}, "g").name == "p"
    assert person_of({**base, "email": "e@x.test"}, "g").name == "e@x.test"
    assert person_of(base, "g").name == "s-1"
    assert person_of({**base, "cognito:username": "  ", "email": 5}, "g").name == "s-1"


def test_a_name_is_printable_and_bounded():
    person = person_of({"sub": "s", "email": " a\x1b[31mb\nc " + "d" * 200}, "g")
    assert person.name == ("a[31mbc " + "d" * 200)[: tokens.MAX_NAME_CHARS]
    assert len(person.name) == tokens.MAX_NAME_CHARS
    assert person_of({"sub": "s", "email": "\x00\x07"}, "g").name == "s"


def test_groups_come_from_the_configured_claim_strings_only_and_bounded():
    many = [f"c{i}:ic_viewer" for i in range(tokens.MAX_GROUPS + 5)]
    assert person_of({"sub": "s", "groups": many}, "groups").groups == tuple(many[: tokens.MAX_GROUPS])
    assert person_of({"sub": "s", "groups": ["a:r", 3, None]}, "groups").groups == ("a:r",)
    assert person_of({"sub": "s", "groups": "a:r"}, "groups").groups == ()
    assert person_of({"sub": "s", "cognito:groups": ["a:r"]}, "groups").groups == ()


def test_groups_named_community_colon_role_are_grants():
    person = Person(
        "s", "n",
        ("demo:community_admin", "demo:ic_viewer", "acme:ic_viewer", "demo:ic_viewer", "admins", "bad space:r",
         ":r", "demo:", "x" * 65 + ":r", "lab:a:b"),
    )  # fmt: skip
    assert person.grants() == {
        "demo": ("community_admin", "ic_viewer"),
        "acme": ("ic_viewer",),
        "lab": ("a:b",),
    }


# -- the issuer's keys --------------------------------------------------------------------------------


def test_keys_are_fetched_once_and_reused(issuer, published, moment):
    verifier = make_verifier(published, moment)
    for _ in range(3):
        verifier.verify(issuer.sign(claims(issuer)))
    verifier.verify(issuer.sign(claims(issuer), kid="ec-1"))
    assert published.asked == [JWKS_URL]


def test_an_unknown_kid_refetches_at_most_once_a_minute(issuer, published, moment):
    verifier = make_verifier(published, moment)
    verifier.verify(issuer.sign(claims(issuer)))
    issuer.add_key("rsa-2")
    rotated = issuer.sign(claims(issuer), kid="rsa-2")
    moment.value += 59.9
    assert refused(verifier, rotated) == "token:unknown kid"
    assert published.asked == [JWKS_URL]  # not yet a minute: no fetch
    issuer.published.append("rsa-2")
    moment.value += 0.1
    assert verifier.verify(rotated).name == "alice"
    assert published.asked == [JWKS_URL, JWKS_URL]
    assert refused(verifier, forge({"alg": "RS256", "kid": "nope"}, claims(issuer))) == "token:unknown kid"
    assert len(published.asked) == 2


def test_an_unknown_kid_on_a_first_request_fetches(issuer, published, moment):
    verifier = make_verifier(published, moment)
    assert refused(verifier, forge({"alg": "RS256", "kid": "nope"}, claims(issuer))) == "token:unknown kid"
    assert published.asked == [JWKS_URL]


def test_keys_are_read_again_after_an_hour(issuer, published, moment):
    verifier = make_verifier(published, moment)
    verifier.verify(issuer.sign(claims(issuer)))
    moment.value += tokens.KEYS_MAX_AGE_SECONDS - 0.1
    verifier.verify(issuer.sign(claims(issuer)))
    assert len(published.asked) == 1
    issuer.published = ["ec-1"]  # the issuer withdrew its RSA key
    moment.value += 0.1
    assert refused(verifier, issuer.sign(claims(issuer))) == "token:unknown kid"
    assert len(published.asked) == 2


def test_keys_that_cannot_be_fetched_refuse_and_the_next_request_tries_again(issuer, published, moment):
    verifier = make_verifier(published, moment)
    published.failing = True
    assert refused(verifier, issuer.sign(claims(issuer))) == "token:keys unavailable"
    published.failing = False
    assert verifier.verify(issuer.sign(claims(issuer))).name == "alice"
    assert len(published.asked) == 2


@pytest.mark.parametrize("document", [[], "keys", {"keys": {}}, {"nokeys": []}, {"keys": "x"}])
def test_a_jwks_that_is_not_one_refuses(issuer, published, moment, document):
    published.jwks = document
    assert refused(make_verifier(published, moment), issuer.sign(claims(issuer))) == "token:keys unavailable"


def test_only_signing_keys_of_the_allowed_kinds_are_kept(issuer, published, moment):
    rsa, ec = issuer.jwk("rsa-1"), issuer.jwk("ec-1")
    published.jwks = {
        "keys": [
            {**rsa, "kid": "enc", "use": "enc"},
            {**rsa, "kid": "rs512", "alg": "RS512"},
            {**ec, "kid": "es-as-rs", "alg": "RS256"},
            {**ec, "kid": "p384", "crv": "P-384"},
            {**_p384_jwk(), "kid": "p384-real"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {**rsa, "kid": "broken", "n": "!!"},
            {key: value for key, value in rsa.items() if key != "kid"},
            {**rsa, "kid": 7},
            "not a key",
            {**rsa, "kid": "plain", "alg": None, "use": None},
            {**ec, "kid": "ec-plain", "alg": None, "use": None},
        ]
    }
    published.jwks["keys"] = [
        {k: v for k, v in entry.items() if v is not None} if isinstance(entry, dict) else entry
        for entry in published.jwks["keys"]
    ]
    keys = IssuerKeys(ISSUER, JWKS_URL, fetch=published, monotonic=lambda: moment.value)
    assert keys.key("plain").algorithm_name == "RS256"
    assert keys.key("ec-plain").algorithm_name == "ES256"
    for kid in ("enc", "rs512", "es-as-rs", "p384", "p384-real", "hmac", "broken", "7"):
        moment.value += tokens.REFETCH_AFTER_SECONDS
        with pytest.raises(InvalidToken, match="Unauthorized"):
            keys.key(kid)


def _p384_jwk() -> dict[str, Any]:
    """A real P-384 key: an EC key, but not of the one curve ES256 verifies with."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    return json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1()).public_key()))


def test_without_a_jwks_url_the_issuer_is_asked_where_its_keys_are(issuer, published, moment):
    verifier = make_verifier(published, moment, jwks_url=None)
    verifier.verify(issuer.sign(claims(issuer)))
    moment.value += tokens.REFETCH_AFTER_SECONDS
    verifier.verify(issuer.sign(claims(issuer), kid="ec-1"))
    assert refused(verifier, forge({"alg": "RS256", "kid": "nope"}, claims(issuer))) == "token:unknown kid"
    assert published.asked == [f"{ISSUER}/.well-known/openid-configuration", JWKS_URL, JWKS_URL]


@pytest.mark.parametrize(
    "discovery",
    [
        {"issuer": "https://elsewhere.test/pool", "jwks_uri": JWKS_URL},
        {"issuer": f"{ISSUER}/", "jwks_uri": JWKS_URL},
        {"jwks_uri": JWKS_URL},
        {"issuer": ISSUER},
        {"issuer": ISSUER, "jwks_uri": 5},
        ["not", "a", "document"],
    ],
)
def test_a_discovery_document_of_another_issuer_or_without_keys_refuses(issuer, published, moment, discovery):
    published.discovery = discovery
    verifier = make_verifier(published, moment, jwks_url=None)
    assert refused(verifier, issuer.sign(claims(issuer))) == "token:keys unavailable"
    assert JWKS_URL not in published.asked


@pytest.mark.parametrize(
    ("url", "discovered_at"),
    [
        (f"{ISSUER}/", f"{ISSUER}/.well-known/openid-configuration"),
        # A Cognito pool id ends in any letter: only the slash is trimmed.
        ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEX", None),
    ],
)
def test_an_issuer_url_is_discovered_below_it_without_its_trailing_slash(issuer, moment, url, discovered_at):
    asked: list[str] = []

    def fetch(asked_for: str) -> Any:
        asked.append(asked_for)
        return {"issuer": url, "jwks_uri": JWKS_URL} if "well-known" in asked_for else issuer.jwks()

    IssuerKeys(url, fetch=fetch, monotonic=lambda: moment.value).key("rsa-1")
    assert asked == [discovered_at or f"{url}/.well-known/openid-configuration", JWKS_URL]


def test_fetch_json_reads_only_http_urls():
    for url in ("file:///etc/passwd", "ftp://issuer.test/jwks.json", "/pool/jwks.json"):
        with pytest.raises(KeysUnavailable):
            tokens.fetch_json(url)


def test_fetch_json_asks_an_https_issuer_for_json(monkeypatch):
    """``urlopen`` stands in for an HTTPS issuer: no certificate this machine trusts can be made
    for a loopback server (tests/functional/test_issuer_keys.py reads plain HTTP for real)."""
    asked: list[tuple[str, str | None, float]] = []

    class Answer(io.BytesIO):
        def __enter__(self) -> Answer:
            return self

        def __exit__(self, *exc: object) -> None:
            self.close()

    def urlopen(request: Any, timeout: float) -> Answer:
        asked.append((request.full_url, request.get_header("Accept"), timeout))
        return Answer(b'{"keys": []}')

    monkeypatch.setattr(tokens.urllib.request, "urlopen", urlopen)
    assert tokens.fetch_json("https://issuer.test/pool/jwks.json") == {"keys": []}
    assert asked == [("https://issuer.test/pool/jwks.json", "application/json", tokens.FETCH_TIMEOUT_SECONDS)]


# -- settings ---------------------------------------------------------------------------------------


def _env(**values: str) -> dict[str, str]:
    return {"APIKEYS_PEPPERS": "p1:" + "a" * 44, **values}


def test_without_an_issuer_people_do_not_sign_in():
    assert from_environ(_env(APIKEYS_OIDC_AUDIENCE="c1")).oidc is None
    assert from_environ(_env(APIKEYS_OIDC_ISSUER="  ")).oidc is None


def test_the_oidc_settings_are_read_with_their_defaults():
    oidc = from_environ(_env(APIKEYS_OIDC_ISSUER=ISSUER, APIKEYS_OIDC_AUDIENCE=" c1, ,c2 ")).oidc
    assert oidc == OidcSettings(ISSUER, ("c1", "c2"), None, "cognito:groups", console_client_id="c1")
    oidc = from_environ(
        _env(APIKEYS_OIDC_ISSUER=ISSUER, APIKEYS_OIDC_AUDIENCE="c1", APIKEYS_OIDC_JWKS_URL=JWKS_URL,
             APIKEYS_OIDC_GROUPS_CLAIM="groups")
    ).oidc  # fmt: skip
    assert oidc == OidcSettings(ISSUER, ("c1",), JWKS_URL, "groups", console_client_id="c1")


COGNITO_ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"


def test_a_cognito_issuer_gives_the_console_its_endpoint_and_first_client():
    oidc = from_environ(_env(APIKEYS_OIDC_ISSUER=COGNITO_ISSUER, APIKEYS_OIDC_AUDIENCE="c1,c2")).oidc
    assert oidc is not None
    assert (oidc.cognito_endpoint, oidc.console_client_id) == ("https://cognito-idp.eu-west-1.amazonaws.com/", "c1")


def test_the_console_sign_in_can_be_pointed_elsewhere():
    oidc = from_environ(
        _env(APIKEYS_OIDC_ISSUER=COGNITO_ISSUER, APIKEYS_OIDC_AUDIENCE="c1,c2",
             APIKEYS_OIDC_CONSOLE_CLIENT_ID="c2", APIKEYS_COGNITO_ENDPOINT="http://127.0.0.1:5000")
    ).oidc  # fmt: skip
    assert oidc is not None
    assert (oidc.cognito_endpoint, oidc.console_client_id) == ("http://127.0.0.1:5000", "c2")


@pytest.mark.parametrize(
    "issuer",
    [
        ISSUER,  # any other issuer: its people sign in with its own pages
        "http://cognito-idp.eu-west-1.amazonaws.com/pool",
        "https://cognito-idp.eu-west-1.amazonaws.com:8443/pool",
        "https://cognito-idp.amazonaws.com/pool",
        "https://cognito-idp.evil.test/.amazonaws.com/pool",
        "https://cognito-idp.x.y.amazonaws.com/pool",
        "https://login.cognito-idp.eu-west-1.amazonaws.com/pool",
    ],
)
def test_only_a_cognito_issuer_names_a_console_sign_in_endpoint(issuer):
    oidc = from_environ(_env(APIKEYS_OIDC_ISSUER=issuer, APIKEYS_OIDC_AUDIENCE="c1")).oidc
    assert oidc is not None and oidc.cognito_endpoint is None


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"APIKEYS_OIDC_ISSUER": ISSUER}, "APIKEYS_OIDC_AUDIENCE"),
        ({"APIKEYS_OIDC_ISSUER": ISSUER, "APIKEYS_OIDC_AUDIENCE": " , "}, "APIKEYS_OIDC_AUDIENCE"),
        ({"APIKEYS_OIDC_ISSUER": "issuer.test/pool", "APIKEYS_OIDC_AUDIENCE": "c"}, "APIKEYS_OIDC_ISSUER"),
        (
            {"APIKEYS_OIDC_ISSUER": ISSUER, "APIKEYS_OIDC_AUDIENCE": "c", "APIKEYS_OIDC_JWKS_URL": "file:///k"},
            "APIKEYS_OIDC_JWKS_URL",
        ),
        (
            {"APIKEYS_OIDC_ISSUER": ISSUER, "APIKEYS_OIDC_AUDIENCE": "c1", "APIKEYS_OIDC_CONSOLE_CLIENT_ID": "c2"},
            "APIKEYS_OIDC_CONSOLE_CLIENT_ID",
        ),
        (
            {"APIKEYS_OIDC_ISSUER": ISSUER, "APIKEYS_OIDC_AUDIENCE": "c", "APIKEYS_COGNITO_ENDPOINT": "idp.test"},
            "APIKEYS_COGNITO_ENDPOINT",
        ),
    ],
)
def test_incomplete_oidc_settings_are_refused_naming_the_setting(values, named):
    with pytest.raises(SettingsError, match=named):
        from_environ(_env(**values))
