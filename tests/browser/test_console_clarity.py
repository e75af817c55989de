"""What a person trips on in the console, checked in headless Chromium at 1280x800, 1280x720
and 390x844: every wrong field at once, dialogs that fit, the secret whole, the list's
columns and its signed-in key, an audit trail of only what changed, and a small screen with
no sideways scrolling.

Screenshots of these states at both sizes go to artifacts/screenshots/ (4x-numbered).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Api, Console, unique

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 800}
SHORT = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}
VIEWER = "ic_viewer – Intelligence Center Read-Only"


def expect(locator):  # noqa: ANN001, ANN201 - Playwright's assertion helper, imported lazily
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def seen(console: Console, text: str) -> int:
    """How many times a person sees ``text``: innermost visible elements holding it, larger
    than the 1-pixel box that keeps text for screen readers only."""
    return int(
        console.page.evaluate(
            """(text) => Array.from(document.querySelectorAll('body *'))
                .filter((el) => el.textContent.includes(text)
                    && !Array.from(el.children).some((child) => child.textContent.includes(text)))
                .filter((el) => el.checkVisibility() && el.getBoundingClientRect().width > 1
                    && el.getBoundingClientRect().height > 1).length""",
            text,
        )
    )


def line_count(console: Console, selector: str) -> int:
    """The number of lines the text of ``selector`` is laid out on."""
    return int(
        console.page.evaluate(
            """(selector) => {
                const range = document.createRange();
                range.selectNodeContents(document.querySelector(selector));
                return new Set(Array.from(range.getClientRects()).map((rect) => Math.round(rect.top))).size;
            }""",
            selector,
        )
    )


def no_sideways_scroll(console: Console) -> None:
    widths = console.page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    # What reaches past the window (some of it may scroll inside its own box), to name it on failure.
    wide = console.page.evaluate(
        """() => Array.from(document.querySelectorAll('body *'))
            .filter((el) => el.getBoundingClientRect().right > innerWidth && el.checkVisibility())
            .slice(0, 5).map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' ' + el.className)"""
    )
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window: {wide}"


def in_view_and_clickable(console: Console, selector: str) -> bool:
    return bool(
        console.page.evaluate(
            """(selector) => {
                const node = document.querySelector(selector);
                const box = node.getBoundingClientRect();
                if (box.top < 0 || box.left < 0 || box.bottom > innerHeight || box.right > innerWidth) return false;
                return document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2) === node;
            }""",
            selector,
        )
    )


def open_edit(console: Console, name: str) -> Any:
    console.search(name)
    console.row(name).get_by_role("button", name=f"Edit {name}").click()
    return console.page.get_by_role("dialog", name="Edit API key")


# -- forms ----------------------------------------------------------------------------------------


def test_every_wrong_field_is_shown_at_once_and_goes_when_mended(console: Console, api: Api) -> None:
    page = console.page
    page.set_viewport_size(DESKTOP)
    console.sign_in()
    page.get_by_role("button", name="+ API key").click()
    dialog = page.get_by_role("dialog", name="New API key")
    name = dialog.get_by_label("Name", exact=True)
    viewer = dialog.get_by_label(VIEWER)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    dialog.get_by_label("Custom date").check()
    dialog.get_by_role("button", name="Save").click()

    # All three at once, each beside its field, each field marked and pointing at its message.
    expect(page.locator("#create-name-error")).to_have_text("Must not be empty")
    expect(page.locator("#create-roles-error")).to_have_text("Must name at least one role")
    expect(page.locator("#create-expires_at-error")).to_have_text("Pick a date")
    expect(name).to_have_attribute("aria-invalid", "true")
    assert "create-name-error" in (name.get_attribute("aria-describedby") or "").split()
    expect(viewer).to_have_attribute("aria-invalid", "true")
    assert "create-roles-error" in (viewer.get_attribute("aria-describedby") or "").split()
    expect(dialog.get_by_label("Expires on")).to_have_attribute("aria-invalid", "true")
    expect(name).to_be_focused()  # the first wrong field
    assert posts == []  # nothing sent while the form is known to be wrong
    console.shot("40-field-errors-1280")

    # Mending a field takes its message away at once; the others stay until theirs are mended.
    name.fill(unique("mended"))
    expect(page.locator("#create-name-error")).to_be_hidden()
    expect(name).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#create-roles-error")).to_be_visible()
    viewer.check()
    expect(page.locator("#create-roles-error")).to_be_hidden()
    expect(viewer).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#create-expires_at-error")).to_be_visible()
    dialog.get_by_label("Never").check()
    expect(page.locator("#create-expires_at-error")).to_be_hidden()

    # Each role says which permissions it grants, read with the checkbox.
    option = dialog.locator(".role-option", has=page.get_by_label(VIEWER))
    expect(option.locator(".role-permissions")).to_contain_text("intelligence:read")
    assert "create-role-ic_viewer-permissions" in (viewer.get_attribute("aria-describedby") or "").split()
    expect(dialog.locator(".role-option", has=page.get_by_label("soc_analyst"))).to_contain_text("operations:write")
    dialog.get_by_role("button", name="Cancel").click()

    # The edit dialog too.
    key_name = unique("edit-errors")
    api.create(key_name)
    edit = open_edit(console, key_name)
    edit.get_by_label("Name", exact=True).fill(" ")
    edit.get_by_label(VIEWER).uncheck()
    edit.get_by_role("button", name="Save").click()
    expect(page.locator("#edit-name-error")).to_have_text("Must not be empty")
    expect(page.locator("#edit-roles-error")).to_have_text("Must name at least one role")
    edit.get_by_label(VIEWER).check()
    expect(page.locator("#edit-roles-error")).to_be_hidden()
    expect(page.locator("#edit-name-error")).to_be_visible()

    page.set_viewport_size(PHONE)
    expect(page.locator("#edit-name-error")).to_be_visible()
    console.shot("41-field-errors-390")


def test_dialogs_scroll_inside_with_their_actions_in_view_at_1280x720(console: Console, api: Api) -> None:
    page = console.page
    page.set_viewport_size(SHORT)
    console.sign_in()
    page.get_by_role("button", name="+ API key").click()
    dialog = page.locator("#create-dialog")
    expect(dialog).to_be_visible()
    if dialog.locator("#create-vault-target").is_visible():
        dialog.get_by_label("Save the secret into").select_option(index=1)  # the tallest form
    dialog.get_by_label("Custom date").check()
    box = dialog.bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= SHORT["height"]
    assert in_view_and_clickable(console, "#create-save")
    assert in_view_and_clickable(console, "#create-cancel")
    # Scrolled to either end, the first field and the actions are reachable.
    assert dialog.evaluate("(d) => d.scrollHeight > d.clientHeight"), "the form fits: nothing proves it scrolls"
    dialog.evaluate("(d) => { d.scrollTop = d.scrollHeight; }")
    assert in_view_and_clickable(console, "#create-save")
    console.shot("42-create-dialog-1280x720")
    dialog.evaluate("(d) => { d.scrollTop = 0; }")
    assert in_view_and_clickable(console, "#create-name")
    assert in_view_and_clickable(console, "#create-save")
    dialog.get_by_role("button", name="Cancel").click()

    name = unique("tall-edit")
    api.create(name, description="x" * 400)
    edit = open_edit(console, name)
    edit.locator("#edit-events summary").click()
    expect(edit.locator("#edit-events-list > li")).to_have_count(1)
    box = edit.bounding_box()
    assert box and box["y"] + box["height"] <= SHORT["height"]
    edit.evaluate("(d) => { d.scrollTop = d.scrollHeight / 2; }")
    assert in_view_and_clickable(console, "#edit-save")
    assert in_view_and_clickable(console, "#edit-revoke")
    console.shot("43-edit-dialog-1280x720")


# -- the secret, once -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])
def test_the_secret_is_whole_on_one_line_where_it_fits_and_copy_says_so_once(
    console: Console, size: dict[str, int]
) -> None:
    page = console.page
    page.set_viewport_size(size)
    console.sign_in()
    page.get_by_role("button", name="+ API key").click()
    dialog = page.get_by_role("dialog", name="New API key")
    dialog.get_by_label("Name", exact=True).fill(unique("one-line"))
    dialog.get_by_label(VIEWER).check()
    with page.expect_response(lambda r: r.url.endswith("/apikeys") and r.request.method == "POST") as posted:
        dialog.get_by_role("button", name="Save").click()
    assert posted.value.status == 201
    secret_dialog = page.get_by_role("dialog", name="Your new API key")
    expect(secret_dialog).to_be_visible()
    secret = page.locator("#secret-value").text_content() or ""
    assert len(secret) > 40
    # One line where it fits; a phone wraps it inside its box (test_console_second_look.py).
    assert line_count(console, "#secret-value") == (1 if size == DESKTOP else 2)
    # Whole: a selection of the box holds every character, even where the box scrolls.
    selected = page.evaluate(
        """() => {
            const range = document.createRange();
            range.selectNodeContents(document.getElementById('secret-value'));
            const selection = getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
            return selection.toString();
        }"""
    )
    assert selected == secret
    no_sideways_scroll(console)

    secret_dialog.get_by_role("button", name="Copy").click()
    expect(page.locator("#secret-copy-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    expect(page.locator("#toast")).to_be_hidden()
    assert seen(console, "opied") == 1  # one message, not a status line and a toast
    console.shot(f"44-secret-once-{size['width']}", mask=[page.locator("#secret-value")])

    secret_dialog.get_by_role("button", name="I have saved it, close").click()
    expect(secret_dialog).to_be_hidden()
    assert seen(console, "opied") == 0  # the feedback went with the dialog
    page.evaluate("navigator.clipboard.writeText('')")


# -- the list ---------------------------------------------------------------------------------------


def test_list_shows_expiry_last_use_full_times_and_the_signed_in_key(console: Console, api: Api) -> None:
    page = console.page
    page.set_viewport_size(DESKTOP)
    tag = unique("columns")
    used = api.create(f"{tag} used", expires_in_days=30)
    assert api.whoami_status(used["secret"]) == 200  # a use, recorded as last_used_at
    stored = api.get(used["api_key"]["id"])
    assert stored["last_used_at"] and stored["expires_at"]
    api.create(f"{tag} idle")
    console.sign_in()
    console.search(tag)

    headers = page.locator("#keys-table thead th").all_text_contents()
    assert [h.strip() for h in headers][:8] == [
        "Name", "Description", "ID", "Created", "Expires", "Last used", "Roles", "Status",
    ]  # fmt: skip
    row = console.row(f"{tag} used")
    columns = (("cell-expires", "expires_at"), ("cell-last-used", "last_used_at"), ("cell-created", "created_at"))
    for cell, field in columns:
        time = row.locator(f".{cell} time")
        expect(time).to_have_attribute("datetime", stored[field])
        title = time.get_attribute("title") or ""
        assert stored[field][:4] in title and ":" in title  # the full timestamp on hover
        assert ":" in (time.text_content() or "")  # a time, not only a date
    idle = console.row(f"{tag} idle")
    expect(idle.locator(".cell-expires")).to_have_text("Never")
    expect(idle.locator(".cell-last-used")).to_have_text("Never")

    # "Created by" names the creating key when it is known.
    admin_name = api.get(console.server.admin_key_id)["name"]
    idle.get_by_role("button", name=f"Edit {tag} idle").click()
    created_by = page.locator("#edit-details dt", has_text="Created by").locator("xpath=following-sibling::dd[1]")
    expect(created_by).to_contain_text(admin_name)
    expect(created_by).to_contain_text(console.server.admin_key_id)
    console.shot("45-created-by-name")
    page.keyboard.press("Escape")

    # The key the console is signed in with is marked, and only that one.
    console.search(console.server.admin_key_id)
    mine = page.locator(f'#keys-body tr[data-key-id="{console.server.admin_key_id}"]')
    expect(mine.locator(".cell-name")).to_contain_text("this key")
    console.search(tag)
    expect(page.locator("#keys-body").get_by_text("this key")).to_have_count(0)
    console.shot("46-list-1280")


def test_the_empty_state_is_said_once_and_columns_keep_their_width(console: Console, api: Api) -> None:
    page = console.page
    page.set_viewport_size(DESKTOP)
    name = unique("steady")
    api.create(name, description="a description long enough to push its column wider if it could " * 3)
    console.sign_in()
    console.search(name)
    expect(console.rows()).to_have_count(1)
    widths = page.locator("#keys-table thead th").evaluate_all("(ths) => ths.map((th) => th.offsetWidth)")

    console.search(unique("nothing-matches"))
    expect(page.locator("#keys-body .state-empty")).to_be_visible()
    assert seen(console, "No API keys match") == 1
    assert page.locator("#keys-table thead th").evaluate_all("(ths) => ths.map((th) => th.offsetWidth)") == widths
    console.shot("47-empty-1280")
    page.set_viewport_size(PHONE)
    assert seen(console, "No API keys match") == 1
    no_sideways_scroll(console)
    console.shot("48-empty-390")


# -- the audit trail -----------------------------------------------------------------------------


def test_an_edit_sends_and_records_only_what_changed(console: Console, api: Api) -> None:
    page = console.page
    page.set_viewport_size(DESKTOP)
    name = unique("SOC dashboard")
    created = api.create(name, description="before")
    key_id = created["api_key"]["id"]
    console.sign_in()
    edit = open_edit(console, name)
    edit.get_by_label("Description", exact=True).fill("after")
    with page.expect_response(lambda r: r.request.method == "PATCH") as patched:
        edit.get_by_role("button", name="Save").click()
    assert patched.value.request.post_data_json == {"description": "after"}
    assert patched.value.json()["changed"] == ["description"]
    expect(edit).to_be_hidden()
    events = api.http.get(api.keys_url(f"/{key_id}/events"), timeout=30).json()["items"]
    assert events[0]["action"] == "edit"
    assert events[0]["details"] == {"before": {"description": "before"}, "after": {"description": "after"}}

    # Saving without a change sends nothing and says so.
    requests_sent: list[str] = []
    page.on("request", lambda r: requests_sent.append(r.method) if r.method == "PATCH" else None)
    console.wait_loaded()
    console.row(name).get_by_role("button", name=f"Edit {name}").click()
    expect(edit).to_be_visible()
    edit.get_by_role("button", name="Save").click()
    expect(edit).to_be_hidden()
    expect(page.locator("#toast")).to_have_text("Nothing changed, nothing saved.")
    assert requests_sent == []
    assert len(api.http.get(api.keys_url(f"/{key_id}/events"), timeout=30).json()["items"]) == 2


def test_revoking_the_signed_in_key_warns_records_the_reason_and_signs_out(console: Console, api: Api) -> None:
    page = console.page
    page.set_viewport_size(DESKTOP)
    name = unique("my own key")
    created = api.create(name, roles=("community_admin",))
    key_id = created["api_key"]["id"]
    console.sign_in(created["secret"])
    edit = open_edit(console, name)
    expect(console.row(name).locator(".cell-name")).to_contain_text("this key")
    edit.get_by_role("button", name="Revoke", exact=True).click()
    confirm = page.get_by_role("alertdialog", name="Revoke this API key?")
    expect(confirm.locator("#revoke-self-warning")).to_be_visible()
    expect(confirm.locator("#revoke-self-warning")).to_contain_text("signs you out")
    confirm.get_by_label("Reason (optional)").fill("laptop lost")
    console.shot("49-revoke-own-key-1280")
    with page.expect_response(lambda r: r.url.endswith("/revoke")) as revoked:
        confirm.get_by_role("button", name="Revoke permanently").click()
    assert revoked.value.request.post_data_json == {"reason": "laptop lost"}
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#signin-key-error")).to_contain_text("You revoked the key this console was signed in with")
    assert page.evaluate("sessionStorage.getItem('apikeys.console.key')") is None
    assert api.get(key_id)["status"] == "revoked"
    events = api.http.get(api.keys_url(f"/{key_id}/events"), timeout=30).json()["items"]
    assert events[0]["action"] == "revoke" and events[0]["details"]["reason"] == "laptop lost"

    # Another key's revoke carries no such warning.
    other = unique("not mine")
    api.create(other)
    console.sign_in()
    open_edit(console, other).get_by_role("button", name="Revoke", exact=True).click()
    confirm = page.get_by_role("alertdialog", name="Revoke this API key?")
    expect(confirm.get_by_label("Reason (optional)")).to_have_value("")
    expect(confirm.locator("#revoke-self-warning")).to_be_hidden()


# -- small screens --------------------------------------------------------------------------------


def test_at_390px_the_list_is_cards_without_sideways_scrolling(console: Console, api: Api) -> None:
    page = console.page
    page.set_viewport_size(PHONE)
    tag = unique("phone")
    api.create(f"SOC dashboard {tag}", description="Feeds the security operations centre's wall screen")
    rotated = api.create(f"Threat intelligence {tag}", roles=("ic_viewer", "playbooks_operator"))
    api.http.post(api.keys_url(f"/{rotated['api_key']['id']}/rotate"), json={"grace": "1h"}, timeout=30)
    console.sign_in()
    no_sideways_scroll(console)
    console.search(tag)
    expect(console.rows()).to_have_count(3)
    no_sideways_scroll(console)

    row = console.row(f"SOC dashboard {tag}")
    # A card: the row is a block, each value labelled, no header row to line up with.
    assert row.evaluate("(tr) => getComputedStyle(tr).display") == "block"
    expect(page.locator("#keys-table thead")).not_to_be_in_viewport()
    for cell in ("cell-description", "cell-id", "cell-expires", "cell-last-used", "cell-roles", "cell-status"):
        assert row.locator(f".{cell}").is_visible(), cell
        box = row.locator(f".{cell}").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], cell
    # Each word of a name stays whole (a line may still break after a hyphen).
    for name_node in console.rows().locator(".key-name").all():
        broken = name_node.evaluate(
            r"""(node) => {
                const text = node.firstChild, words = [], range = document.createRange();
                for (const match of text.data.matchAll(/[^\s-]+/g)) {
                    range.setStart(text, match.index); range.setEnd(text, match.index + match[0].length);
                    const lines = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)));
                    if (lines.size > 1) words.push(match[0]);
                }
                return words;
            }"""
        )
        assert broken == []
    console.shot("50-list-390", full_page=True)

    page.get_by_role("button", name="+ API key").click()
    expect(page.locator("#create-dialog")).to_be_visible()
    no_sideways_scroll(console)
    assert in_view_and_clickable(console, "#create-save")
    console.shot("51-create-dialog-390")
    page.get_by_role("button", name="Cancel").click()

    console.row(f"SOC dashboard {tag}").get_by_role("button", name=f"Edit SOC dashboard {tag}").click()
    expect(page.locator("#edit-dialog")).to_be_visible()
    no_sideways_scroll(console)
    assert in_view_and_clickable(console, "#edit-save")
    console.shot("52-edit-dialog-390")
    page.keyboard.press("Escape")

    # Roles and events are cards too: nothing scrolls sideways, not even inside a table's box.
    for section, row_class in (("Roles", "role-row"), ("Events", "event-row")):
        page.get_by_role("link", name=section).click()
        table = page.locator(f"#{section.lower()}-table:not([aria-busy])")
        table.wait_for()
        no_sideways_scroll(console)
        wrap = table.locator("xpath=..")
        assert wrap.evaluate("(box) => box.scrollWidth <= box.clientWidth"), f"{section} scrolls inside its box"
        first = table.locator(f"tr.{row_class}").first
        assert first.evaluate("(tr) => getComputedStyle(tr).display") == "block", section
        expect(page.locator(f"#{section.lower()}-table thead")).not_to_be_in_viewport()
        for cell in first.locator("td").all():
            box = cell.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (section, cell.inner_text())
        console.shot(f"53-{section.lower()}-390")
