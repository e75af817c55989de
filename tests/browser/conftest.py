"""The browser suite's world: the local run (``scripts/local.py``: moto in server mode plus
``chalice local``) started once on loopback, Debian's Chromium driven by Playwright, and a
small JSON client for arranging data through the same API the page uses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from scripts.lifeline import tied
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
START_TIMEOUT_S = 60


@dataclass
class Server:
    base_url: str
    community: str
    admin_key_id: str
    admin_key: str
    moto_url: str = ""  # the local run's moto server: tests check what landed in its vaults
    region: str = "us-east-1"
    # The person the run printed (username, password, user_pool_id, client_id), in demo:community_admin.
    person: dict[str, str] = field(default_factory=dict)


class Api:
    """The JSON API as a test arranges and checks data with it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {server.admin_key}"

    def url(self, path: str) -> str:
        return self.server.base_url + path

    def keys_url(self, suffix: str = "") -> str:
        return self.url(f"/communities/{self.server.community}/apikeys{suffix}")

    def create(self, name: str, roles: tuple[str, ...] = ("ic_viewer",), **extra: Any) -> dict[str, Any]:
        response = self.http.post(self.keys_url(), json={"name": name, "roles": list(roles), **extra}, timeout=30)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def get(self, key_id: str) -> dict[str, Any]:
        response = self.http.get(self.keys_url(f"/{key_id}"), timeout=30)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def revoke(self, key_id: str) -> dict[str, Any]:
        response = self.http.post(self.keys_url(f"/{key_id}/revoke"), timeout=30)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def edit(self, key_id: str, **changes: Any) -> dict[str, Any]:
        response = self.http.patch(self.keys_url(f"/{key_id}"), json=changes, timeout=30)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def roles_url(self, suffix: str = "") -> str:
        return self.url(f"/communities/{self.server.community}/roles{suffix}")

    def roles(self) -> dict[str, dict[str, Any]]:
        response = self.http.get(self.roles_url(), timeout=30)
        assert response.status_code == 200, response.text
        return {role["name"]: role for role in response.json()["items"]}

    def create_role(self, name: str, permissions: tuple[str, ...], description: str = "") -> dict[str, Any]:
        body = {"name": name, "description": description, "permissions": list(permissions)}
        response = self.http.post(self.roles_url(), json=body, timeout=30)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def whoami_status(self, secret: str) -> int:
        response = requests.get(self.url("/whoami"), headers={"Authorization": f"Bearer {secret}"}, timeout=30)
        return response.status_code


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # local.py stops chalice and moto on SIGTERM
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: only what it started
        process.wait(timeout=5)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port, moto_port = free_port(), free_port()
    log_path = tmp_path_factory.mktemp("local-run") / "local.log"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "APIKEYS_")) or name == "AWS_DEFAULT_REGION"
    }
    env["PYTHONUNBUFFERED"] = "1"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            # tied: a killed test session takes the run with it; its own run.env, not the user's
            tied(
                [
                    sys.executable,
                    str(ROOT / "scripts" / "local.py"),
                    "--port",
                    str(port),
                    "--moto-port",
                    str(moto_port),
                    "--env-file",
                    str(log_path.with_name("run.env")),
                ]
            ),  # fmt: skip
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        first = _first_json_line(log_path, process)
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_serving(base_url, process, log_path)
        region = env.get("AWS_DEFAULT_REGION", "us-east-1")  # local.py's own default
        moto_url = f"http://127.0.0.1:{moto_port}"
        person = _json_line(log_path, '{"person"')["person"]
        yield Server(base_url, first["community"], first["admin_key_id"], first["admin_key"], moto_url, region, person)
    finally:
        _stop(process)


