"""The console's routes without a browser: what is served, with which headers, under which prefix."""

from __future__ import annotations

import re
from typing import Any

from chalicelib.routes.console import ASSETS, _base_path


def test_page_links_its_assets_by_content_hash(client: Any) -> None:
    page = client.http.get("/")
    assert page.status_code == 200
    body = page.body.decode()
    for name in ASSETS:
        match = re.search(rf'"/console/{re.escape(name)}\?v=([0-9a-f]{{16}})"', body)
        assert match, name
        asset = client.http.get(f"/console/{name}?v={match.group(1)}")
        assert asset.status_code == 200
        assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert asset.headers["X-Content-Type-Options"] == "nosniff"
    assert "{{" not in body  # every placeholder was filled


def test_the_console_needs_no_key_and_unknown_assets_are_404(client: Any) -> None:
    assert client.http.get("/").status_code == 200
    assert client.http.get("/console/index.html").status_code == 404
    assert client.http.get("/console/app.py").status_code == 404


def test_assets_are_linked_under_the_stage_prefix() -> None:
    assert _base_path({"path": "/", "resourcePath": "/"}) == ""
    assert _base_path({"path": "/api/", "resourcePath": "/"}) == "/api"
    assert _base_path({"path": "/api", "resourcePath": "/"}) == "/api"
    assert _base_path({}) == ""
