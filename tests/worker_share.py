"""Figures that session-wide plugins gather in pytest-xdist workers, handed to the controller.

The controller makes a folder and names it in the environment before its workers start (they
inherit it); each worker writes what it gathered there at the end of its session, and the
controller reads every worker's file before it reports. Without xdist nothing is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

ENV = "APIKEYS_TEST_SHARE"


def is_worker(config: Any) -> bool:
    return hasattr(config, "workerinput")


_made_here: list[str] = []


def prepare(config: Any) -> None:
    if not is_worker(config) and ENV not in os.environ:
        os.environ[ENV] = tempfile.mkdtemp(prefix="apikeys-tests-")
        _made_here.append(os.environ[ENV])


def remove(config: Any) -> None:
    """The controller's last act: the folder it made (and what workers packaged there) goes."""
    if not is_worker(config):
        for folder in _made_here:
            shutil.rmtree(folder, ignore_errors=True)
        _made_here.clear()


def write(config: Any, name: str, payload: Any) -> None:
    folder = os.environ.get(ENV)
    if folder and is_worker(config):
        worker = config.workerinput.get("workerid", "w")
        (Path(folder) / f"{name}-{worker}.json").write_text(json.dumps(payload))


def read_all(name: str) -> list[Any]:
    folder = os.environ.get(ENV)
    if not folder:
        return []
    return [json.loads(path.read_text()) for path in sorted(Path(folder).glob(f"{name}-*.json"))]
