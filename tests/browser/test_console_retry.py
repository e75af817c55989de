"""Saving a new key again after its answer never came: the same form is the same request
(its Idempotency-Key again, so the service replays the key it made), and a changed form is
another request with a key of its own (never the service's 422 for a reused key)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Console, unique

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWER = "ic_viewer – Intelligence Center Read-Only"


def expect(locator):  # noqa: ANN001, ANN201 - Playwright's assertion helper, imported lazily
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


class LosesFirstAnswer:
    """Lets every create reach the service, and answers the first one to the browser with a 502
    as a gateway whose integration timed out would: the key is made, its answer lost."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.statuses: list[int] = []

    def __call__(self, route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        self.keys.append(route.request.headers.get("idempotency-key", ""))
        answer = route.fetch()
        self.statuses.append(answer.status)
        if len(self.keys) == 1:
            route.fulfill(status=502, content_type="application/json", body='{"message": "Internal server error"}')
        else:
            route.fulfill(response=answer)


def _first_attempt(console: Console, name: str) -> tuple[Any, LosesFirstAnswer]:
    page = console.page
    console.sign_in()
    lost = LosesFirstAnswer()
    page.route("**/apikeys", lost)
    page.get_by_role("button", name="+ API key").click()
    dialog = page.get_by_role("dialog", name="New API key")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label(VIEWER).check()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator('[data-error-for="_form"]')).to_contain_text("the same form never makes a second key")
    return dialog, lost


def test_saving_the_same_form_again_replays_the_key_the_lost_answer_made(console: Console) -> None:
    name = unique("lost-answer")
    dialog, lost = _first_attempt(console, name)
    dialog.get_by_role("button", name="Save").click()
    expect(console.page.get_by_text("already created by an earlier attempt")).to_be_visible()
    assert lost.keys[0] == lost.keys[1] and lost.statuses[1] < 300
    expect(console.row(name)).to_have_count(1)


def test_a_changed_form_is_another_request_with_its_own_idempotency_key(console: Console) -> None:
    name = unique("lost-answer")
    dialog, lost = _first_attempt(console, name)
    dialog.get_by_label("Name", exact=True).fill(name + "-renamed")
    dialog.get_by_role("button", name="Save").click()
    secret = console.page.get_by_role("dialog", name="Your new API key")
    expect(secret).to_be_visible()
    assert lost.keys[0] != lost.keys[1] and lost.statuses == [201, 201]
