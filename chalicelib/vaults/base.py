"""The interface every vault backend implements, and what they share.

A backend only talks to its vault: it checks a path against that vault's naming rules, writes a
secret with an idempotency token, deletes or marks what it wrote, and turns its client's
errors into ``VaultFailure`` (never with the secret in the message). It owns no key state.

Every secret a backend writes is labelled with the key id it belongs to (a tag, or KV custom
metadata). A backend overwrites or deletes only what carries its key's label, so a path chosen
by a user can never clobber or remove a secret this service did not write for that key.
"""

from __future__ import annotations

import abc
import logging
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chalicelib.errors import SettingsError, ValidationError, VaultFailure

log = logging.getLogger("apikeys.vaults")

PATH_FIELD = "vault.path"
OWNER_TAG = "apikeys:key-id"
COMMUNITY_TAG = "apikeys:community"
STATUS_TAG = "apikeys:status"
ON_REVOKE_CHOICES = ("delete", "mark")
TARGET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# Community ids and key ids become one path segment each; keep them to what every backend takes.
SEGMENT = re.compile(r"[A-Za-z0-9_.-]{1,128}")
COMMON_FIELDS = frozenset({"name", "kind", "on_revoke", "description"})


class VaultConfigError(SettingsError):
    """APIKEYS_VAULT_TARGETS names a field, value or credential this service will not use."""


def revoked_marker(key_id: str, now: datetime | None = None) -> str:
    """What a ``mark``-on-revoke target leaves in place of the secret: plainly not a key."""
    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"REVOKED: API key {key_id} was revoked at {moment}; this value opens nothing."


def check_segments(path: str, *, allowed: re.Pattern[str], allowed_text: str, max_length: int) -> None:
    """The rules every backend shares: characters, length, no empty or dot segments."""
    if len(path) > max_length:
        raise ValidationError(PATH_FIELD, f"must be at most {max_length} characters with the target's prefix")
    if not allowed.fullmatch(path):
        raise ValidationError(PATH_FIELD, f"may contain only {allowed_text}")
    if ".." in path:
        raise ValidationError(PATH_FIELD, "must not contain '..'")
    segments = path.strip("/").split("/")
    if any(segment in ("", ".") for segment in segments):
        raise ValidationError(PATH_FIELD, "must not contain empty or '.' segments")


def relative_path(path: str) -> str:
    """A caller's path is relative to its community's folder in the target."""
    if path.startswith("/"):
        raise ValidationError(PATH_FIELD, "is relative to the community's folder; drop the leading '/'")
    if path.endswith("/"):
        raise ValidationError(PATH_FIELD, "must name a secret, not a folder (no trailing '/')")
    return path


def credential(config: Mapping[str, Any], name: str, *, target: str, required: bool = True) -> str | None:
    """A credential named by ``<name>_env`` (an environment variable) or ``<name>_source``
    (``secretsmanager:<id>`` / ``ssm:<name>``). Inline values are refused: the target list is
    plain configuration that ends up in logs, templates and ``chalice`` config files."""
    if name in config:
        raise VaultConfigError(f"vault target {target!r}: {name} must not be inline; use {name}_env or {name}_source")
    env_name = config.get(f"{name}_env")
    source = config.get(f"{name}_source")
    if env_name:
        value = os.environ.get(str(env_name))
        if not value:
            raise VaultFailure(target, f"the environment variable {env_name} holding its {name} is not set")
        return value
    if source:
        from chalicelib import secret_source

        try:
            return secret_source.read(str(source)).strip()
        except Exception as error:  # noqa: BLE001 - any reason: the target is unusable
            # Where the credential lives is the deployment's business: logged, not answered.
            log.warning(
                "vault target %s: its %s could not be read from %s (%s)", target, name, source, type(error).__name__
            )
            raise VaultFailure(target, f"its {name} could not be read") from error
    if required:
        raise VaultConfigError(f"vault target {target!r}: give {name}_env or {name}_source")
    return None


