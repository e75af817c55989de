"""The console's smaller rough edges a newcomer met, in headless Chromium at 1280x800 and
390x844: events name their keys, descriptions use the room they have, toasts hide nothing and
stay on their tab, a phone shows the whole secret under a compact header, an empty search can be
cleared, and the local run says in plain words why it has no usage figures.

Screenshots go to artifacts/screenshots/ (7x-numbered).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Api, Console, unique
from tests.browser.test_console_clarity import DESKTOP, PHONE, VIEWER, expect, no_sideways_scroll

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIZES = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])


def sign_in_at(console: Console, section: str) -> None:
    """Sign in on a section's own address (#events, ...): the key list is never loaded."""
    page = console.page
    page.goto(f"{console.server.base_url}/#{section}")
    page.get_by_role("button", name="Use an API key instead").click()  # people's sign-in comes first
    page.get_by_label("Admin API key").fill(console.server.admin_key)
    page.get_by_role("button", name="Sign in").click()


# -- events name their keys -------------------------------------------------------------------------


@SIZES
def test_events_name_each_key_beside_its_id_asking_once_for_a_name_they_lack(
    console: Console, api: Api, size: dict[str, int]
) -> None:
    page = console.page
    page.set_viewport_size(size)
    name = unique("Nightly export")
    key_id = api.create(name, description="v0")["api_key"]["id"]
    for version in range(1, 11):
        api.edit(key_id, description=f"v{version}")  # edits that do not name the key
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if r.url.endswith(f"/apikeys/{key_id}") else None)

    sign_in_at(console, "events")
    rows = page.locator("#events-body tr.event-row")
    # 25 a page: the key's creation is on it, and says its name.
    expect(rows.nth(0).locator(".cell-subject")).to_have_text(f"{name} {key_id}")
    expect(rows.nth(0).locator(".cell-subject .key-id")).to_have_text(key_id)
    assert asked == []

    # 10 a page: ten edits, none naming the key, and no key list loaded: its name is asked once.
    page.get_by_label("Events per page").select_option("10")
    page.locator("#events-table:not([aria-busy])").wait_for()
    subjects = rows.locator(".cell-subject")
    expect(subjects).to_have_count(10)
    expect(subjects).to_have_text([f"{name} {key_id}"] * 10)
    assert len(asked) == 1, asked
    # The actor, a key too, is named the same way.
    admin_name = api.get(console.server.admin_key_id)["name"]
    expect(rows.nth(0).locator(".cell-actor")).to_have_text(f"{admin_name} {console.server.admin_key_id}")
    no_sideways_scroll(console)
    console.shot(f"70-events-subjects-{size['width']}")


# -- descriptions use the room they have ------------------------------------------------------------

CUT = """(cell) => [cell, ...cell.querySelectorAll('*')].some(
    (node) => node.scrollWidth > node.clientWidth + 1 || node.scrollHeight > node.clientHeight + 1)"""


@SIZES
def test_a_description_is_cut_only_where_its_room_ends_and_its_whole_text_is_on_hover(
    console: Console, api: Api, size: dict[str, int]
) -> None:
    page = console.page
    page.set_viewport_size(size)
    tag = unique("described")
    descriptions = {
        "medium": "Feeds the SOC dashboard with the last hour of indicators.",
        "link": "https://wiki.example.org/soc/integrations/nightly-export",
        "long": "Reads indicators for the nightly export to the SIEM, on behalf of the SOC team. " * 8,
    }
    for label, description in descriptions.items():
        api.create(f"{tag} {label}", description=description)
    console.sign_in()
    console.search(tag)
    expect(console.rows()).to_have_count(3)

    def cell(label: str) -> Any:
        return console.row(f"{tag} {label}").locator("td.cell-description")

    for label, description in descriptions.items():
        expect(cell(label)).to_have_text(description)  # the whole text is there for a screen reader
        expect(cell(label)).to_have_attribute("title", description)  # and on hover
    # A sentence and a long link fit in a few lines: shown whole, not cut at the first line's end.
    assert not cell("medium").evaluate(CUT)
    assert not cell("link").evaluate(CUT)
    if size == DESKTOP:
        # Only where the row's room ends: three lines, then an ellipsis, the row kept short.
        assert cell("long").evaluate(CUT)
        medium_row = console.row(f"{tag} medium").bounding_box()["height"]
        assert console.row(f"{tag} long").bounding_box()["height"] <= medium_row + 1
    else:
        assert not cell("long").evaluate(CUT)  # a card has room below, and no hover
        no_sideways_scroll(console)
    console.shot(f"71-descriptions-{size['width']}", full_page=size == PHONE)


# -- toasts hide nothing and stay on their tab ------------------------------------------------------

UNDER_TOAST = """() => {
    const toast = document.getElementById('toast');
    const box = toast.getBoundingClientRect();
    const under = new Set();
    for (const across of [0.05, 0.5, 0.95]) {
        for (const down of [0.1, 0.5, 0.9]) {
            const node = document.elementsFromPoint(box.left + box.width * across, box.top + box.height * down)
                .find((found) => found !== toast && !toast.contains(found));
            under.add(node ? node.tagName.toLowerCase() + (node.id ? '#' + node.id : '') : 'nothing');
        }
    }
    return [...under];
}"""


