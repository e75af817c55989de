"""Vault targets: where a new key's one-time secret is written, chosen per key by name.

``APIKEYS_VAULT_TARGETS`` is a JSON list; each entry has a ``name`` (what users pick), a
``kind`` and that kind's settings (see docs/vaults.md). ``VaultRegistry`` is the service's
``Vaults``: it checks a choice, and sends each write, delete or mark to the target named in
the key's stored location. Backends make their clients on first use, so importing this
package reaches no vault and imports neither boto3 nor hvac.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.errors import ValidationError, VaultFailure
from chalicelib.vaults.base import VaultConfigError, VaultTarget
from chalicelib.vaults.openbao import OpenBaoTarget
from chalicelib.vaults.secrets_manager import SecretsManagerTarget
from chalicelib.vaults.ssm import SsmTarget

KINDS: dict[str, type[VaultTarget]] = {
    "secretsmanager": SecretsManagerTarget,
    "ssm": SsmTarget,
    "openbao": OpenBaoTarget,
    "vault": OpenBaoTarget,  # HashiCorp Vault speaks the same KV v2 API
}

__all__ = ["KINDS", "VaultConfigError", "VaultRegistry", "VaultTarget", "build_target"]


def build_target(config: Mapping[str, Any]) -> VaultTarget:
    if not isinstance(config, Mapping):
        raise VaultConfigError("APIKEYS_VAULT_TARGETS: each target is a JSON object")
    kind = config.get("kind")
    if kind not in KINDS:
        raise VaultConfigError(f"vault target {config.get('name')!r}: kind must be one of {', '.join(sorted(KINDS))}")
    return KINDS[str(kind)](config)


class VaultRegistry:
    """The configured targets by name; implements ``chalicelib.keys.service.Vaults``."""

    def __init__(self, targets: Sequence[VaultTarget]) -> None:
        self.targets: dict[str, VaultTarget] = {}
        for target in targets:
            if target.name in self.targets:
                raise VaultConfigError(f"vault target {target.name!r} is configured twice")
            self.targets[target.name] = target

    @classmethod
    def from_settings(cls, configs: Sequence[Mapping[str, Any]]) -> VaultRegistry:
        return cls([build_target(config) for config in configs])

    def choices(self) -> list[dict[str, str]]:
        return [target.choice() for target in self.targets.values()]

    def resolve(self, target: str, path: str | None, community: str, key_id: str) -> dict[str, Any]:
        chosen = self.targets.get(target)
        if chosen is None:
            known = ", ".join(self.targets) or "none configured"
            raise ValidationError("vault.target", f"unknown vault target {target!r}; choose one of: {known}")
        return chosen.resolve(path, community, key_id)

    def put(self, location: Mapping[str, Any], secret: str, token: str) -> dict[str, Any]:
        return self._target_of(location).put(location, secret, token)

    def on_revoke(self, location: Mapping[str, Any]) -> None:
        self._target_of(location).on_revoke(location)

    def discard(self, location: Mapping[str, Any]) -> None:
        if not location:
            return
        self._target_of(location).delete(location)

    def _target_of(self, location: Mapping[str, Any]) -> VaultTarget:
        name = str(location.get("target"))
        target = self.targets.get(name)
        if target is None:
            raise VaultFailure(name, "is no longer configured")
        return target
