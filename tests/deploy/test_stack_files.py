"""``python -m stack`` on a copy of ``.chalice/``: ``--check`` passes on the committed files and
fails, naming them, on a stale or a missing one; writing brings them back; a new stage in the
config file gets its files; a stage the generator cannot render stops it with the reason."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stack.config import CHALICE_DIR, ROOT
from stack.files import FILES


@pytest.fixture
def chalice_dir(tmp_path: Path) -> Path:
    copy = tmp_path / ".chalice"
    copy.mkdir()
    for path in CHALICE_DIR.glob("*.json"):  # the config, the plans and the generated files
        shutil.copy(path, copy)
    return copy


def run(chalice_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stack", "--chalice-dir", str(chalice_dir), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_check_passes_on_fresh_files_and_fails_on_a_stale_or_missing_one(chalice_dir):
    assert run(chalice_dir, "--check").returncode == 0
    policy = chalice_dir / "policy-dev.json"
    committed = policy.read_text()
    document = json.loads(committed)
    document["Statement"][0]["Resource"] = "*"
    policy.write_text(json.dumps(document, indent=2) + "\n")
    (chalice_dir / "resources-prod.tf.json").unlink()
    stale = run(chalice_dir, "--check")
    assert stale.returncode == 1
    assert "policy-dev.json, resources-prod.tf.json" in stale.stderr
    assert policy.read_text() != committed, "--check writes nothing"
    written = run(chalice_dir)
    assert written.returncode == 0
    assert written.stdout.count("wrote ") == 2
    assert policy.read_text() == committed
    assert run(chalice_dir, "--check").returncode == 0


def test_a_new_stage_gets_its_files(chalice_dir):
    config = json.loads((chalice_dir / "config.json").read_text())
    qa = json.loads(json.dumps(config["stages"]["dev"]).replace("apikeys-dev", "apikeys-qa").replace("/dev/", "/qa/"))
    config["stages"]["qa"] = qa
    (chalice_dir / "config.json").write_text(json.dumps(config))
    stale = run(chalice_dir, "--check")
    assert stale.returncode == 1
    for name in FILES:
        assert name.format(stage="qa") in stale.stderr
    assert "-dev" not in stale.stderr and "-prod" not in stale.stderr
    assert run(chalice_dir).returncode == 0
    tables = json.loads((chalice_dir / "resources-qa.json").read_text())["Resources"]["ApiKeyTable"]
    assert tables["Properties"]["TableName"] == "apikeys-qa-keys"


def test_a_stage_that_offers_undeclared_usage_plans_is_refused(chalice_dir):
    config = json.loads((chalice_dir / "config.json").read_text())
    env = config["stages"]["dev"]["environment_variables"]
    env["APIKEYS_USAGE_PLANS"] = env["APIKEYS_USAGE_PLANS"].replace("apikeys-dev-premium", "apikeys-dev-gold")
    (chalice_dir / "config.json").write_text(json.dumps(config))
    before = {path.name: path.read_text() for path in chalice_dir.glob("*.json")}
    refused = run(chalice_dir)
    assert refused.returncode == 2
    assert "stage dev: APIKEYS_USAGE_PLANS must name" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert {path.name: path.read_text() for path in chalice_dir.glob("*.json")} == before, "nothing half-written"
