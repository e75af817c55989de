"""People sign in to the console with their own username and password, against the local run's
Cognito user pool (moto in server mode, called from the browser as Cognito would be), and act
under their own name; operators keep the API key sign-in one click away."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import pytest
import requests

from tests.browser.conftest import Console, Server, unique

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PERSON_ITEM = "apikeys.console.person"


def expect(locator):  # noqa: ANN001, ANN201 - Playwright's assertion helper, imported lazily
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def cognito(server: Server) -> Any:
    import boto3

    return boto3.client(
        "cognito-idp",
        endpoint_url=server.moto_url,
        region_name=server.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def sign_in_as(console: Console, username: str, password: str) -> None:
    console.open()
    page = console.page
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def stored_tokens(console: Console) -> dict[str, Any]:
    return dict(json.loads(console.page.evaluate(f"sessionStorage.getItem('{PERSON_ITEM}')")))


def refresh_works(server: Server, refresh_token: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        cognito(server).initiate_auth(
            AuthFlow="REFRESH_TOKEN_AUTH",
            ClientId=server.person["client_id"],
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NotAuthorizedException"
        return False
    return True


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_the_first_screen_asks_a_person_for_username_and_password(console: Console, viewport: dict[str, int]) -> None:
    page = console.page
    page.set_viewport_size(viewport)
    console.open()
    form = page.locator("#person-form")
    expect(form.get_by_label("Username")).to_be_focused()
    expect(form.get_by_label("Password")).to_have_attribute("type", "password")
    expect(page.locator("#signin-form")).to_be_hidden()  # the API key is one click away, not the default
    expect(page.get_by_role("button", name="Use an API key instead")).to_be_visible()
    assert console.unlabelled_controls() == []
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    console.shot(f"70-person-sign-in-{viewport['width']}")


def test_a_person_signs_in_acts_under_their_name_and_signs_out_for_real(console: Console, server: Server) -> None:
    page = console.page
    page.set_viewport_size(DESKTOP)
    person = server.person
    sign_in_as(console, person["username"], person["password"])
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.locator("#session-person-name")).to_have_text(person["username"])  # from /whoami
    expect(page.locator("#session-community")).to_have_text(server.community)
    expect(page.locator("#session-key")).to_be_hidden()
    console.wait_loaded()
    tokens = stored_tokens(console)
    assert set(tokens) == {"idToken", "accessToken", "refreshToken", "expiresAt"}
    assert page.evaluate("localStorage.length") == 0 and page.evaluate("document.cookie") == ""
    assert person["password"] not in json.dumps(tokens) and page.get_by_label("Password").input_value() == ""
    console.shot("71-person-signed-in-1280")

    # A key made by the person is recorded under their name.
    name = unique("Made by a person")
    page.get_by_role("button", name="+ API key").click()
    dialog = page.get_by_role("dialog", name="New API key")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("ic_viewer – Intelligence Center Read-Only").check()
    with page.expect_response(lambda r: r.url.endswith("/apikeys") and r.request.method == "POST") as posted:
        dialog.get_by_role("button", name="Save").click()
    assert posted.value.status == 201
    assert posted.value.request.headers["authorization"] == "Bearer " + tokens["idToken"]
    page.get_by_role("dialog", name="Your new API key").get_by_role("button", name="I have saved it, close").click()
    console.search(name)
    console.row(name).first.get_by_role("button", name=f"Edit {name}").click()
    expect(page.locator("#edit-details")).to_contain_text(person["username"])
    page.get_by_role("dialog", name="Edit API key").get_by_role("button", name="Cancel").click()

    page.reload()  # the tab keeps the session until it closes
    expect(page.locator("#session-person-name")).to_have_text(person["username"])
    console.wait_loaded()

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signin-status")).to_have_text("You are signed out.")
    assert page.evaluate("sessionStorage.length") == 0
    assert not refresh_works(server, tokens["refreshToken"])  # Cognito ended the session, not just this tab
    page.reload()
    expect(page.get_by_label("Username")).to_be_visible()
    expect(page.locator("#console-view")).to_be_hidden()

    # The operators' way in still works, one click away.
    console.sign_in()
    expect(page.locator("#session-key-id")).to_have_text(server.admin_key_id)


def test_a_refused_token_is_renewed_once_with_the_refresh_token(console: Console, server: Server) -> None:
    page = console.page
    sign_in_as(console, server.person["username"], server.person["password"])
    console.wait_loaded()
    tokens = stored_tokens(console)
    # The ID token goes bad (as one that expired would): the API answers 401, the console renews.
    tokens["idToken"] = tokens["idToken"][:-8] + "AAAAAAAA"
    page.evaluate("([item, value]) => sessionStorage.setItem(item, value)", [PERSON_ITEM, json.dumps(tokens)])
    with page.expect_response(lambda r: r.url.endswith("/whoami") and r.status == 401):
        page.reload()
    expect(page.locator("#session-person-name")).to_have_text(server.person["username"])
    console.wait_loaded()
    renewed = stored_tokens(console)
    assert renewed["idToken"] != tokens["idToken"] and renewed["refreshToken"] == tokens["refreshToken"]

    # When the refresh token is no good either, the person is asked to sign in again.
    renewed["idToken"] = tokens["idToken"]
    renewed["refreshToken"] = "not-a-refresh-token"
    page.evaluate("([item, value]) => sessionStorage.setItem(item, value)", [PERSON_ITEM, json.dumps(renewed)])
    page.reload()
    expect(page.locator("#person-form [data-error-for=_form]")).to_contain_text("Your session has ended")
    assert page.evaluate("sessionStorage.length") == 0


def test_a_wrong_password_is_refused_and_nothing_is_kept(console: Console, server: Server) -> None:
    page = console.page
    sign_in_as(console, server.person["username"], server.person["password"] + "x")
    expect(page.locator("#person-form [data-error-for=_form]")).to_have_text("The username or password is not right.")
    assert page.get_by_label("Password").input_value() == ""
    assert page.evaluate("sessionStorage.length") == 0
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#person-username-error")).to_be_hidden()
    expect(page.locator("#person-password-error")).to_have_text("Enter your password")


def _invite(server: Server, groups: tuple[str, ...], temporary_password: str | None = None) -> tuple[str, str]:
    """A new person in the run's pool: with a password of their own, or invited with a temporary one."""
    client = cognito(server)
    pool = server.person["user_pool_id"]
    username, password = unique("person"), f"{secrets.token_urlsafe(12)}-Aa1"
    if temporary_password is not None:
        client.admin_create_user(
            UserPoolId=pool, Username=username, TemporaryPassword=temporary_password, MessageAction="SUPPRESS"
        )
    else:
        client.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
        client.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
    for group in groups:
        if not any(g["GroupName"] == group for g in client.list_groups(UserPoolId=pool)["Groups"]):
            client.create_group(UserPoolId=pool, GroupName=group)
        client.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
    return username, password


