"""Every function of every deployed stage gets an environment Lambda accepts: 4 KB in all, keys
and values counted. Larger settings go in the stage's settings file (``APIKEYS_SETTINGS_FILE``),
which ships in the package with the code."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from stack.config import deployed_stages, function_environment, load_config
from tests.conftest import PEPPER

LAMBDA_ENVIRONMENT_LIMIT = 4 * 1024  # bytes, keys and values of all a function's variables
CONFIG = load_config()


def lambda_environment_size(env: dict[str, str]) -> int:
    return sum(len(name.encode()) + len(value.encode()) for name, value in env.items())


def _functions(config: dict[str, Any], stage: str) -> list[str]:
    """Every function the app deploys (the API's is ``api_handler``), and any the stage configures."""
    from app import app

    names = {"api_handler", *(f.name for f in app.pure_lambda_functions), *(e.name for e in app.event_sources)}
    names |= {a.name for a in app.builtin_auth_handlers}
    return sorted(names | set(config["stages"][stage].get("lambda_functions", {})))


CASES = [(stage, function) for stage in deployed_stages(CONFIG) for function in _functions(CONFIG, stage)]


@pytest.mark.parametrize(("stage", "function"), CASES)
def test_each_function_environment_fits_in_lambdas_4_kb(stage, function):
    """As Chalice merges it: top level, stage, then the function's own ``environment_variables``."""
    env = function_environment(CONFIG, stage, function)
    size = lambda_environment_size(env)
    largest = max(env, key=lambda name: len(env[name]))
    assert size <= LAMBDA_ENVIRONMENT_LIMIT, (
        f"{stage}/{function}: {size} bytes of environment, Lambda takes {LAMBDA_ENVIRONMENT_LIMIT}; "
        f"move large settings ({largest}: {len(env[largest])} bytes) to the stage's APIKEYS_SETTINGS_FILE"
    )


def test_the_measure_counts_names_and_values_in_bytes():
    """What would go wrong: a stage's route map grown to a couple of hundred routes."""
    assert lambda_environment_size({"APIKEYS_X": "é"}) == len("APIKEYS_X") + 2
    env = function_environment(CONFIG, "dev", "gateway_authorizer")
    grown = {**env, "APIKEYS_ROUTE_MAP": json.dumps({f"GET /reports/{n}/*": "intelligence:read" for n in range(120)})}
    assert lambda_environment_size(env) <= LAMBDA_ENVIRONMENT_LIMIT < lambda_environment_size(grown)


@pytest.mark.parametrize(("stage", "function"), CASES)
def test_a_stage_settings_file_ships_in_the_package_and_reads(stage, function):
    """``chalice package`` ships chalicelib/ (and app.py) only: a file named elsewhere is absent on Lambda."""
    from chalicelib.settings import PROJECT_ROOT, from_environ

    env = function_environment(CONFIG, stage, function)
    name = env.get("APIKEYS_SETTINGS_FILE")
    if name is not None:
        assert not os.path.isabs(name) and os.path.normpath(name).startswith("chalicelib" + os.sep), name
        assert os.path.isfile(os.path.join(PROJECT_ROOT, name)), name
    test_env = {k: v for k, v in env.items() if k != "APIKEYS_PEPPERS_SOURCE"}
    assert from_environ({**test_env, "APIKEYS_PEPPERS": f"p1:{PEPPER}"}).keys_table.startswith(f"apikeys-{stage}-")
