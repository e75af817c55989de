"""A deployed stage as ``.chalice/config.json`` declares it: its environment (as Chalice merges
it), the ``Settings`` and PynamoDB models its functions would build, and the names and tags its
resources share. Every other module of the package reads a stage through ``Stage``.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.settings import Settings
    from chalicelib.storage.models import Models

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / ".chalice"
LOCAL_STAGE = "local"  # `chalice local` and scripts/local.py: nothing is deployed for it
PROTECTED_STAGES = frozenset({"prod"})  # deletion protection on; dev tables and pools may be thrown away
# Settings refuse to build without a pepper; the deployed functions read theirs at run time.
_GENERATOR_PEPPER = "generator:" + base64.b64encode(b"\0" * 32).decode()


class StackError(Exception):
    """A stage's settings that cannot be deployed as declared."""


def load_config(chalice_dir: Path = CHALICE_DIR) -> dict[str, Any]:
    return json.loads((chalice_dir / "config.json").read_text())  # type: ignore[no-any-return]


def deployed_stages(config: dict[str, Any]) -> list[str]:
    return [name for name in config["stages"] if name != LOCAL_STAGE]


def stage_environment(config: dict[str, Any], stage: str) -> dict[str, str]:
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}


def function_environment(config: dict[str, Any], stage: str, function: str) -> dict[str, str]:
    """One function's environment as Chalice merges it: top level, then stage, then the function's own."""
    own = config["stages"][stage].get("lambda_functions", {}).get(function, {})
    return {**stage_environment(config, stage), **own.get("environment_variables", {})}


def stage_setting(config: dict[str, Any], stage: str, name: str, default: Any) -> Any:
    """A Chalice setting (``xray``, ``lambda_memory_size``...): the stage's, else the top level's."""
    return config["stages"][stage].get(name, config.get(name, default))


def function_setting(config: dict[str, Any], stage: str, function: str, name: str, default: Any) -> Any:
    """A Chalice setting of one function: its own, else the stage's, else the top level's."""
    own = config["stages"][stage].get("lambda_functions", {}).get(function, {})
    return own.get(name, stage_setting(config, stage, name, default))


def snake(name: str) -> str:
    """``KeyEvent`` → ``key_event``: a Terraform resource name from a CloudFormation-style one."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def camel(name: str) -> str:
    """``keys-throttledrequests`` → ``KeysThrottledrequests``: a CloudFormation logical id."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name))


@dataclass
class Stage:
    """One deployed stage of ``config`` (``.chalice/config.json``, read from ``chalice_dir``)."""

    config: dict[str, Any]
    name: str
    chalice_dir: Path = CHALICE_DIR

    @property
    def app(self) -> str:
        return str(self.config["app_name"])

    @property
    def prefix(self) -> str:
        """``<app>-<stage>``: the start of every name the stage's resources take."""
        return f"{self.app}-{self.name}"

    @property
    def protected(self) -> bool:
        return self.name in PROTECTED_STAGES

    @property
    def tags(self) -> dict[str, str]:
        return {"app": self.app, "stage": self.name}

    @property
    def cfn_tags(self) -> list[dict[str, str]]:
        return [{"Key": key, "Value": value} for key, value in self.tags.items()]

    @property
    def own(self) -> dict[str, Any]:
        """The stage's own block of the config file."""
        return self.config["stages"][self.name]  # type: ignore[no-any-return]

    @cached_property
    def environment(self) -> dict[str, str]:
        return stage_environment(self.config, self.name)

    def function_environment(self, function: str) -> dict[str, str]:
        return function_environment(self.config, self.name, function)

    def setting(self, name: str, default: Any) -> Any:
        return stage_setting(self.config, self.name, name, default)

    @property
    def xray(self) -> bool:
        """X-Ray is a stage option (``"xray": true``): Chalice traces the functions, the packaged
        stack traces the API's stage too."""
        return bool(self.setting("xray", False))

    @cached_property
    def settings(self) -> Settings:
        """The Settings the stage's Lambda functions would build, minus the pepper (read at run time)."""
        from chalicelib.settings import from_environ

        env = {k: v for k, v in self.environment.items() if k != "APIKEYS_PEPPERS_SOURCE"}
        return from_environ({**env, "APIKEYS_PEPPERS": _GENERATOR_PEPPER})

    @cached_property
    def models(self) -> Models:
        from chalicelib.storage.models import models_for

        return models_for(self.settings)

    @property
    def table_names(self) -> list[str]:
        return [model.Meta.table_name for model in self.models.all]

    def read_json(self, name: str) -> Any:
        """A file beside config.json (``usage-plans.json``)."""
        return json.loads((self.chalice_dir / name).read_text())


def stages(chalice_dir: Path = CHALICE_DIR) -> list[Stage]:
    """Every deployed stage of the config file, in its order."""
    config = load_config(chalice_dir)
    return [Stage(config, name, chalice_dir) for name in deployed_stages(config)]
