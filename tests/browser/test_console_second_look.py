"""The console's smaller rough edges a newcomer met, in headless Chromium at 1280x800 and
390x844: events name their keys, descriptions use the room they have, toasts hide nothing and
stay on their tab, a phone shows the whole secret under a compact header, an empty search can be
cleared, and the local run says in plain words why it has no usage figures.

Screenshots go to artifacts/screenshots/ (7x-numbered).
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import Api, Console, unique
from tests.browser.test_console_clarity import DESKTOP, PHONE, expect, no_sideways_scroll

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIZES = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])


def sign_in_at(console: Console, section: str) -> None:
    """Sign in on a section's own address (#events, ...): the key list is never loaded."""
    page = console.page
    page.goto(f"{console.server.base_url}/#{section}")
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
