"""The console's redirect sign-in on the server's side: its settings (how people sign in, the
scopes asked for), the issuer's endpoints read from a real discovery document on loopback, and
the page's Content-Security-Policy built for them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.routes import console
from chalicelib.routes.console import IssuerDiscovery, IssuerEndpoints, endpoints_of
from chalicelib.settings import SettingsError, from_environ
from tests.authorization_server import AuthorizationServer, serving_authorization_server

ISSUER = "https://login.example.org/oauth2/default"
COGNITO_ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"


def _env(**values: str) -> dict[str, str]:
    return {"APIKEYS_PEPPERS": "p1:" + "a" * 44, "APIKEYS_OIDC_AUDIENCE": "spa,cli", **values}


# -- settings --------------------------------------------------------------------------------------


def test_any_other_issuer_signs_people_in_by_redirect_asking_for_openid_profile_email():
    oidc = from_environ(_env(APIKEYS_OIDC_ISSUER=ISSUER)).oidc
    assert oidc is not None
    assert (oidc.console_sign_in, oidc.console_client_id, oidc.cognito_endpoint) == ("redirect", "spa", None)
    assert (oidc.scopes, oidc.console_scope) == ((), "openid profile email")


def test_a_cognito_pool_keeps_the_password_sign_in_unless_the_stage_asks_for_the_redirect():
    oidc = from_environ(_env(APIKEYS_OIDC_ISSUER=COGNITO_ISSUER)).oidc
    assert oidc is not None and oidc.console_sign_in == "password"
    oidc = from_environ(_env(APIKEYS_OIDC_ISSUER=COGNITO_ISSUER, APIKEYS_OIDC_CONSOLE_SIGN_IN=" redirect ")).oidc
    assert oidc is not None and oidc.console_sign_in == "redirect"


def test_extra_scopes_are_added_once_separated_by_spaces_or_commas():
    oidc = from_environ(
        _env(APIKEYS_OIDC_ISSUER=ISSUER, APIKEYS_OIDC_SCOPES=" groups, offline_access openid  groups")
    ).oidc
    assert oidc is not None
    assert oidc.scopes == ("groups", "offline_access")
    assert oidc.console_scope == "openid profile email groups offline_access"
    uri_scope = from_environ(_env(APIKEYS_OIDC_ISSUER=ISSUER, APIKEYS_OIDC_SCOPES="api://apikeys/user.read")).oidc
    assert uri_scope is not None and uri_scope.scopes == ("api://apikeys/user.read",)  # Entra ID's kind


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"APIKEYS_OIDC_CONSOLE_SIGN_IN": "implicit"}, "APIKEYS_OIDC_CONSOLE_SIGN_IN"),
        ({"APIKEYS_OIDC_CONSOLE_SIGN_IN": "password"}, "APIKEYS_OIDC_CONSOLE_SIGN_IN=password needs"),
        ({"APIKEYS_OIDC_SCOPES": 'groups "admin"'}, "APIKEYS_OIDC_SCOPES"),
        ({"APIKEYS_OIDC_SCOPES": "groups back\\slash"}, "APIKEYS_OIDC_SCOPES"),
        ({"APIKEYS_OIDC_SCOPES": "caf\u00e9"}, "APIKEYS_OIDC_SCOPES"),
        ({"APIKEYS_OIDC_SCOPES": "x" * 65}, "APIKEYS_OIDC_SCOPES"),
        ({"APIKEYS_OIDC_SCOPES": " ".join(f"s{n}" for n in range(21))}, "APIKEYS_OIDC_SCOPES"),
    ],
)
def test_a_bad_sign_in_setting_is_refused_naming_it(values: dict[str, str], named: str):
    with pytest.raises(SettingsError, match=named):
        from_environ(_env(APIKEYS_OIDC_ISSUER=ISSUER, **values))


def test_at_the_limits_the_scopes_are_accepted():
    scopes = " ".join(f"s{n:02d}" + "x" * 61 for n in range(20))
    oidc = from_environ(_env(APIKEYS_OIDC_ISSUER=ISSUER, APIKEYS_OIDC_SCOPES=scopes)).oidc
    assert oidc is not None and len(oidc.scopes) == 20


def test_the_cli_stops_on_a_bad_setting_with_one_line_naming_it(monkeypatch, capsys):
    from chalicelib import cli
    from chalicelib.settings import reset_settings

    for name, value in _env(APIKEYS_OIDC_ISSUER=ISSUER, APIKEYS_OIDC_SCOPES='"groups"').items():
        monkeypatch.setenv(name, value)
    reset_settings()
    try:
        assert cli.main(["list", "--community", "demo"]) == 2
    finally:
        reset_settings()
    assert "APIKEYS_OIDC_SCOPES" in capsys.readouterr().err


# -- the issuer's endpoints ------------------------------------------------------------------------


@pytest.fixture
def issuer() -> Iterator[AuthorizationServer]:
    with serving_authorization_server(("http://127.0.0.1:1/",)) as server:
        yield server


def test_the_endpoints_come_from_the_issuers_discovery_document(issuer: AuthorizationServer):
    found = IssuerDiscovery().endpoints(issuer.issuer.url)
    assert found == IssuerEndpoints(
        f"{issuer.base}/pool/authorize", f"{issuer.base}/pool/token", f"{issuer.base}/pool/logout"
    )


def test_discovery_is_read_once_an_hour_and_retried_a_minute_after_it_failed(issuer: AuthorizationServer):
    moment = [0.0]
    discovery = IssuerDiscovery(monotonic=lambda: moment[0])
    url = issuer.issuer.url
    assert discovery.endpoints(url) is not None
    moment[0] = 3599.0
    assert discovery.endpoints(url) is not None and len(issuer.requests) == 1
    issuer.failing = True
    moment[0] = 3600.0
    assert discovery.endpoints(url) is None and len(issuer.requests) == 2
    issuer.failing = False
    moment[0] = 3659.0
    assert discovery.endpoints(url) is None and len(issuer.requests) == 2  # not on every asset
    moment[0] = 3660.0
    assert discovery.endpoints(url) is not None and len(issuer.requests) == 3


GOOD = {
    "issuer": ISSUER,
    "authorization_endpoint": "https://login.example.org/oauth2/default/v1/authorize",
    "token_endpoint": "https://login.example.org/oauth2/default/v1/token",
}


@pytest.mark.parametrize(
    "changes",
    [
        {"issuer": "https://login.example.org/oauth2/other"},
        {"authorization_endpoint": None},
        {"token_endpoint": None},
        {"token_endpoint": 42},
        {"token_endpoint": "http://login.example.org/token"},  # in clear over a network
        {"authorization_endpoint": "javascript:alert(1)"},
        {"authorization_endpoint": "https://login.example.org/authorize#x"},
        {"code_challenge_methods_supported": ["plain"]},
    ],
)
def test_a_discovery_document_the_console_cannot_use_gives_no_endpoints(changes: dict[str, Any]):
    document = {name: value for name, value in {**GOOD, **changes}.items() if value is not None}
    assert endpoints_of(document, ISSUER) is None


def test_an_unusable_end_session_endpoint_is_left_out_and_loopback_http_is_allowed():
    document = {**GOOD, "end_session_endpoint": "http://login.example.org/logout"}
    assert endpoints_of(document, ISSUER) == IssuerEndpoints(GOOD["authorization_endpoint"], GOOD["token_endpoint"])
    loopback = {
        "issuer": "http://127.0.0.1:9/x",
        "authorization_endpoint": "http://127.0.0.1:9/a",
        "token_endpoint": "http://localhost:9/t",
    }
    assert endpoints_of(loopback, "http://127.0.0.1:9/x") == IssuerEndpoints(
        "http://127.0.0.1:9/a", "http://localhost:9/t"
    )


# -- the page and its policy -----------------------------------------------------------------------


def _policy(response: Any) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))


@pytest.fixture
def issuer_page(client: Any, issuer: AuthorizationServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from chalicelib import wiring
    from chalicelib.settings import get_settings

    monkeypatch.setenv("APIKEYS_OIDC_ISSUER", issuer.issuer.url)
    monkeypatch.setenv("APIKEYS_OIDC_AUDIENCE", "console-client,cli")
    monkeypatch.setenv("APIKEYS_OIDC_SCOPES", "groups")
    monkeypatch.setattr(console, "discovery", IssuerDiscovery())
    wiring.reset()
    get_settings()  # read now: the test client sets the stage's own settings around each request
    yield client
    wiring.reset()


def test_the_page_names_the_issuers_endpoints_and_may_connect_only_to_its_token_endpoint(
    issuer_page: Any, issuer: AuthorizationServer
):
    page = issuer_page.http.get("/")
    body = page.body.decode()
    assert f'data-issuer="{issuer.issuer.url}"' in body
    assert f'data-authorization-endpoint="{issuer.base}/pool/authorize"' in body
    assert f'data-token-endpoint="{issuer.base}/pool/token"' in body
    assert f'data-end-session-endpoint="{issuer.base}/pool/logout"' in body
    assert 'data-scope="openid profile email groups"' in body
    assert 'data-cognito-endpoint="" data-client-id="console-client"' in body
    for response in (page, issuer_page.http.get("/console/oidc.js")):
        policy = _policy(response)
        assert policy["connect-src"] == f"'self' {issuer.base}", response  # the token endpoint's origin only
        assert policy["script-src"] == "'self'" and policy["form-action"] == "'none'"
        assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert len(issuer.requests) == 1  # discovered once for the page and its assets


def test_while_the_issuer_cannot_be_reached_the_page_connects_nowhere_else(
    issuer_page: Any, issuer: AuthorizationServer
):
    issuer.failing = True
    page = issuer_page.http.get("/")
    body = page.body.decode()
    assert f'data-issuer="{issuer.issuer.url}"' in body and 'data-token-endpoint=""' in body
    assert _policy(page)["connect-src"] == "'self'"


def test_values_reach_the_page_escaped(issuer_page: Any, issuer: AuthorizationServer):
    issuer.discovery_changes["authorization_endpoint"] = f'{issuer.base}/pool/authorize?x="><script>'
    body = issuer_page.http.get("/").body.decode()
    assert f'data-authorization-endpoint="{issuer.base}/pool/authorize?x=&quot;&gt;&lt;script&gt;"' in body
    assert '"><script>' not in body
