"""The console guards what a newcomer could lose in the first hour, in headless Chromium at
1280x800 and 390x844: the one-time secret (Escape asks first, a reload gets the browser's
warning, Back closes a dialog rather than the console), errors brought into view and focused,
create's defaults (a bounded expiry, the least privileged roles first, required fields marked,
the whole role list, the name's limit said as the API says it) and a sign-in with no Community.

Screenshots go to artifacts/screenshots/ (6x-numbered).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Api, Console, unique
from tests.browser.test_console_clarity import DESKTOP, PHONE, VIEWER, expect, open_edit

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIZES = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])


def create_with_secret(console: Console, name: str) -> Any:
    """Through the create dialog, as a person does; the secret's dialog, open."""
    page = console.page
    page.get_by_role("button", name="+ API key").click()
    dialog = page.get_by_role("dialog", name="New API key")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label(VIEWER).check()
    dialog.get_by_role("button", name="Save").click()
    secret_dialog = page.get_by_role("dialog", name="Your new API key")
    expect(secret_dialog.locator("#secret-value")).to_have_text(re.compile(r"^apk_[0-9A-Za-z]{46}$"))
    return secret_dialog


def in_view(console: Console, selector: str) -> bool:
    """The whole of ``selector`` inside the window and inside its dialog's visible box."""
    return bool(
        console.page.evaluate(
            """(selector) => {
                const node = document.querySelector(selector);
                const box = node.getBoundingClientRect();
                const frame = node.closest('dialog').getBoundingClientRect();
                return box.height > 0 && box.top >= Math.max(0, frame.top)
                    && box.bottom <= Math.min(innerHeight, frame.bottom);
            }""",
            selector,
        )
    )


@SIZES
def test_escape_on_the_secret_asks_first_and_only_the_buttons_close_it(console: Console, size: dict) -> None:
    page = console.page
    page.set_viewport_size(size)
    console.sign_in()
    secret_dialog = create_with_secret(console, unique("escape"))
    secret = secret_dialog.locator("#secret-value").text_content()

    page.keyboard.press("Escape")
    leave = secret_dialog.locator("#secret-leave")
    expect(leave).to_be_visible()
    expect(leave).to_contain_text("Close without saving the key?")
    assert in_view(console, "#secret-leave")
    expect(secret_dialog.get_by_role("button", name="Keep it open")).to_be_focused()
    console.shot(f"60-secret-escape-{size['width']}")
    page.keyboard.press("Escape")  # again, at once: still open, still the same secret
    expect(secret_dialog).to_be_visible()
    expect(secret_dialog.locator("#secret-value")).to_have_text(secret)

    secret_dialog.get_by_role("button", name="Keep it open").click()
    expect(leave).to_be_hidden()
    expect(secret_dialog.locator("#secret-value")).to_have_text(secret)

    page.keyboard.press("Escape")
    secret_dialog.get_by_role("button", name="Close without saving").click()
    expect(secret_dialog).to_be_hidden()
    assert secret not in page.content()  # forgotten with the dialog


@SIZES
def test_reloading_with_the_secret_shown_gets_the_browsers_warning(console: Console, size: dict) -> None:
    page = console.page
    page.set_viewport_size(size)
    console.sign_in()
    secret_dialog = create_with_secret(console, unique("reload"))
    secret = secret_dialog.locator("#secret-value").text_content()
    console.expect_leave_warnings = True

    with page.expect_event("dialog"):
        page.evaluate("() => { setTimeout(() => location.reload(), 0); }")
    assert console.leave_warnings == ["beforeunload"]
    # Dismissed ("stay"): the page, its dialog and the secret are still there.
    expect(secret_dialog).to_be_visible()
    expect(secret_dialog.locator("#secret-value")).to_have_text(secret)

    # Once the dialog is closed as it should be, a reload asks nothing.
    secret_dialog.get_by_role("button", name="I have saved it, close").click()
    page.reload()
    page.get_by_role("heading", name="API keys").wait_for()
    assert console.leave_warnings == ["beforeunload"]