@SIZES
def test_a_toast_covers_nothing_at_the_lists_end_and_goes_with_its_tab(
    console: Console, api: Api, size: dict[str, int]
) -> None:
    page = console.page
    page.set_viewport_size(size)
    tag = unique("toasted")
    for number in range(8):
        api.create(f"{tag} {number}")
    console.sign_in()
    console.search(tag)
    expect(console.rows()).to_have_count(8)
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    assert page.evaluate("window.scrollY") > 0  # a list longer than the window

    last = console.rows().last
    last.get_by_role("button", name="Copy the ID").click()
    toast = page.locator("#toast")
    expect(toast).to_have_text("ID copied")
    box = toast.bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= size["height"]  # in view
    # Under it only the page's background: not the last row, not the pager, not the card.
    assert set(page.evaluate(UNDER_TOAST)) <= {"main#main", "body", "html"}
    for shown in (last, page.get_by_role("button", name="Next")):
        shown_box = shown.bounding_box()
        assert shown_box and shown_box["y"] + shown_box["height"] <= box["y"]  # above it, in view
    console.shot(f"72-toast-{size['width']}")

    page.get_by_role("link", name="Events").click()
    expect(page.get_by_role("heading", name="Events")).to_be_visible()
    assert toast.is_hidden()  # gone with the tab it was said on, not carried to the next
    page.evaluate("navigator.clipboard.writeText('')")


# -- an empty search can be cleared -----------------------------------------------------------------


@SIZES
def test_an_empty_search_offers_to_clear_it_and_shows_the_list_again(
    console: Console, api: Api, size: dict[str, int]
) -> None:
    page = console.page
    page.set_viewport_size(size)
    name = unique("findable")
    api.create(name)
    console.sign_in()
    expect(console.row(name)).to_have_count(1)

    console.search(unique("no-such-key"))
    empty = page.locator("#keys-body .state-empty")
    expect(empty).to_contain_text("No API keys match")
    clear = empty.get_by_role("button", name="Clear search")
    expect(clear).to_be_visible()
    no_sideways_scroll(console)
    console.shot(f"73-empty-search-{size['width']}")

    with page.expect_response(lambda r: "/apikeys?" in r.url and "search=" not in r.url):
        clear.click()
    console.wait_loaded()
    expect(page.get_by_label("Search API keys")).to_have_value("")
    expect(page.get_by_label("Search API keys")).to_be_focused()  # typing again starts a new search
    expect(console.row(name)).to_have_count(1)


# -- a phone: the whole secret, a compact header ----------------------------------------------------

HEADER_MAX_PX = 64

SECRET_SEEN_WHOLE = """() => {
    const code = document.getElementById('secret-value');
    const box = code.getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(code);
    const lines = Array.from(range.getClientRects());
    return code.scrollWidth <= code.clientWidth && lines.length > 0 && lines.every((line) =>
        line.left >= box.left - 1 && line.right <= box.right + 1
        && line.top >= box.top - 1 && line.bottom <= box.bottom + 1);
}"""


@SIZES
def test_the_header_is_compact_and_the_whole_secret_is_seen_in_its_box(console: Console, size: dict[str, int]) -> None:
    page = console.page
    page.set_viewport_size(size)
    console.sign_in()
    header = page.locator("header.topbar")
    header_box = header.bounding_box()
    assert header_box and header_box["height"] <= HEADER_MAX_PX, header_box
    sign_out = header.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()
    out_box = sign_out.bounding_box()
    assert out_box and out_box["x"] + out_box["width"] <= size["width"]
    expect(header.locator("#session-key-id")).to_have_text(console.server.admin_key_id)  # there, if cut short
    expect(page.locator(".breadcrumb")).to_contain_text(console.server.community)  # the community, still in view
    no_sideways_scroll(console)
    console.shot(f"74-header-{size['width']}")

    page.get_by_role("button", name="+ API key").click()
    dialog = page.get_by_role("dialog", name="New API key")
    dialog.get_by_label("Name", exact=True).fill(unique("whole secret"))
    dialog.get_by_label(VIEWER).check()
    dialog.get_by_role("button", name="Save").click()
    secret_dialog = page.get_by_role("dialog", name="Your new API key")
    secret = secret_dialog.locator("#secret-value")
    expect(secret).to_have_text(re.compile(r"^apk_[0-9A-Za-z]{46}$"))
    assert page.evaluate(SECRET_SEEN_WHOLE)  # every character inside the box, none scrolled away
    console.shot(f"75-secret-whole-{size['width']}", mask=[secret])
    secret_dialog.get_by_role("button", name="I have saved it, close").click()
    expect(secret_dialog).to_be_hidden()


# -- the local run's usage note, in plain words -----------------------------------------------------


@SIZES
def test_the_local_run_says_in_plain_words_why_a_key_has_no_usage_figures(
    console: Console, api: Api, size: dict[str, int]
) -> None:
    page = console.page
    page.set_viewport_size(size)
    name = unique("Metered")
    api.create(name, plan="standard")
    console.sign_in()
    console.search(name)
    with page.expect_response(lambda r: "/usage?" in r.url) as answered:
        console.row(name).get_by_role("button", name=f"Edit {name}").click()
    assert answered.value.status == 502  # the local run's API Gateway (moto) keeps no figures
    status = page.get_by_role("dialog", name="Edit API key").locator("#edit-usage-status")
    expect(status).to_have_text(
        "Usage is not available: API Gateway counts a key's requests only on a deployed stage,"
        " and this local run has none."
    )
    status.scroll_into_view_if_needed()
    console.shot(f"76-usage-local-{size['width']}")
