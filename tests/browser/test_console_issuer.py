"""People of any OIDC issuer sign in to the console through the issuer's own pages: the
authorization code flow with PKCE, against a minimal authorization server on loopback
(``tests/authorization_server.py``: it checks the verifier, the client, the redirect URI, uses
each code once and rotates refresh tokens). The local run trusts that issuer instead of its user
pool (``APIKEYS_OIDC_ISSUER`` set before ``scripts/local.py`` starts), so the API's own authorizer
verifies every token the console sends."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from scripts.lifeline import tied
from tests.authorization_server import AuthorizationServer, authorization_url, query_of, serving_authorization_server
from tests.browser.conftest import ROOT, Console, Server, _first_json_line, _stop, _wait_until_serving, unique
from tests.conftest import free_port
from tests.oidc import CLIENT_ID

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PERSON_ITEM = "apikeys.console.person"
PENDING_ITEM = "apikeys.console.sign-in"
NAME = "carol@example.org"  # the person's preferred_username: the name the API records


def expect(locator):  # noqa: ANN001, ANN201 - Playwright's assertion helper, imported lazily
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture(scope="module")
def issuer() -> Iterator[AuthorizationServer]:
    console_port = free_port()  # the console's URL is the redirect URI registered at the issuer
    with serving_authorization_server((f"http://127.0.0.1:{console_port}/",)) as server:
        yield server


@pytest.fixture(scope="module")
def server(issuer: AuthorizationServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The local run, its people from ``issuer`` (this module's ``server``: the console fixture's)."""
    port, moto_port = urlsplit(issuer.redirect_uris[0]).port, free_port()
    log_path = tmp_path_factory.mktemp("issuer-run") / "local.log"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "APIKEYS_")) or name == "AWS_DEFAULT_REGION"
    }
    env.update(
        PYTHONUNBUFFERED="1",
        APIKEYS_OIDC_ISSUER=issuer.issuer.url,
        APIKEYS_OIDC_AUDIENCE=CLIENT_ID,
        APIKEYS_OIDC_GROUPS_CLAIM="groups",
        APIKEYS_OIDC_SCOPES="groups offline_access",
    )
    command = [sys.executable, str(ROOT / "scripts" / "local.py"), "--port", str(port), "--moto-port", str(moto_port)]
    command += ["--env-file", str(log_path.with_name("run.env"))]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            tied(command), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        first = _first_json_line(log_path, process)
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_serving(base_url, process, log_path)
        yield Server(
            base_url, first["community"], first["admin_key_id"], first["admin_key"], f"http://127.0.0.1:{moto_port}"
        )
    finally:
        _stop(process)


@pytest.fixture(autouse=True)
def fresh_issuer(issuer: AuthorizationServer) -> None:
    issuer.deny = None
    issuer.nonce_instead = None
    issuer.refresh_tokens_given = True


def host(issuer: AuthorizationServer) -> str:
    return urlsplit(issuer.base).netloc


