"""`chalice package` once per test session, whichever test file or xdist worker asks first.

Packaging a stage takes seconds of CPU and writes a 60 MB zip: the definition checks, the
template checks and the artifact tier all read the same outputs, so the first caller packages
(under a file lock other workers wait on) and the rest reuse the directory. The outputs live in
the session's shared folder (tests/worker_share.py), which the controller removes at the end.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests import worker_share


def _folder() -> Path:
    shared = os.environ.get(worker_share.ENV)
    base = Path(shared) if shared else Path(tempfile.gettempdir()) / f"apikeys-packages-{os.getpid()}"
    folder = base / "packages"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def packaged(stage: str, pkg_format: str) -> Path:
    """The directory `chalice package --stage STAGE --pkg-format FORMAT` wrote (with the stage's
    merged resources, as the README's Deploying section packages it)."""
    from tests.deploy.test_package import package_into

    folder = _folder()
    out = folder / f"{stage}-{pkg_format}"
    with _locked(folder / f"{stage}-{pkg_format}.lock"):
        if not (out / ".done").exists():
            shutil.rmtree(out, ignore_errors=True)
            package_into(stage, pkg_format, out)
            (out / ".done").touch()
    return out
