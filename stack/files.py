"""The files ``python -m stack`` writes under ``.chalice/``, per deployed stage:

- ``resources-<stage>.json``: the CloudFormation merge template (``documents.cloudformation``);
- ``resources-<stage>.tf.json``: the Terraform resources (``documents.terraform``);
- ``resources-<stage>_override.tf.json``: the Terraform override file (``documents.terraform_overrides``);
- ``policy-<stage>.json``: the API handler's IAM policy (and every function's without its own);
- ``policy-authorizer-<stage>.json``: the smaller policy of both authorizers.

``--check`` writes nothing and fails when a committed file differs from what would be written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stack import documents, policies
from stack.config import CHALICE_DIR, StackError, Stage, stages

FILES: dict[str, Callable[[Stage], dict[str, Any]]] = {
    "resources-{stage}.json": documents.cloudformation,
    "resources-{stage}.tf.json": documents.terraform,
    "resources-{stage}_override.tf.json": documents.terraform_overrides,
    "policy-{stage}.json": policies.api_policy,
    "policy-authorizer-{stage}.json": policies.authorizer_policy,
}


def expected_files(chalice_dir: Path = CHALICE_DIR) -> dict[Path, str]:
    """Every generated file's path and text, from the config file of ``chalice_dir``."""
    files: dict[Path, str] = {}
    for stage in stages(chalice_dir):
        for name, document in FILES.items():
            files[chalice_dir / name.format(stage=stage.name)] = json.dumps(document(stage), indent=2) + "\n"
    return files


def stale_files(chalice_dir: Path = CHALICE_DIR) -> list[Path]:
    """The files that are missing or differ from what would be written."""
    return [path for path, text in expected_files(chalice_dir).items() if not path.exists() or path.read_text() != text]


def write_files(chalice_dir: Path = CHALICE_DIR) -> list[Path]:
    """Write the stale files; returns them."""
    expected = expected_files(chalice_dir)
    written = [path for path, text in expected.items() if not path.exists() or path.read_text() != text]
    for path in written:
        path.write_text(expected[path])
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a file differs from what would be written")
    parser.add_argument(
        "--chalice-dir", type=Path, default=CHALICE_DIR, help="the folder of config.json and the files (.chalice)"
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_files(args.chalice_dir)
            if stale:
                names = ", ".join(path.name for path in stale)
                print(f"out of date (run python -m stack): {names}", file=sys.stderr)
                return 1
            return 0
        for path in write_files(args.chalice_dir):
            print(f"wrote {os.path.relpath(path)}")
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
