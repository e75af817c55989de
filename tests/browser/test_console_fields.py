"""The console marks the form field an API error names in its ``Field`` member: the field's
message shown beside it, the control marked invalid and focused. It reads the member, not the
message's first word."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.browser.conftest import Api, Console, unique

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWER = "ic_viewer – Intelligence Center Read-Only"


def expect(locator):  # noqa: ANN001, ANN201 - Playwright's assertion helper, imported lazily
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def test_the_field_an_answer_names_is_marked_even_when_the_message_does_not_start_with_it(console: Console) -> None:
    page = console.page
    console.sign_in()
    page.get_by_role("button", name="+ API key").click()
    dialog = page.get_by_role("dialog", name="New API key")
    dialog.get_by_label("Name", exact=True).fill(unique("field-as-data"))
    dialog.get_by_label("Description", exact=True).fill("a description the service refuses")
    dialog.get_by_label(VIEWER).check()
    # An answer whose message names no field first: only its Field member says which one it is.
    answer = {"Code": "BadRequestError", "Message": "Says who? Not this description.", "Field": "description"}
    page.route(
        "**/apikeys",
        lambda route: (
            route.fulfill(status=400, content_type="application/json", body=json.dumps(answer))
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    dialog.get_by_role("button", name="Save").click()
    description = dialog.get_by_label("Description", exact=True)
    expect(page.locator("#create-description-error")).to_have_text("Says who? Not this description.")
    expect(description).to_have_attribute("aria-invalid", "true")
    expect(description).to_be_focused()
    expect(dialog.get_by_label("Name", exact=True)).not_to_have_attribute("aria-invalid", "true")
    expect(dialog.locator('[data-error-for="_form"]')).to_be_hidden()


def test_the_services_own_answer_marks_its_field(console: Console, api: Api) -> None:
    page = console.page
    taken = f"taken_{uuid.uuid4().hex[:8]}"
    api.create_role(taken, ("intelligence:read",))
    console.sign_in()
    page.get_by_role("link", name="Roles").click()
    page.get_by_role("button", name="+ Role").click()
    dialog = page.get_by_role("dialog", name="New role")
    dialog.get_by_label("Name", exact=True).fill(taken)
    dialog.get_by_label("intelligence:read").check()
    with page.expect_response(lambda r: r.url.endswith("/roles") and r.request.method == "POST") as posted:
        dialog.get_by_role("button", name="Save").click()
    assert posted.value.status == 409
    assert posted.value.json()["Field"] == "name"
    name = dialog.get_by_label("Name", exact=True)
    expect(page.locator("#role-name-error")).to_contain_text("already exists")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_be_focused()
