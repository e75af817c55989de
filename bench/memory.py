"""Peak resident memory of each function as deployed; prints figures, asserts nothing.

    .venv/bin/python bench/memory.py [--stage dev] [--runs 20]

A fresh interpreter per function, with the stage's environment (pepper from Secrets Manager),
as Lambda runs it (``bench/deployed_run.py``): the standalone authorizer after its first
decision and after ``runs`` more (keys used for the first time in the container, so the
last-use write too); the API handler after its first create and after ``runs`` more. The
scheduled functions import what the API handler imports (PynamoDB, the store) and read less.
Beside each, the memory size the stage configures in ``.chalice/config.json``.

How the sizes were chosen: Lambda's "Max Memory Used" is this peak plus its runtime's own (some
tens of MiB), so every function fits 128 MB-256 MB. But Lambda gives CPU in proportion to memory
(one vCPU at 1,769 MB), and a cold start (imports, the first client) is CPU-bound, while a warm
decision mostly waits on DynamoDB: at 512 MB a decision's duration is a small part of what it
costs (``bench/cost.py``), and halving it would save cents per million while slowing every cold
start in front of a request. So the authorizers and the API handler keep 512 MB; the scheduled
functions, whom nobody waits on, take 256 MB.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.deployed_run import measure  # noqa: E402 - needs the project root on the path


def configured_memory(stage: str) -> dict[str, int]:
    """Each function's ``lambda_memory_size``: its own, else the stage's, else Chalice's 128."""
    from stack.config import function_setting, load_config
    from stack.functions import lambda_functions

    config = load_config()
    return {name: int(function_setting(config, stage, name, "lambda_memory_size", 128)) for name in lambda_functions()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    reports = measure(args.stage, args.runs)
    memory = configured_memory(args.stage)
    authorizer, api = reports["authorizer"], reports["api"]
    print(f"peak RSS (VmHWM) of a fresh interpreter, stage {args.stage}'s settings")
    print(f"  authorizer  after its first decision {authorizer['rss_mib']:6.1f} MiB, "
          f"after {args.runs + 1} more {authorizer['rss_mib_after']:6.1f} MiB   "
          f"configured {memory['gateway_authorizer']} MB (app_authorizer {memory['app_authorizer']} MB)")  # fmt: skip
    print(f"  API handler after its first create   {api['rss_mib']:6.1f} MiB, "
          f"after {args.runs + 1} more {api['rss_mib_after']:6.1f} MiB   "
          f"configured {memory['api_handler']} MB")  # fmt: skip
    print(f"  configured per function: {json.dumps(memory)}")
    print(json.dumps({"python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