def _first_json_line(log_path: Path, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"admin_key"' in line:
                return dict(json.loads(line))
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError("the local run printed no admin key:\n" + _redacted_log(log_path))


def _json_line(log_path: Path, start: str) -> dict[str, Any]:
    return next(
        dict(json.loads(line)) for line in log_path.read_text(errors="replace").splitlines() if line.startswith(start)
    )


def _wait_until_serving(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if requests.get(base_url + "/", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the local run did not serve the console:\n" + _redacted_log(log_path))


def _redacted_log(log_path: Path) -> str:
    lines = log_path.read_text(errors="replace").splitlines()
    secret = ('"admin_key"', '{"person"', "with password")
    return "\n".join("<secret line>" if any(s in line for s in secret) else line for line in lines[-60:])


@pytest.fixture(scope="session")
def api(server: Server) -> Api:
    return Api(server)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright  # requirements-dev.txt; its driver ships in the wheel

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test-deps.sh (as root) to install Debian's chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Console:
    """One fresh browser context (its own sessionStorage) on the console, with what it logged."""

    page: Any
    server: Server
    problems: list[str]
    # The browser's "leave this page?" question (beforeunload), counted instead of refused once a
    # test has said it expects it; dismissed, so the page stays.
    leave_warnings: list[str] = field(default_factory=list)
    expect_leave_warnings: bool = False

    def open(self) -> None:
        self.page.goto(self.server.base_url + "/")

    def open_key_sign_in(self) -> None:
        """The operators' sign-in with an API key, one click from the person's."""
        self.open()
        self.page.get_by_role("button", name="Use an API key instead").click()

    def sign_in(self, key: str | None = None) -> None:
        self.open_key_sign_in()
        self.page.get_by_label("Admin API key").fill(key or self.server.admin_key)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_role("heading", name="API keys").wait_for()

    def search(self, text: str) -> None:
        """Type into the search bar and wait for the answer to that search."""
        with self.page.expect_response(lambda r: "/apikeys?" in r.url and query_of(r.url).get("search") == text):
            self.page.get_by_label("Search API keys").fill(text)
        self.wait_loaded()

    def wait_loaded(self) -> None:
        self.page.locator("#keys-table:not([aria-busy])").wait_for()

    def rows(self) -> Any:
        return self.page.locator("#keys-body tr.key-row")

    def row(self, name: str) -> Any:
        return self.rows().filter(has=self.page.locator(".key-name", has_text=name))

    def unlabelled_controls(self) -> list[str]:
        """Visible form controls with no accessible name: none may exist."""
        return list(
            self.page.evaluate(
                """() => Array.from(document.querySelectorAll('input, select, textarea, button, summary'))
                  .filter((el) => !el.closest('[hidden]') && el.type !== 'hidden' && el.getClientRects().length)
                  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                                  && !el.getAttribute('aria-labelledby') && !el.textContent.trim())
                  .map((el) => el.outerHTML.slice(0, 80))"""
            )
        )

    def shot(self, name: str, **options: Any) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), **options)


def query_of(url: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(urlsplit(url).query))


@pytest.fixture
def console(browser: Any, server: Server) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1360, "height": 860}, locale="en-GB", timezone_id="UTC")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )

    # The console's own files (the page, its style sheet and modules) must all load: a module that
    # fails to load logs only "Failed to load resource", which the API's own 4xx answers log too.
    def own_file(url: str) -> bool:
        parts = urlsplit(url)  # of this origin: the sign-in service's refusals are the page's to show
        return f"{parts.scheme}://{parts.netloc}" == server.base_url and (
            parts.path == "/" or parts.path.startswith("/console/")
        )

    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} for {response.url}")
            if response.status >= 400 and own_file(response.url)
            else None
        ),
    )
    page.on(
        "requestfailed",  # not one the browser dropped itself as the test moved on (a reload)
        lambda request: (
            problems.append(f"request failed: {request.url} ({request.failure})")
            if own_file(request.url) and request.failure != "net::ERR_ABORTED"
            else None
        ),
    )

    console = Console(page, server, problems)

    def refuse_js_dialog(dialog: Any) -> None:
        if dialog.type == "beforeunload" and console.expect_leave_warnings:
            console.leave_warnings.append(dialog.type)
        else:
            problems.append(f"JS dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", refuse_js_dialog)
    try:
        yield console
    finally:
        context.close()
    assert not problems, problems  # a page error, a CSP refusal, a file of its own not loaded or a JS dialog


def unique(label: str) -> str:
    """A name no other test uses, so tests share one server without seeing each other's keys."""
    return f"{label}-{uuid.uuid4().hex[:8]}"
