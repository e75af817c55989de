"""What publishing metrics costs the authorizer's cold start; prints figures, asserts nothing.

    .venv/bin/python bench/metrics_import.py [--runs N]

Each statement is timed in fresh interpreters (medians; alternated so a busy moment hurts all
alike) against the floor every Lambda here pays anyway, ``import boto3``:

- ``from aws_lambda_powertools import Metrics`` (Powertools' EMF writer), installed for this
  bench only, into ``.local/powertools``, never into the Lambda zip;
- ``import chalicelib.metrics``, the small EMF writer the authorizers use.

The budget is the authorizer's cold-start target (bench/authorizer.py): ``import app`` at most
1.15 × its dependencies, so a metrics library may add at most 15 % of the floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POWERTOOLS_DIR = ROOT / ".local" / "powertools"
POWERTOOLS = "aws-lambda-powertools==3.37.0"
BUDGET = 1.15


def _install_powertools() -> None:
    if (POWERTOOLS_DIR / "aws_lambda_powertools").is_dir():
        return
    # --no-deps: its dependencies (jmespath, typing-extensions) come with boto3 already.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(POWERTOOLS_DIR), POWERTOOLS],
        check=True,
    )


def _seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(POWERTOOLS_DIR)])}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    _install_powertools()
    statements = {
        "floor": "import boto3",
        "powertools": "import boto3; from aws_lambda_powertools import Metrics",
        "ours": "import boto3; import chalicelib.metrics",
    }
    times: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(args.runs):
        for name, statement in statements.items():
            times[name].append(_seconds(statement))
    ms = {name: statistics.median(samples) * 1000 for name, samples in times.items()}
    print(f"imports, median of {args.runs} fresh interpreters each")
    print(f"  import boto3 (the floor)                      {ms['floor']:8.1f} ms")
    for name, label in (("powertools", "+ aws_lambda_powertools.Metrics"), ("ours", "+ chalicelib.metrics")):
        verdict = "within" if ms[name] / ms["floor"] <= BUDGET else "over"
        print(f"  {label:<44}  {ms[name]:8.1f} ms   ratio {ms[name] / ms['floor']:5.2f} ×   ({verdict} ≤ {BUDGET} ×)")
    print(f"  python {sys.version.split()[0]}, cpu_count {os.cpu_count()}, loadavg {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