def test_an_invited_person_chooses_their_own_password_on_first_sign_in(console: Console, server: Server) -> None:
    temporary = f"{secrets.token_urlsafe(12)}-Tt1"
    username, chosen = _invite(server, (f"{server.community}:community_admin",), temporary_password=temporary)
    page = console.page
    page.set_viewport_size(PHONE)
    sign_in_as(console, username, temporary)
    answer = page.get_by_label("New password")
    expect(answer).to_be_focused()
    expect(answer).to_have_attribute("autocomplete", "new-password")
    expect(page.get_by_label("Username")).to_be_hidden()
    console.shot("73-person-new-password-390")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#person-answer-error")).to_have_text("Choose a new password")
    answer.fill(chosen)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#session-person-name")).to_have_text(username)
    console.wait_loaded()
    # The new password is theirs now: the temporary one no longer signs in.
    tokens = cognito(server).initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=server.person["client_id"],
        AuthParameters={"USERNAME": username, "PASSWORD": chosen},
    )
    assert "AuthenticationResult" in tokens


def test_a_person_with_an_authenticator_app_gives_its_code(console: Console, server: Server) -> None:
    username, password = _invite(server, (f"{server.community}:community_admin",))
    client = cognito(server)
    signed_in = client.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=server.person["client_id"],
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    client.associate_software_token(AccessToken=signed_in["AccessToken"])
    # moto accepts any code here (it checks TOTP codes only when told to): this tests the console's step.
    client.verify_software_token(AccessToken=signed_in["AccessToken"], UserCode="123456")
    client.admin_set_user_mfa_preference(
        UserPoolId=server.person["user_pool_id"],
        Username=username,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    page = console.page
    sign_in_as(console, username, password)
    code = page.get_by_label("Code from your authenticator app")
    expect(code).to_be_focused()
    expect(code).to_have_attribute("autocomplete", "one-time-code")
    expect(code).to_have_attribute("inputmode", "numeric")
    page.get_by_role("button", name="Start over").click()  # back to the password
    expect(page.get_by_label("Username")).to_be_visible()
    sign_in_as(console, username, password)
    page.get_by_label("Code from your authenticator app").fill("654321")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#session-person-name")).to_have_text(username)


def test_a_person_in_several_communities_picks_one(console: Console, server: Server) -> None:
    other = unique("other").lower()
    username, password = _invite(
        server, (f"{server.community}:community_admin", f"{other}:community_admin", f"{other}-view:ic_viewer")
    )

    page = console.page
    page.set_viewport_size(PHONE)
    sign_in_as(console, username, password)
    picker = page.get_by_label("Community")
    expect(picker).to_be_visible()
    # Only the communities the person may manage keys in (not the one where they only view).
    assert sorted(picker.locator("option").all_text_contents()) == sorted([server.community, other])
    console.wait_loaded()
    console.shot("72-person-picks-community-390")

    # The console starts in one of the two (the token's group order decides): pick the other one.
    current = page.locator("#crumb-community").inner_text()
    other = server.community if current == other else other
    with page.expect_response(lambda r: f"/communities/{other}/apikeys" in r.url) as listed:
        picker.select_option(other)
    assert listed.value.status == 200
    expect(page.locator("#crumb-community")).to_have_text(other)
    console.wait_loaded()
    if other != server.community:  # the new community holds no key yet
        expect(page.locator("#keys-body")).to_contain_text(re.compile("no API keys", re.IGNORECASE))
    page.reload()  # the pick is kept for the tab
    expect(page.locator("#crumb-community")).to_have_text(other)


def test_the_page_names_the_sign_in_service_and_may_connect_only_to_it(server: Server) -> None:
    page = requests.get(server.base_url + "/", timeout=30)
    assert f'data-client-id="{server.person["client_id"]}"' in page.text
    assert f'data-cognito-endpoint="{server.moto_url}/"' in page.text
    assert f"connect-src 'self' {server.moto_url};" in page.headers["Content-Security-Policy"]


def test_a_token_about_to_expire_is_renewed_before_it_is_sent(console: Console, server: Server) -> None:
    page = console.page
    sign_in_as(console, server.person["username"], server.person["password"])
    console.wait_loaded()
    tokens = stored_tokens(console)
    tokens["expiresAt"] = 0  # as if the hour were over
    page.evaluate("([item, value]) => sessionStorage.setItem(item, value)", [PERSON_ITEM, json.dumps(tokens)])

    def renewal(request: Any) -> bool:
        body = request.post_data or ""
        return request.url.startswith(server.moto_url) and "REFRESH_TOKEN_AUTH" in body

    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status) if "/communities/" in r.url or "/whoami" in r.url else None)
    with page.expect_request(renewal):
        page.reload()
    expect(page.locator("#session-person-name")).to_have_text(server.person["username"])
    console.wait_loaded()
    assert answers and 401 not in answers  # renewed first, never sent stale
    assert stored_tokens(console)["expiresAt"] > 0


def test_a_person_who_manages_no_community_is_told_so(console: Console, server: Server) -> None:
    username, password = _invite(server, (f"{server.community}:ic_viewer",))
    sign_in_as(console, username, password)
    expect(console.page.locator("#person-form [data-error-for=_form]")).to_contain_text("You manage no community")
    assert console.page.evaluate("sessionStorage.length") == 0
