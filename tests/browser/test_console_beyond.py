"""The console's rotation, roles page, events tab and vault picker, in headless Chromium against
the local run (moto in server mode, the vault targets ``scripts/local.py`` configures).

Like test_console.py, each test names its keys and roles uniquely so tests share one server.
Screenshots go to artifacts/screenshots/ (2x-numbered, after the lifecycle ones).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import requests

from tests.browser.conftest import Api, Console, Server, query_of, unique

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SECRET_PATTERN = re.compile(r"^apk_[0-9A-Za-z]{46}$")


def expect(locator):  # noqa: ANN001, ANN201 - Playwright's assertion helper, imported lazily
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def open_edit(console: Console, name: str, *, label: str | None = None) -> Any:
    console.search(name)
    button = label or f"Edit {name}"
    console.row(name).first.get_by_role("button", name=button).click()
    return console.page.locator("#edit-dialog")


def aws_client(server: Server, service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=server.moto_url,
        region_name=server.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def page_holds(console: Console, text: str) -> bool:
    return bool(
        console.page.evaluate(
            """(text) => document.documentElement.outerHTML.includes(text)
                || Array.from(document.querySelectorAll('input, textarea')).some((el) => el.value.includes(text))""",
            text,
        )
    )


# -- rotate -------------------------------------------------------------------------------------


def test_rotate_with_a_grace_period_links_both_keys(console: Console, api: Api) -> None:
    page = console.page
    name = unique("rotate-me")
    created = api.create(name, description="to be rotated")
    old_id, old_secret = created["api_key"]["id"], created["secret"]
    console.sign_in()
    edit = open_edit(console, name)
    expect(edit.get_by_role("button", name="Rotate", exact=True)).to_be_visible()
    edit.get_by_role("button", name="Rotate", exact=True).click()

    rotate = page.get_by_role("dialog", name="Rotate this API key?")
    expect(rotate).to_contain_text(name)
    for label in ("Not at all: revoke it now", "For 1 hour", "For 24 hours", "For 7 days"):
        expect(rotate.get_by_label(label)).to_be_visible()
    expect(rotate.get_by_label("For 24 hours")).to_be_checked()
    expect(rotate.get_by_label("For 24 hours")).to_be_focused()
    expect(rotate.get_by_label("Also show the new secret here, once", exact=False)).to_be_hidden()  # no vault
    assert console.unlabelled_controls() == []
    console.shot("21-rotate-dialog")

    # The keyboard alone: arrows move within the grace choices, Tab reaches the Rotate button.
    page.keyboard.press("ArrowUp")
    expect(rotate.get_by_label("For 1 hour")).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(rotate.get_by_role("button", name="Rotate")).to_be_focused()
    with page.expect_response(lambda r: r.url.endswith(f"/{old_id}/rotate")) as rotated:
        page.keyboard.press("Enter")
    assert rotated.value.status == 201
    assert rotated.value.request.post_data_json == {"grace": "1h"}

    secret_dialog = page.get_by_role("dialog", name="Your rotated API key")
    expect(secret_dialog).to_be_visible()
    expect(secret_dialog).to_contain_text("only be displayed once")
    expect(page.locator("#secret-rotation-note")).to_contain_text(f"The old key {old_id} keeps working until")
    new_secret = page.locator("#secret-value").text_content() or ""
    assert SECRET_PATTERN.match(new_secret) and new_secret != old_secret
    console.shot("22-rotated-secret", mask=[page.locator("#secret-value")])
    assert api.whoami_status(new_secret) == 200
    assert api.whoami_status(old_secret) == 200  # within its grace
    secret_dialog.get_by_role("button", name="I have saved it, close").click()
    assert not page_holds(console, new_secret)

    # The table links the two keys (the list reloads with the search still applied).
    console.wait_loaded()
    expect(console.rows()).to_have_count(2)
    new_row = console.rows().first  # newest first
    new_id = new_row.get_attribute("data-key-id") or ""
    assert new_id and new_id != old_id
    old_row = page.locator(f'#keys-body tr[data-key-id="{old_id}"]')
    expect(old_row.locator(".cell-status")).to_contain_text(f"rotated → {new_id}")
    expect(old_row.locator(".cell-status")).to_contain_text("grace until")
    expect(new_row.locator(".cell-status")).to_contain_text(f"rotated from {old_id}")
    expect(new_row.locator(".cell-roles")).to_have_text("ic_viewer")
    console.shot("23-rotation-links")

    # A key already rotated cannot be rotated again; its view names the new key.
    old_row.get_by_role("button", name=f"Edit {name}").click()
    expect(page.locator("#edit-details")).to_contain_text(new_id)
    expect(page.locator("#edit-rotate")).to_be_hidden()
    page.keyboard.press("Escape")

    # Rotating the new key with no grace revokes it at once.
    new_row.get_by_role("button", name=f"Edit {name}").click()
    page.locator("#edit-rotate").click()
    rotate.get_by_label("Not at all: revoke it now").check()
    with page.expect_response(lambda r: r.url.endswith(f"/{new_id}/rotate")) as again:
        rotate.get_by_role("button", name="Rotate").click()
    assert again.value.request.post_data_json == {"grace": "immediate"}
    expect(page.locator("#secret-rotation-note")).to_contain_text(f"The old key {new_id} was revoked at once.")
    page.get_by_role("button", name="I have saved it, close").click()
    assert api.whoami_status(new_secret) == 401
    console.wait_loaded()
    expect(console.rows()).to_have_count(3)
    middle = page.locator(f'#keys-body tr[data-key-id="{new_id}"]')
    expect(middle.locator(".cell-status")).to_contain_text("Revoked")
    expect(middle.locator(".cell-status")).not_to_contain_text("grace until")
    middle.get_by_role("button", name=f"View {name} (revoked)").click()
    expect(page.locator("#edit-rotate")).to_be_hidden()


# -- roles ----------------------------------------------------------------------------------------


def test_roles_page_creates_edits_and_deletes_custom_roles(console: Console, api: Api, server: Server) -> None:
    page = console.page
    console.sign_in()
    page.get_by_role("link", name="Roles").click()
    expect(page.get_by_role("heading", name="Roles")).to_be_visible()
    expect(page.get_by_role("link", name="Roles")).to_have_attribute("aria-current", "page")
    assert query_of(page.url) == {} and page.url.endswith("#roles")
    builtin = page.locator('#roles-body tr[data-role="community_admin"]')
    expect(builtin.locator(".cell-type")).to_have_text("Built-in")
    expect(builtin).to_contain_text("Read-only")
    expect(builtin.get_by_role("button")).to_have_count(0)  # built-in roles cannot be changed here

    page.get_by_role("button", name="+ Role").click()
    dialog = page.get_by_role("dialog", name="New role")
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()
    # The permission picker is the catalog the API documents in /openapi.json.
    schema = requests.get(server.base_url + "/openapi.json", timeout=30).json()["components"]["schemas"]
    catalog = schema["CreateRole"]["properties"]["permissions"]["items"]["enum"]
    offered = dialog.locator('#role-permissions input[name="permissions"]')
    expect(offered).to_have_count(len(catalog))
    assert [box.get_attribute("value") for box in offered.all()] == catalog
    assert console.unlabelled_controls() == []

    dialog.get_by_label("Name", exact=True).fill("Not A Name")
    dialog.get_by_label("intelligence:read").check()
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator("#role-name-error")).to_contain_text("lowercase letters")
    expect(dialog.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")

    role = f"reader_{uuid.uuid4().hex[:8]}"
    hostile = "<img src=x onerror=alert(3)> reads intel"
    dialog.get_by_label("Name", exact=True).fill(role)
    dialog.get_by_label("Description", exact=True).fill(hostile)
    dialog.get_by_label("playbooks:read").check()
    with page.expect_response(lambda r: r.url.endswith("/roles") and r.request.method == "POST") as posted:
        dialog.get_by_role("button", name="Save").click()
    assert posted.value.status == 201
    expect(dialog).to_be_hidden()
    row = page.locator(f'#roles-body tr[data-role="{role}"]')
    expect(row.locator(".cell-type")).to_have_text("Custom")
    expect(row.locator(".cell-description")).to_have_text(hostile)
    expect(row.locator(".cell-permissions .chip")).to_have_text(["intelligence:read", "playbooks:read"])
    assert page.locator("#roles-table img").count() == 0
    console.shot("24-roles")

    # Edit: the name is fixed; permissions and description change.
    row.get_by_role("button", name=f"Edit role {role}").click()
    edit = page.get_by_role("dialog", name="Edit role")
    expect(edit.get_by_label("Name", exact=True)).to_be_disabled()
    expect(edit.get_by_label("playbooks:read")).to_be_checked()
    edit.get_by_label("playbooks:read").uncheck()
    edit.get_by_label("intelligence:read").uncheck()
    edit.get_by_role("button", name="Save").click()
    expect(page.locator("#role-permissions-error")).to_be_visible()  # at least one permission
    edit.get_by_label("intelligence:write").check()
    edit.get_by_label("intelligence:read").check()
    with page.expect_response(lambda r: r.request.method == "PATCH") as patched:
        edit.get_by_role("button", name="Save").click()
    assert patched.value.status == 200
    assert patched.value.request.post_data_json["permissions"] == ["intelligence:read", "intelligence:write"]
    expect(row.locator(".cell-permissions .chip")).to_have_text(["intelligence:read", "intelligence:write"])
    assert api.roles()[role]["permissions"] == ["intelligence:read", "intelligence:write"]

    # The key dialogs offer the new role.
    page.get_by_role("link", name="API keys").click()
    page.get_by_role("button", name="+ API key").click()
    expect(page.get_by_role("dialog", name="New API key").locator(f"#create-role-{role}")).to_be_attached()
    page.get_by_role("dialog", name="New API key").get_by_role("button", name="Cancel").click()

    # A role still granted cannot be deleted: the dialog lists the keys that hold it.
    holder_name = unique("holder")
    holder = api.create(holder_name, roles=(role,))["api_key"]
    page.get_by_role("link", name="Roles").click()
    row.get_by_role("button", name=f"Edit role {role}").click()
    edit.get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("alertdialog", name="Delete this role?")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    with page.expect_response(lambda r: r.request.method == "DELETE") as refused:
        confirm.get_by_role("button", name="Delete role").click()
    assert refused.value.status == 409
    holders = confirm.get_by_role("list", name="Keys that hold the role").get_by_role("listitem")
    expect(holders).to_have_count(1)
    expect(holders.first).to_have_text(f"{holder_name} {holder['id']}")
    console.shot("25-role-in-use")
    confirm.get_by_role("button", name="Cancel").click()
    edit.get_by_role("button", name="Cancel").click()

    api.revoke(holder["id"])
    row.get_by_role("button", name=f"Edit role {role}").click()
    edit.get_by_role("button", name="Delete").click()
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        confirm.get_by_role("button", name="Delete role").click()
    assert deleted.value.status == 204
    expect(confirm).to_be_hidden()
    expect(row).to_have_count(0)
    assert role not in api.roles()


# -- events ---------------------------------------------------------------------------------------


def test_events_tab_and_a_keys_own_events(console: Console, api: Api) -> None:
    page = console.page
    name = unique("audited")
    created = api.create(name, description="v0")
    key_id, secret = created["api_key"]["id"], created["secret"]
    for version in range(1, 11):
        api.edit(key_id, description=f"v{version}")
    api.revoke(key_id)  # 12 events: create, 10 edits, revoke

    console.sign_in()
    page.get_by_role("link", name="Events").click()
    expect(page.get_by_role("heading", name="Events")).to_be_visible()
    table = page.locator("#events-table:not([aria-busy])")
    table.wait_for()
    rows = page.locator("#events-body tr.event-row")
    expect(rows.nth(0).locator(".cell-event-action")).to_have_text("Revoked")
    expect(rows.nth(0).locator(".cell-subject")).to_have_text(f"{name} {key_id}")
    # A key as actor shows its name beside its id, not "key:<id>".
    expect(rows.nth(0).locator(".cell-actor")).to_have_text(f"First admin {console.server.admin_key_id}")
    edit = rows.nth(1)
    expect(edit.locator(".cell-event-action")).to_have_text("Edited")
    expect(edit.locator('li[data-field="description"]')).to_have_text("description: v9 → v10")
    expect(edit.locator("del")).to_have_text("v9")
    expect(edit.locator("ins")).to_have_text("v10")
    console.shot("26-events")

    # Pages follow the API's cursors.
    with page.expect_request(lambda r: "/events?" in r.url and query_of(r.url).get("limit") == "10"):
        page.get_by_label("Events per page").select_option("10")
    table.wait_for()
    expect(rows).to_have_count(10)
    first_page = rows.first.get_attribute("data-event-id")
    with page.expect_request(lambda r: "/events?" in r.url and "cursor" in query_of(r.url)):
        page.get_by_role("button", name="Older").click()
    table.wait_for()
    expect(page.locator("#events-page-label")).to_have_text("Page 2")
    expect(rows.nth(0).locator(".cell-event-action")).to_have_text("Edited")
    expect(rows.nth(0).locator("ins")).to_have_text("v1")  # the 11th newest event
    expect(rows.nth(1).locator(".cell-event-action")).to_have_text("Created")
    page.get_by_role("button", name="Newer").click()
    table.wait_for()
    expect(rows.first).to_have_attribute("data-event-id", first_page or "")

    # The key's own events, in its view, ten at a time.
    page.get_by_role("link", name="API keys").click()
    view = open_edit(console, name, label=f"View {name} (revoked)")
    summary = view.locator("#edit-events summary")
    summary.focus()
    with page.expect_response(lambda r: f"/apikeys/{key_id}/events" in r.url):
        page.keyboard.press("Enter")  # a disclosure the keyboard opens
    items = view.locator("#edit-events-list > li")
    expect(items).to_have_count(10)
    expect(items.first).to_contain_text("Revoked")
    view.get_by_role("button", name="Show older events").click()
    expect(items).to_have_count(12)
    expect(items.last).to_contain_text("Created")
    expect(view.get_by_role("button", name="Show older events")).to_be_hidden()
    items.last.scroll_into_view_if_needed()
    console.shot("27-key-events")
    assert not page_holds(console, secret)


# -- the vault picker -----------------------------------------------------------------------------


def create_in_vault(console: Console, name: str, target: str, *, path: str = "", reveal: bool) -> dict[str, Any]:
    page = console.page
    page.get_by_role("button", name="+ API key").click()
    dialog = page.get_by_role("dialog", name="New API key")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("ic_viewer – Intelligence Center Read-Only").check()
    dialog.get_by_label("Save the secret into").select_option(target)
    if path:
        dialog.get_by_label("Path in the vault (optional)").fill(path)
    reveal_box = dialog.get_by_label("Also show the secret here, once")
    expect(reveal_box).to_be_checked()
    reveal_box.set_checked(reveal)
    with page.expect_response(lambda r: r.url.endswith("/apikeys") and r.request.method == "POST") as posted:
        dialog.get_by_role("button", name="Save").click()
    assert posted.value.status == 201, posted.value.text()
    body = posted.value.request.post_data_json
    assert body["vault"]["target"] == target and body["reveal"] is reveal
    return dict(posted.value.json())


def test_vault_picker_saves_into_the_chosen_vault(console: Console, api: Api, server: Server) -> None:
    page = console.page
    targets = [target["name"] for target in api.http.get(api.url("/vaults"), timeout=30).json()["items"]]
    assert {"aws-secrets-manager", "aws-ssm"} <= set(targets)  # scripts/local.py configures both
    console.sign_in()
    console.wait_loaded()

    # Reveal off: the secret goes into SSM only; the console shows where, never the secret.
    name = unique("ssm-only")
    folder = f"connectors/{uuid.uuid4().hex[:8]}"
    answer = create_in_vault(console, name, "aws-ssm", path=folder, reveal=False)
    assert "secret" not in answer
    location = answer["api_key"]["vault"]
    assert location["path"].endswith(folder)
    vaulted = page.get_by_role("dialog", name="Secret saved into the vault")
    expect(vaulted).to_contain_text(name)
    expect(vaulted.locator("#vaulted-location")).to_contain_text("aws-ssm (ssm)")
    expect(vaulted.locator(".vault-path")).to_have_text(location["path"])
    expect(page.get_by_role("dialog", name="Your new API key")).to_be_hidden()
    console.shot("28-vaulted-only")
    stored = aws_client(server, "ssm").get_parameter(Name=location["path"], WithDecryption=True)["Parameter"]["Value"]
    assert SECRET_PATTERN.match(stored) and stored.startswith("apk_" + answer["api_key"]["id"])
    assert api.whoami_status(stored) == 200  # what landed in the vault is the working key
    assert not page_holds(console, stored)
    vaulted.get_by_role("button", name="Close").click()

    # Reveal on: Secrets Manager holds it, and the dialog shows it once with the location.
    name = unique("sm-and-shown")
    answer = create_in_vault(console, name, "aws-secrets-manager", reveal=True)
    location = answer["api_key"]["vault"]
    secret_dialog = page.get_by_role("dialog", name="Your new API key")
    expect(secret_dialog).to_be_visible()
    expect(secret_dialog.locator("#secret-vault-location")).to_contain_text("aws-secrets-manager (secretsmanager)")
    expect(secret_dialog.locator(".vault-path")).to_have_text(location["path"])
    expect(secret_dialog.locator("#secret-vault-location")).to_contain_text(location["arn"])
    shown = page.locator("#secret-value").text_content() or ""
    console.shot("29-vault-and-secret", mask=[page.locator("#secret-value")])
    secrets = aws_client(server, "secretsmanager")
    assert secrets.get_secret_value(SecretId=location["path"])["SecretString"] == shown
    secret_dialog.get_by_role("button", name="I have saved it, close").click()

    # Rotating a vaulted key: the new secret goes to the same vault, here without showing it.
    edit = open_edit(console, name)
    edit.get_by_role("button", name="Rotate", exact=True).click()
    rotate = page.get_by_role("dialog", name="Rotate this API key?")
    rotate.get_by_label("Also show the new secret here", exact=False).uncheck()
    with page.expect_response(lambda r: r.url.endswith("/rotate")) as rotated:
        rotate.get_by_role("button", name="Rotate").click()
    assert rotated.value.request.post_data_json == {"grace": "24h", "reveal": False}
    new_location = rotated.value.json()["api_key"]["vault"]
    vaulted = page.get_by_role("dialog", name="Secret saved into the vault")
    expect(vaulted.locator("#vaulted-rotation-note")).to_contain_text("keeps working until")
    expect(vaulted.locator(".vault-path")).to_have_text(new_location["path"])
    new_secret = secrets.get_secret_value(SecretId=new_location["path"])["SecretString"]
    assert new_secret != shown and api.whoami_status(new_secret) == 200
    assert secrets.get_secret_value(SecretId=location["path"])["SecretString"] == shown  # old one, in its grace
    vaulted.get_by_role("button", name="Close").click()
