"""Large settings in a file shipped with the code (``APIKEYS_SETTINGS_FILE``), the environment
over it: a Lambda function's environment holds 4 KB in all."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chalicelib.errors import SettingsError
from chalicelib.settings import PROJECT_ROOT, from_environ
from tests.conftest import PEPPER

ROUTE_MAP = {f"GET /reports/{n}/*": "intelligence:read" for n in range(200)}  # ~7 KB: no environment holds it


def _write(tmp_path: Path, values: object) -> str:
    path = tmp_path / "stage.json"
    path.write_text(json.dumps(values))
    return str(path)


def test_settings_too_large_for_the_environment_come_from_the_file(tmp_path):
    targets = [{"name": "aws-ssm", "kind": "ssm", "prefix": "/apikeys/t/keys/"}]
    name = _write(
        tmp_path, {"APIKEYS_ROUTE_MAP": ROUTE_MAP, "APIKEYS_VAULT_TARGETS": targets, "APIKEYS_MAX_EXPIRY_DAYS": 90}
    )

    settings = from_environ({"APIKEYS_SETTINGS_FILE": name, "APIKEYS_PEPPERS": f"p1:{PEPPER}"})

    assert dict(settings.route_map) == ROUTE_MAP
    assert [dict(t) for t in settings.vault_targets] == targets
    assert settings.max_expiry_days == 90


def test_the_environment_overrides_the_file(tmp_path):
    name = _write(tmp_path, {"APIKEYS_ROUTE_MAP": ROUTE_MAP, "APIKEYS_MAX_EXPIRY_DAYS": "90"})
    env = {
        "APIKEYS_SETTINGS_FILE": name,
        "APIKEYS_PEPPERS": f"p1:{PEPPER}",
        "APIKEYS_ROUTE_MAP": json.dumps({"GET /only/*": "intelligence:read"}),
    }

    settings = from_environ(env)

    assert settings.route_map == (("GET /only/*", "intelligence:read"),)
    assert settings.max_expiry_days == 90


def test_a_relative_name_is_read_from_the_project_root_where_the_package_puts_the_code(tmp_path):
    """``chalice package`` ships chalicelib/ whole; Lambda's task root holds it beside app.py."""
    assert Path(PROJECT_ROOT, "app.py").is_file() and Path(PROJECT_ROOT, "chalicelib", "settings.py").is_file()
    relative = os.path.relpath(_write(tmp_path, {"APIKEYS_MAX_EXPIRY_DAYS": 30}), PROJECT_ROOT)
    assert not os.path.isabs(relative)

    settings = from_environ({"APIKEYS_SETTINGS_FILE": relative, "APIKEYS_PEPPERS": f"p1:{PEPPER}"})

    assert settings.max_expiry_days == 30


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ({"APIKEYS_PEPPERS": f"p1:{PEPPER}"}, "peppers come from APIKEYS_PEPPERS_SOURCE"),
        ({"APIKEYS_SETTINGS_FILE": "other.json"}, "may not set 'APIKEYS_SETTINGS_FILE'"),
        ({"HOME": "/"}, "may not set 'HOME'"),
        ({"APIKEYS_ROUTE_MAP": None}, "may not set 'APIKEYS_ROUTE_MAP'"),
        (["APIKEYS_ROUTE_MAP"], "must hold a JSON object"),
    ],
)
def test_a_wrong_file_is_a_settings_error_naming_it(tmp_path, content, says):
    name = _write(tmp_path, content)
    with pytest.raises(SettingsError) as raised:
        from_environ({"APIKEYS_SETTINGS_FILE": name, "APIKEYS_PEPPERS": f"p1:{PEPPER}"})
    assert "APIKEYS_SETTINGS_FILE" in str(raised.value) and says in str(raised.value)
    assert PEPPER not in str(raised.value)


def test_a_missing_or_unreadable_file_is_a_settings_error(tmp_path):
    for name, says in ((str(tmp_path / "absent.json"), "cannot read"), (_write(tmp_path, {}) + "x", "cannot read")):
        with pytest.raises(SettingsError, match=says):
            from_environ({"APIKEYS_SETTINGS_FILE": name, "APIKEYS_PEPPERS": f"p1:{PEPPER}"})
    broken = tmp_path / "broken.json"
    broken.write_text('{"APIKEYS_ROUTE_MAP": ')
    with pytest.raises(SettingsError, match="is not JSON"):
        from_environ({"APIKEYS_SETTINGS_FILE": str(broken), "APIKEYS_PEPPERS": f"p1:{PEPPER}"})