def reject_unknown(config: Mapping[str, Any], allowed: frozenset[str], target: str) -> None:
    unknown = sorted(set(config) - allowed - COMMON_FIELDS)
    if unknown:
        names = ", ".join(sorted(allowed | COMMON_FIELDS))
        raise VaultConfigError(f"vault target {target!r}: unknown field {unknown[0]!r}; allowed: {names}")


def optional_str(config: Mapping[str, Any], field: str, target: str, default: str | None = None) -> str | None:
    value = config.get(field, default)
    if value is not None and not isinstance(value, str):
        raise VaultConfigError(f"vault target {target!r}: {field} must be a string")
    return value


def prefix_setting(config: Mapping[str, Any], field: str, target: str, default: str) -> str:
    """The kind's own prefix field; ``prefix`` is accepted for every kind as another spelling."""
    return optional_str(config, field, target, optional_str(config, "prefix", target, default)) or ""


def number(config: Mapping[str, Any], field: str, target: str, default: float) -> float:
    value = config.get(field, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise VaultConfigError(f"vault target {target!r}: {field} must be a positive number")
    return float(value)


class VaultTarget(abc.ABC):
    """One configured target: a name users pick, a kind, and where its paths live."""

    kind: str = ""

    def __init__(self, config: Mapping[str, Any]) -> None:
        name = config.get("name")
        if not isinstance(name, str) or not TARGET_NAME.fullmatch(name):
            raise VaultConfigError("vault target name: 1-63 of a-z, 0-9, '-' and '_', starting with a letter or digit")
        self.name = name
        self.configured_kind = str(config.get("kind"))
        on_revoke = config.get("on_revoke", "delete")
        if on_revoke not in ON_REVOKE_CHOICES:
            raise VaultConfigError(f"vault target {name!r}: on_revoke must be 'delete' or 'mark'")
        self.on_revoke_action = str(on_revoke)
        self.description = optional_str(config, "description", name, "") or ""

    # -- what users see -----------------------------------------------------------------------

    def choice(self) -> dict[str, str]:
        choice = {"name": self.name, "kind": self.configured_kind}
        if self.description:
            choice["description"] = self.description
        return choice

    # -- paths --------------------------------------------------------------------------------

    def resolve(self, path: str | None, community: str, key_id: str) -> dict[str, Any]:
        """The planned location: the full path inside the vault, checked against its rules."""
        if not SEGMENT.fullmatch(community) or not SEGMENT.fullmatch(key_id):
            raise ValidationError(PATH_FIELD, "the community id cannot be used in a vault path")
        relative = key_id if path is None else relative_path(path)
        full = self.full_path(community, relative)
        self.check_path(full)
        return {"target": self.name, "kind": self.configured_kind, "path": full, "key_id": key_id}

    @abc.abstractmethod
    def full_path(self, community: str, relative: str) -> str:
        """The target's prefix, the community's folder, then the caller's (or default) path."""

    @abc.abstractmethod
    def check_path(self, path: str) -> None:
        """ValidationError naming ``vault.path`` if the vault would refuse this name."""

    # -- writes -------------------------------------------------------------------------------

    @abc.abstractmethod
    def put(self, location: Mapping[str, Any], secret: str, token: str) -> dict[str, Any]:
        """Write the secret under the key's label; the same token twice writes it once."""

    @abc.abstractmethod
    def delete(self, location: Mapping[str, Any]) -> None:
        """Delete the secret if it carries this key's label; absent is fine."""

    @abc.abstractmethod
    def mark_revoked(self, location: Mapping[str, Any]) -> None:
        """Replace the value with a revoked marker and label it revoked."""

    def on_revoke(self, location: Mapping[str, Any]) -> None:
        if self.on_revoke_action == "mark":
            self.mark_revoked(location)
        else:
            self.delete(location)

    # -- helpers ------------------------------------------------------------------------------

    def failure(self, what: str) -> VaultFailure:
        return VaultFailure(self.name, what)
