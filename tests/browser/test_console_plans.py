"""The console's usage plans: the plan picker with each plan's limits, and a key's usage chart,
in headless Chromium against the local run (its moto server holds the two usage plans
``scripts/local.py`` creates). Screenshots go to artifacts/screenshots/ (4x-numbered).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.conftest import Api, Console, Server, unique

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def expect(locator):  # noqa: ANN001, ANN201 - Playwright's assertion helper, imported lazily
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def gateway(server: Server) -> Any:
    import boto3

    return boto3.client(
        "apigateway",
        endpoint_url=server.moto_url,
        region_name=server.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def open_edit(console: Console, name: str) -> Any:
    console.search(name)
    console.row(name).first.get_by_role("button", name=f"Edit {name}").click()
    return console.page.locator("#edit-dialog")


def test_create_with_a_plan_shows_limits_and_puts_the_key_in_that_usage_plan(console: Console, api: Api) -> None:
    name = unique("Metered feed")
    console.sign_in()
    console.page.get_by_role("button", name="+ API key").click()
    dialog = console.page.locator("#create-dialog")
    picker = dialog.get_by_label("Usage plan")
    expect(picker.locator("option")).to_have_text(
        [
            "No plan",
            "standard (10 req/s, burst 20, 100,000 per month)",
            "premium (100 req/s, burst 200, 5,000,000 per month)",
        ]
    )
    dialog.get_by_label("Name").fill(name)
    dialog.locator("#create-roles").get_by_label("Intelligence Center Read-Only").check()
    picker.select_option("standard")
    console.shot("41-create-with-plan")
    dialog.get_by_role("button", name="Save").click()
    console.page.get_by_role("button", name="I have saved it, close").click()

    console.search(name)
    key_id = _key_id(api, name)
    assert api.get(key_id)["plan"] == "standard"
    plans = {p["name"]: p["id"] for p in gateway(console.server).get_usage_plans()["items"]}
    members = gateway(console.server).get_usage_plan_keys(usagePlanId=plans["apikeys-local-standard"])["items"]
    assert f"apikeys:{key_id}" in {m["name"] for m in members}


def test_edit_moves_plans_and_draws_the_usage_chart(console: Console, api: Api) -> None:
    """moto has no GetUsage: the page's one usage request is answered by the test (route.fulfill);
    the plans, the key and its move between plans are the local run's."""
    name = unique("Chart")
    created = api.create(name, plan="standard")["api_key"]
    today = datetime.now(UTC).date()
    counts = [(i * 37) % 120 for i in range(30)]
    days = [{"date": (today - timedelta(days=29 - i)).isoformat(), "requests": n} for i, n in enumerate(counts)]
    usage = {"plan": "standard", "days": days, "quota": {"limit": 100000, "period": "MONTH"},
             "quota_remaining": 100000 - sum(counts)}  # fmt: skip
    asked: list[str] = []

    def answer(route: Any) -> None:
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="application/json", body=json.dumps(usage))

    console.page.route("**/apikeys/*/usage?*", answer)
    console.sign_in()
    dialog = open_edit(console, name)
    chart = dialog.locator("svg.usage-chart")
    expect(chart.locator("rect.usage-bar")).to_have_count(30)
    expect(dialog.locator("#edit-usage-status")).to_contain_text(f"{sum(counts):,} requests in 30 days")
    expect(dialog.locator("#edit-usage-status")).to_contain_text(
        f"quota left: {100000 - sum(counts):,} of 100,000 per month"
    )
    assert asked and f"/apikeys/{created['id']}/usage?days=30" in asked[0]
    tallest = max(range(30), key=lambda i: counts[i])
    bar = chart.locator("rect.usage-bar").nth(tallest)
    assert bar.get_attribute("data-requests") == str(counts[tallest])
    heights = [float(chart.locator("rect.usage-bar").nth(i).get_attribute("height") or 0) for i in range(30)]
    assert heights.index(max(heights)) == tallest and min(heights) == 0.0
    expect(dialog.get_by_label("Usage plan")).to_have_value("standard")
    chart.scroll_into_view_if_needed()
    console.shot("42-usage-chart")

    dialog.get_by_label("Usage plan").select_option("premium")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    assert api.get(created["id"])["plan"] == "premium"
    assert not console.unlabelled_controls()


def _key_id(api: Api, name: str) -> str:
    response = api.http.get(api.keys_url(), params={"search": name}, timeout=30)
    [item] = response.json()["items"]
    return str(item["id"])