def stored_tokens(console: Console) -> dict[str, Any]:
    return dict(json.loads(console.page.evaluate(f"sessionStorage.getItem('{PERSON_ITEM}')")))


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def b64_sha256(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


def form_error(console: Console) -> Any:
    return console.page.locator("#redirect-form [data-error-for=_form]")


def token_request(issuer: AuthorizationServer, grant: str) -> Any:
    return lambda request: (
        request.url == f"{issuer.base}/pool/token" and f"grant_type={grant}" in (request.post_data or "")
    )


def sign_in(console: Console, issuer: AuthorizationServer) -> dict[str, str]:
    """Through the issuer and back; the token request's form, as the browser sent it."""
    page = console.page
    console.open()
    with page.expect_request(token_request(issuer, "authorization_code")) as exchanged:
        page.get_by_role("button", name=f"Sign in with {host(issuer)}").click()
    expect(page.locator("#session-person-name")).to_have_text(NAME)
    console.wait_loaded()
    return dict(parse_qsl(exchanged.value.post_data))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_the_first_screen_offers_the_issuers_sign_in_and_the_key_one_click_away(
    console: Console, issuer: AuthorizationServer, viewport: dict[str, int]
) -> None:
    page = console.page
    page.set_viewport_size(viewport)
    console.open()
    button = page.get_by_role("button", name=f"Sign in with {host(issuer)}")
    expect(button).to_be_focused()
    expect(page.locator("#redirect-issuer")).to_have_text(host(issuer))
    expect(page.locator("#person-form")).to_be_hidden()  # no password asked here: the issuer asks it
    expect(page.locator("#signin-form")).to_be_hidden()
    assert console.unlabelled_controls() == []
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    console.shot(f"80-issuer-sign-in-{viewport['width']}")
    page.get_by_role("button", name="Use an API key instead").click()
    expect(page.get_by_label("Admin API key")).to_be_focused()
    page.get_by_role("button", name=f"Use your account at {host(issuer)} instead").click()
    expect(button).to_be_focused()


def test_a_person_signs_in_at_the_issuer_acts_under_their_name_renews_and_signs_out_there(
    console: Console, server: Server, issuer: AuthorizationServer
) -> None:
    page = console.page
    page.set_viewport_size(DESKTOP)
    logged: list[str] = []
    page.on("console", lambda message: logged.append(message.text))
    form = sign_in(console, issuer)

    # What the console asked the issuer for, and how it proved the code was its own.
    asked = issuer.authorizations[-1]
    assert asked["response_type"] == "code" and asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"] == server.base_url + "/"
    assert asked["scope"] == "openid profile email groups offline_access"
    assert asked["code_challenge_method"] == "S256"
    assert asked["code_challenge"] == b64_sha256(form["code_verifier"]) and len(form["code_verifier"]) == 43
    assert len(asked["state"]) == len(asked["nonce"]) == 43 and asked["state"] != asked["nonce"]
    assert form["grant_type"] == "authorization_code" and form["client_id"] == CLIENT_ID
    assert form["redirect_uri"] == server.base_url + "/" and "client_secret" not in form  # a public client

    # The code and state left the address bar; the tokens are in this tab's sessionStorage only.
    assert urlsplit(page.url).query == ""
    tokens = stored_tokens(console)
    assert set(tokens) == {"idToken", "accessToken", "refreshToken", "expiresAt"}
    assert claims_of(tokens["idToken"])["nonce"] == asked["nonce"]
    assert page.evaluate("Object.keys(sessionStorage)") == [PERSON_ITEM]  # the state, nonce and verifier are gone
    assert page.evaluate("localStorage.length") == 0 and page.evaluate("document.cookie") == ""
    expect(page.locator("#session-key")).to_be_hidden()
    expect(page.locator("#session-community")).to_have_text(server.community)
    console.shot("81-issuer-signed-in-1280")

    # A key made by the person is recorded under their name.
    name = unique("Made at the issuer")
    page.get_by_role("button", name="+ API key").click()
    dialog = page.get_by_role("dialog", name="New API key")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("ic_viewer – Intelligence Center Read-Only").check()
    with page.expect_response(lambda r: r.url.endswith("/apikeys") and r.request.method == "POST") as posted:
        dialog.get_by_role("button", name="Save").click()
    assert posted.value.status == 201
    assert posted.value.request.headers["authorization"] == "Bearer " + tokens["idToken"]
    key_id = posted.value.json()["api_key"]["id"]
    page.get_by_role("dialog", name="Your new API key").get_by_role("button", name="I have saved it, close").click()
    admin = {"Authorization": f"Bearer {server.admin_key}"}
    events = requests.get(
        f"{server.base_url}/communities/{server.community}/apikeys/{key_id}/events", headers=admin, timeout=30
    ).json()["items"]
    created = [event for event in events if event["action"] == "create"]
    assert [(e["actor"], e.get("actor_name")) for e in created] == [(f"user:{issuer.person['sub']}", NAME)]

    # An ID token about to expire is renewed with the refresh token, which the issuer rotates.
    tokens["expiresAt"] = 0
    page.evaluate("([item, value]) => sessionStorage.setItem(item, value)", [PERSON_ITEM, json.dumps(tokens)])
    with page.expect_request(token_request(issuer, "refresh_token")):
        page.reload()
    expect(page.locator("#session-person-name")).to_have_text(NAME)
    console.wait_loaded()
    renewed = stored_tokens(console)
    assert renewed["idToken"] != tokens["idToken"] and renewed["expiresAt"] > 0
    assert renewed["refreshToken"] != tokens["refreshToken"] and not issuer.refresh_works(tokens["refreshToken"])

    # Signing out ends the session at the issuer too, and comes back here.
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signin-status")).to_have_text(f"You are signed out, here and at {host(issuer)}.")
    ended = issuer.logouts[-1]
    assert ended["id_token_hint"] == renewed["idToken"] and ended["client_id"] == CLIENT_ID
    assert ended["post_logout_redirect_uri"] == server.base_url + "/"
    assert not issuer.refresh_works(renewed["refreshToken"])
    assert page.evaluate("sessionStorage.length") == 0
    expect(page.get_by_role("button", name=f"Sign in with {host(issuer)}")).to_be_visible()

    # Nothing secret went to the browser's console.
    secrets_seen = (form["code"], form["code_verifier"], tokens["idToken"], renewed["idToken"], renewed["refreshToken"])
    assert not [text for text in logged if any(secret in text for secret in secrets_seen)]

    # The operators' way in still works, one click away.
    console.sign_in()
    expect(page.locator("#session-key-id")).to_have_text(server.admin_key_id)


def _issued_code(issuer: AuthorizationServer, redirect_uri: str) -> str:
    """A real code of the issuer, as an attacker gets one for their own account."""
    answer = requests.get(authorization_url(issuer, redirect_uri), allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    return query_of(answer.headers["Location"])["code"]


def test_an_answer_with_a_state_this_tab_did_not_send_is_refused(
    console: Console, server: Server, issuer: AuthorizationServer
) -> None:
    page = console.page
    code = _issued_code(issuer, server.base_url + "/")
    exchanges = len(issuer.token_requests)
    console.open()
    pending = {"state": "s" * 43, "nonce": "n" * 43, "verifier": "v" * 43, "hash": "", "at": 0}
    for state, saved in (("forged", None), ("forged", pending), (None, pending)):
        if saved is not None:
            saved = {**saved, "at": page.evaluate("Date.now()")}
            page.evaluate("([item, value]) => sessionStorage.setItem(item, value)", [PENDING_ITEM, json.dumps(saved)])
        page.goto(server.base_url + "/?" + urlencode({"code": code, **({"state": state} if state else {})}))
        expect(form_error(console)).to_contain_text("was not for a sign-in started in this tab")
        assert urlsplit(page.url).query == ""
        assert page.evaluate("sessionStorage.length") == 0
    assert len(issuer.token_requests) == exchanges  # the code was never sent to be exchanged


def test_an_issuer_that_refuses_says_why_on_the_sign_in(console: Console, issuer: AuthorizationServer) -> None:
    page = console.page
    page.set_viewport_size(PHONE)
    issuer.deny = "Carol did not allow the API keys console to sign her in."
    exchanges = len(issuer.token_requests)
    console.open()
    page.get_by_role("button", name=f"Sign in with {host(issuer)}").click()
    expect(form_error(console)).to_have_text(f"{host(issuer)} did not sign you in: {issuer.deny}")
    assert issuer.authorizations[-1]["state"]  # the answer came back with the state the tab sent
    assert urlsplit(page.url).query == "" and page.evaluate("sessionStorage.length") == 0
    expect(page.get_by_role("button", name=f"Sign in with {host(issuer)}")).to_be_enabled()
    assert len(issuer.token_requests) == exchanges
    console.shot("82-issuer-refused-390")


def test_the_issuers_code_is_used_once(console: Console, server: Server, issuer: AuthorizationServer) -> None:
    page = console.page
    form = sign_in(console, issuer)
    first_refresh = stored_tokens(console)["refreshToken"]
    asked = issuer.authorizations[-1]

    # The same answer again, with this tab holding the same state, nonce and verifier as then.
    pending = {"state": asked["state"], "nonce": asked["nonce"], "verifier": form["code_verifier"], "hash": ""}
    pending["at"] = page.evaluate("Date.now()")
    page.evaluate("([item, value]) => sessionStorage.setItem(item, value)", [PENDING_ITEM, json.dumps(pending)])
    exchange = token_request(issuer, "authorization_code")
    with page.expect_response(lambda response: exchange(response.request)) as refused:
        page.goto(server.base_url + "/?" + urlencode({"code": form["code"], "state": asked["state"]}))
    assert refused.value.status == 400
    expect(form_error(console)).to_have_text("The sign-in service refused: the code was already used")
    assert page.evaluate("sessionStorage.length") == 0
    assert not issuer.refresh_works(first_refresh)  # the issuer revoked what the code gave

    # Nor can anyone else replay the exchange the browser made.
    again = requests.post(f"{issuer.base}/pool/token", data=form, timeout=10)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_an_id_token_with_another_nonce_is_refused(console: Console, issuer: AuthorizationServer) -> None:
    page = console.page
    issuer.nonce_instead = "a-nonce-this-tab-never-sent"
    console.open()
    page.get_by_role("button", name=f"Sign in with {host(issuer)}").click()
    expect(form_error(console)).to_contain_text("its nonce differs")
    assert page.evaluate("sessionStorage.length") == 0
    expect(page.locator("#console-view")).to_be_hidden()


def test_without_a_refresh_token_a_person_is_asked_to_sign_in_again(
    console: Console, issuer: AuthorizationServer
) -> None:
    page = console.page
    issuer.refresh_tokens_given = False
    sign_in(console, issuer)
    tokens = stored_tokens(console)
    assert tokens["refreshToken"] is None
    # The ID token goes bad (as one that expired would): with nothing to renew it, sign in again.
    tokens["idToken"] = tokens["idToken"][:-8] + "AAAAAAAA"
    page.evaluate("([item, value]) => sessionStorage.setItem(item, value)", [PERSON_ITEM, json.dumps(tokens)])
    page.reload()
    expect(form_error(console)).to_contain_text("Your session has ended")
    expect(page.get_by_role("button", name=f"Sign in with {host(issuer)}")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