@SIZES
def test_back_closes_the_open_dialog_and_stays_in_the_console(console: Console, size: dict) -> None:
    page = console.page
    page.set_viewport_size(size)
    console.sign_in()
    console_url = page.url

    page.get_by_role("button", name="+ API key").click()
    create = page.get_by_role("dialog", name="New API key")
    expect(create).to_be_visible()
    page.go_back()
    expect(create).to_be_hidden()
    assert page.url == console_url
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()

    # Twice more (open, Back) and still here: each dialog takes its own Back.
    for _ in range(2):
        page.get_by_role("button", name="+ API key").click()
        expect(create).to_be_visible()
        page.go_back()
        expect(create).to_be_hidden()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    # The secret's dialog asks instead of closing; Back again still keeps it.
    secret_dialog = create_with_secret(console, unique("back"))
    page.go_back()
    expect(secret_dialog.locator("#secret-leave")).to_be_visible()
    page.go_back()
    expect(secret_dialog).to_be_visible()
    secret_dialog.get_by_role("button", name="I have saved it, close").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert page.url == console_url


@SIZES
def test_an_error_in_a_dialog_is_brought_into_view_and_focused(console: Console, api: Api, size: dict) -> None:
    """The reported case: the key was revoked in another tab while its Edit dialog was open."""
    page = console.page
    page.set_viewport_size(size)
    name = unique("revoked-elsewhere")
    created = api.create(name, description="before")
    console.sign_in()
    edit = open_edit(console, name)
    edit.get_by_label("Description", exact=True).fill("after")
    api.revoke(created["api_key"]["id"])  # the other tab
    edit.get_by_role("button", name="Save").click()

    error = edit.locator('[data-error-for="_form"]')
    expect(error).to_be_visible()
    expect(error).to_contain_text("revoked")
    expect(error).to_be_focused()
    assert in_view(console, '#edit-form [data-error-for="_form"]')
    console.shot(f"61-edit-error-in-view-{size['width']}")


@SIZES
def test_create_starts_bounded_least_privileged_and_says_what_is_required(console: Console, size: dict) -> None:
    page = console.page
    page.set_viewport_size(size)
    console.sign_in()
    page.get_by_role("button", name="+ API key").click()
    dialog = page.get_by_role("dialog", name="New API key")

    # A bounded expiry by default; Never is there, with a warning.
    expect(dialog.get_by_label("30 days")).to_be_checked()
    warning = dialog.locator("#create-never-warning")
    expect(warning).to_be_hidden()
    dialog.get_by_label("Never").check()
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("never expires")
    console.shot(f"62-create-never-warning-{size['width']}")
    dialog.get_by_label("180 days").check()
    expect(warning).to_be_hidden()

    # The least privileged roles first, the admin roles last; every role in view, no inner scroll box.
    names = dialog.locator("#create-roles .role-name").all_text_contents()
    assert names[0] == "ic_viewer" and names[-2:] == ["apikeys_admin", "community_admin"], names
    box = page.evaluate(
        "() => [document.querySelector('#create-roles').scrollHeight, "
        "document.querySelector('#create-roles').clientHeight]"
    )
    assert box[0] <= box[1] + 1, f"the role list scrolls inside itself: {box}"

    # Required fields are marked, and say so to assistive technology.
    expect(dialog.get_by_label("Name", exact=True)).to_have_attribute("required", "")
    assert dialog.locator(".label-row", has=page.locator("label[for=create-name]")).locator(".required").is_visible()
    expect(dialog.locator("#create-roles").locator("xpath=..").locator("legend .required")).to_be_visible()
    expect(dialog.get_by_text("Up to 100 characters.")).to_be_visible()
    console.shot(f"63-create-defaults-{size['width']}")


@SIZES
def test_a_name_past_the_limit_is_refused_in_the_apis_words(console: Console, size: dict) -> None:
    page = console.page
    page.set_viewport_size(size)
    console.sign_in()
    page.get_by_role("button", name="+ API key").click()
    dialog = page.get_by_role("dialog", name="New API key")
    name = dialog.get_by_label("Name", exact=True)
    name.fill("x" * 300)
    expect(name).to_have_value("x" * 300)  # nothing cut silently
    dialog.get_by_label(VIEWER).check()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator("#create-name-error")).to_have_text("Must be at most 100 characters (this one has 300)")
    expect(name).to_be_focused()
    assert posts == []
    name.fill("x" * 100)  # at the limit: fine
    expect(page.locator("#create-name-error")).to_be_hidden()


def test_sign_in_asks_only_for_the_key_and_shows_its_community(console: Console) -> None:
    page = console.page
    page.set_viewport_size(PHONE)
    console.open_key_sign_in()
    form = page.locator("#signin-form")
    expect(form.get_by_label("Admin API key")).to_be_visible()
    assert form.locator("input:not([type=hidden])").count() == 1  # no Community to mistype
    console.sign_in()
    expect(page.locator("#session-community")).to_have_text(console.server.community)
