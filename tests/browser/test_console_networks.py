"""The console's allowed networks, in headless Chromium against the local run at 1280x800 and
390x844: one network per line in the create and edit dialogs, a refusal shown beside the field,
and a restricted key at work from the address ``chalice local`` reports (127.0.0.1).
Screenshots go to artifacts/screenshots/ (4x-numbered)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Api, Console, unique

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
VIEWER = "ic_viewer – Intelligence Center Read-Only"


def expect(locator):  # noqa: ANN001, ANN201 - Playwright's assertion helper, imported lazily
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def key_named(api: Api, name: str) -> list[dict[str, Any]]:
    response = api.http.get(api.keys_url(), params={"search": name}, timeout=30)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def open_edit(console: Console, name: str) -> Any:
    if console.page.get_by_label("Search API keys").input_value() != name:
        console.search(name)
    console.row(name).get_by_role("button", name=f"Edit {name}").click()
    return console.page.get_by_role("dialog", name="Edit API key")


def no_sideways_scroll(console: Console) -> None:
    widths = console.page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])
def test_networks_are_set_one_per_line_refused_beside_the_field_and_edited(
    console: Console, api: Api, size: dict[str, int]
) -> None:
    page = console.page
    page.set_viewport_size(size)
    console.sign_in()
    name = unique("Office only")
    page.get_by_role("button", name="+ API key").click()
    dialog = page.get_by_role("dialog", name="New API key")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label(VIEWER).check()
    networks = dialog.get_by_label("Allowed networks (optional)")
    networks.fill("203.0.113.0/24\n\n  10.0.0.1/8  \n")

    with page.expect_response(lambda r: r.url.endswith("/apikeys") and r.request.method == "POST") as posted:
        dialog.get_by_role("button", name="Save").click()
    assert posted.value.status == 400
    assert posted.value.request.post_data_json["allowed_cidrs"] == ["203.0.113.0/24", "10.0.0.1/8"]
    message = page.locator("#create-allowed-cidrs-error")
    expect(message).to_have_text("'10.0.0.1/8' has host bits set; the network is 10.0.0.0/8")
    expect(networks).to_have_attribute("aria-invalid", "true")
    expect(networks).to_be_focused()
    assert key_named(api, name) == []  # nothing written
    no_sideways_scroll(console)
    console.shot(f"45-networks-refused-{size['width']}")

    networks.fill("203.0.113.0/24\n2001:DB8::/32")
    expect(message).to_be_hidden()
    dialog.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="I have saved it, close").click()
    [created] = key_named(api, name)
    assert created["allowed_cidrs"] == ["203.0.113.0/24", "2001:db8::/32"]

    edit = open_edit(console, name)
    listed = edit.get_by_label("Allowed networks")
    expect(listed).to_have_value("203.0.113.0/24\n2001:db8::/32")
    no_sideways_scroll(console)
    assert not console.unlabelled_controls()
    console.shot(f"46-networks-edit-{size['width']}")
    listed.fill("2001:db8::/32\n203.0.113.0/24")  # the same networks: nothing to save
    edit.get_by_role("button", name="Save").click()
    expect(page.locator("#toast")).to_have_text("Nothing changed, nothing saved.")

    edit = open_edit(console, name)
    with page.expect_response(lambda r: r.request.method == "PATCH") as patched:
        edit.get_by_label("Allowed networks").fill("")
        edit.get_by_role("button", name="Save").click()
    assert patched.value.request.post_data_json == {"allowed_cidrs": []}
    expect(edit).to_be_hidden()
    assert api.get(created["id"])["allowed_cidrs"] == []


def test_a_key_restricted_to_the_local_address_works_in_the_local_run_and_others_are_refused(
    console: Console, api: Api
) -> None:
    """``chalice local`` reports 127.0.0.1 as every request's sourceIp, whatever the headers say."""
    local = api.create(unique("Loopback admin"), roles=("community_admin",), allowed_cidrs=["127.0.0.1/32"])
    elsewhere = api.create(unique("Elsewhere admin"), roles=("community_admin",), allowed_cidrs=["203.0.113.0/24"])
    assert api.whoami_status(local["secret"]) == 200
    assert api.whoami_status(elsewhere["secret"]) == 403

    console.sign_in(local["secret"])
    expect(console.page.get_by_role("heading", name="API keys")).to_be_visible()
    edit = open_edit(console, local["api_key"]["name"])
    expect(edit.get_by_label("Allowed networks")).to_have_value("127.0.0.1/32")
