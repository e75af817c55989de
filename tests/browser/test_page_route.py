"""The console's routes without a browser: what is served, with which headers, under which prefix."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.routes import console
from chalicelib.routes.console import ASSET_DIR, PAGE_ASSETS, SECURITY_HEADERS, _base_path

# Every module file in the console folder, listed here on its own (not from the route's list).
MODULE_FILES = sorted(path.name for path in ASSET_DIR.glob("*.js"))
IMPORT = re.compile(r'^import\b[^"]*"([^"]*)"', re.MULTILINE)  # a static import's specifier


def test_page_links_its_assets_by_content_hash(client: Any) -> None:
    page = client.http.get("/")
    assert page.status_code == 200
    body = page.body.decode()
    for name in PAGE_ASSETS:
        match = re.search(rf'"/console/{re.escape(name)}\?v=([0-9a-f]{{16}})"', body)
        assert match, name
        asset = client.http.get(f"/console/{name}?v={match.group(1)}")
        assert asset.status_code == 200
        assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert asset.headers["X-Content-Type-Options"] == "nosniff"
    assert "{{" not in body  # every placeholder was filled
    assert re.search(r'<script type="module" src="/console/app\.js\?v=[0-9a-f]{16}"></script>', body)


def _entry_version(client: Any) -> str:
    match = re.search(r'"/console/app\.js\?v=([0-9a-f]{16})"', client.http.get("/").body.decode())
    assert match
    return match.group(1)


def test_every_module_is_javascript_reached_from_the_entry_at_its_version(client: Any) -> None:
    assert len(MODULE_FILES) > 1 and "app.js" in MODULE_FILES
    version = _entry_version(client)
    reached: set[str] = set()
    queue = ["app.js"]
    while queue:
        name = queue.pop()
        if name in reached:
            continue
        reached.add(name)
        response = client.http.get(f"/console/{name}?v={version}")
        assert response.status_code == 200, name
        assert response.headers["Content-Type"] == "text/javascript; charset=utf-8", name
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable", name
        for header, value in SECURITY_HEADERS.items():
            assert response.headers[header] == value, (name, header)
        for specifier in IMPORT.findall(response.body.decode()):
            # each import names a sibling module at the entry's version, never an unversioned URL
            match = re.fullmatch(r"\./([\w-]+\.js)\?v=([0-9a-f]{16})", specifier)
            assert match and match.group(2) == version, (name, specifier)
            queue.append(match.group(1))
        assert not re.search(r'"\./[\w-]+\.js"', response.body.decode()), name  # no unversioned path left
    assert sorted(reached) == MODULE_FILES  # every module is loaded, and nothing else is imported


def test_every_module_file_is_served_as_javascript_and_nothing_else_is(client: Any) -> None:
    for name in MODULE_FILES:
        response = client.http.get(f"/console/{name}")
        assert response.status_code == 200, name
        assert response.headers["Content-Type"] == "text/javascript; charset=utf-8", name
        assert response.headers["Cache-Control"] == "no-cache", name  # unversioned: revalidate
    for unknown in ("missing.js", "app.mjs", "index.html", "app.py", "__init__.py", "console.py"):
        assert client.http.get(f"/console/{unknown}").status_code == 404, unknown


def test_the_policy_allows_scripts_from_this_origin_only(client: Any) -> None:
    for path in ("/", "/console/app.js", "/console/keys.js"):
        policy = client.http.get(path).headers["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["script-src"] == "'self'", path
        assert directives["default-src"] == "'none'", path


@pytest.fixture
def console_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The route reading a copy of the console folder, with its caches emptied before and after."""
    copy = tmp_path / "console"
    shutil.copytree(ASSET_DIR, copy)
    monkeypatch.setattr(console, "ASSET_DIR", copy)
    caches = (console._read, console._modules_version, console._asset)
    for cache in caches:
        cache.cache_clear()
    yield copy
    for cache in caches:
        cache.cache_clear()


def test_a_change_to_any_module_moves_every_module_to_a_new_version(client: Any, console_copy: Path) -> None:
    before = _entry_version(client)
    unchanged_css = client.http.get("/").body.decode().split("app.css?v=")[1][:16]
    leaf = console_copy / "shared.js"  # imported by the others, importing nothing
    leaf.write_text(leaf.read_text() + "\n// changed\n")
    for cache in (console._read, console._modules_version, console._asset):
        cache.cache_clear()
    page = client.http.get("/").body.decode()
    after = _entry_version(client)
    assert after != before
    assert f"app.css?v={unchanged_css}" in page  # the style sheet did not change: its URL stays
    entry = client.http.get(f"/console/app.js?v={after}").body.decode()
    assert f"?v={before}" not in entry and f"./keys.js?v={after}" in entry


def test_the_console_needs_no_key_and_unknown_assets_are_404(client: Any) -> None:
    assert client.http.get("/").status_code == 200
    assert client.http.get("/console/index.html").status_code == 404
    assert client.http.get("/console/app.py").status_code == 404


def test_assets_are_linked_under_the_stage_prefix() -> None:
    assert _base_path({"path": "/", "resourcePath": "/"}) == ""
    assert _base_path({"path": "/api/", "resourcePath": "/"}) == "/api"
    assert _base_path({"path": "/api", "resourcePath": "/"}) == "/api"
    assert _base_path({}) == ""


def _policy(response: Any) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_without_a_user_pool_the_page_offers_only_the_key_sign_in(client: Any) -> None:
    page = client.http.get("/")
    assert 'data-cognito-endpoint="" data-client-id=""' in page.body.decode()
    assert _policy(page)["connect-src"] == "'self'"


def test_with_a_user_pool_the_page_names_its_sign_in_and_may_connect_to_it(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import wiring
    from chalicelib.settings import get_settings

    monkeypatch.setenv("APIKEYS_OIDC_ISSUER", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool1")
    monkeypatch.setenv("APIKEYS_OIDC_AUDIENCE", "console-client,cli-client")
    wiring.reset()
    get_settings()
    page = client.http.get("/")
    body = page.body.decode()
    assert 'data-cognito-endpoint="https://cognito-idp.eu-west-1.amazonaws.com/"' in body
    assert 'data-client-id="console-client"' in body
    for response in (page, client.http.get("/console/app.js")):
        assert _policy(response)["connect-src"] == "'self' https://cognito-idp.eu-west-1.amazonaws.com"
        assert _policy(response)["script-src"] == "'self'"
    wiring.reset()
