"""OpenBao / HashiCorp Vault KV version 2, through hvac: ``<mount>/data/<path_prefix><community>/<path>``.

Writes use check-and-set: the first write of a path claims it (custom metadata names the key)
and writes with ``cas=0``, so it never replaces a secret that was already there; writing again
(a retry completing the key) needs the claim to be this key's and ``cas`` = the current version.
TLS verification is on unless the target says ``"verify": false``, which is logged.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlparse

from chalicelib.errors import VaultFailure
from chalicelib.vaults.base import (
    OWNER_TAG,
    STATUS_TAG,
    VaultConfigError,
    VaultTarget,
    check_segments,
    credential,
    log,
    number,
    optional_str,
    prefix_setting,
    reject_unknown,
    revoked_marker,
)

PATH_CHARACTERS = re.compile(r"[A-Za-z0-9/_+=.@-]+")
PATH_MAX = 512
AUTH_METHODS = ("token", "approle")
T = TypeVar("T")


class OpenBaoTarget(VaultTarget):
    kind = "openbao"
    FIELDS = frozenset({"address", "mount", "path_prefix", "prefix", "namespace", "auth", "verify", "timeout_seconds"})

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        reject_unknown(config, self.FIELDS, self.name)
        address = optional_str(config, "address", self.name)
        parsed = urlparse(address or "")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise VaultConfigError(f"vault target {self.name!r}: address must be an http(s) URL")
        self.address = str(address).rstrip("/")
        self.mount = (optional_str(config, "mount", self.name, "secret") or "secret").strip("/")
        self.path_prefix = prefix_setting(config, "path_prefix", self.name, "apikeys/") or ""
        self.namespace = optional_str(config, "namespace", self.name)
        self.timeout_seconds = number(config, "timeout_seconds", self.name, 5)
        self.verify = _verify_setting(config, self.name)
        self.auth = _auth_setting(config, self.name)
        if self.path_prefix and (not PATH_CHARACTERS.fullmatch(self.path_prefix) or self.path_prefix.startswith("/")):
            raise VaultConfigError(f"vault target {self.name!r}: path_prefix must be a relative KV path")
        if self.verify is False:
            log.warning(
                'vault target %s: TLS certificate verification is OFF for %s ("verify": false in its configuration)',
                self.name,
                self.address,
            )
        if parsed.scheme == "http" and not _is_loopback(parsed.hostname):
            log.warning(
                "vault target %s: %s is plain http; secrets would cross the network unencrypted",
                self.name,
                self.address,
            )
        self._client: Any | None = None

    def full_path(self, community: str, relative: str) -> str:
        return f"{self.path_prefix}{community}/{relative}"

    def check_path(self, path: str) -> None:
        check_segments(
            path, allowed=PATH_CHARACTERS, allowed_text="letters, digits and / _ + = . @ -", max_length=PATH_MAX
        )

    # -- client -------------------------------------------------------------------------------

    def client(self) -> Any:
        if self._client is None:
            import hvac

            client = hvac.Client(
                url=self.address, verify=self.verify, timeout=self.timeout_seconds, namespace=self.namespace
            )
            if self.auth["method"] == "token":
                client.token = credential(self.auth, "token", target=self.name)
            else:
                role_id = self.auth.get("role_id") or credential(self.auth, "role_id", target=self.name)
                secret_id = credential(self.auth, "secret_id", target=self.name)
                mount = str(self.auth.get("mount", "approle"))
                self._run("AppRole login", lambda: client.auth.approle.login(role_id, secret_id, mount_point=mount))
            self._client = client
        return self._client

    def call(self, action: str, run: Callable[[Any], T]) -> T:
        """One KV call; a refused token (an expired AppRole login) logs in once more."""
        try:
            return self._run(action, lambda: run(self.client()))
        except _Refused:
            if self.auth["method"] != "approle":
                raise
        self._client = None
        return self._run(action, lambda: run(self.client()))

    def _run(self, action: str, run: Callable[[], T]) -> T:
        import hvac.exceptions
        import requests

        try:
            return run()
        except hvac.exceptions.Forbidden as error:
            raise _Refused(self.name, f"{action} was refused: permission denied (Forbidden)") from error
        except hvac.exceptions.VaultError as error:
            raise self.failure(f"{action} was refused ({type(error).__name__})") from error
        # The answer names the target and the kind of failure; the address is the deployment's
        # internal network, for the operator's log only.
        except requests.exceptions.SSLError as error:
            log.warning("vault target %s: %s: TLS verification of %s failed", self.name, action, self.address)
            raise self.failure(f"{action}: TLS verification failed (SSLError)") from error
        except requests.exceptions.Timeout as error:
            log.warning("vault target %s: %s: %s timed out", self.name, action, self.address)
            raise self.failure(f"{action} timed out ({type(error).__name__})") from error
        except requests.exceptions.RequestException as error:
            log.warning(
                "vault target %s: %s: could not reach %s (%s)", self.name, action, self.address, type(error).__name__
            )
            raise self.failure(f"{action}: could not reach the vault ({type(error).__name__})") from error

    # -- writes -------------------------------------------------------------------------------

    def put(self, location: Mapping[str, Any], secret: str, token: str) -> dict[str, Any]:
        path, key_id = str(location["path"]), str(location["key_id"])
        metadata = self._metadata(path)
        if metadata is None:
            # Claim the path first: if we stop after this, discard finds our label and cleans up.
            self._set_labels(path, {OWNER_TAG: key_id})
            cas = 0
        else:
            if (metadata.get("custom_metadata") or {}).get(OWNER_TAG) != key_id:
                raise self.failure(f"{self.mount}/{path} already holds a secret that was not written for this key")
            cas = int(metadata.get("current_version") or 0)
        written = self.call(
            "KV write",
            lambda c: c.secrets.kv.v2.create_or_update_secret(
                path=path, secret={"api_key": secret, "key_id": key_id}, cas=cas, mount_point=self.mount
            ),
        )
        return {**location, "mount": self.mount, "version": int(written["data"]["version"])}

    def delete(self, location: Mapping[str, Any]) -> None:
        path = str(location["path"])
        if self._owned(path, str(location["key_id"])) is not None:
            self.call(
                "KV delete",
                lambda c: c.secrets.kv.v2.delete_metadata_and_all_versions(path=path, mount_point=self.mount),
            )

    def mark_revoked(self, location: Mapping[str, Any]) -> None:
        path, key_id = str(location["path"]), str(location["key_id"])
        metadata = self._owned(path, key_id)
        if metadata is None:
            return
        current = int(metadata.get("current_version") or 0)
        self.call(
            "KV write",
            lambda c: c.secrets.kv.v2.create_or_update_secret(
                path=path,
                secret={"revoked": revoked_marker(key_id), "key_id": key_id},
                cas=current,
                mount_point=self.mount,
            ),
        )
        # KV keeps every version; the revoked key's value goes, the marker stays.
        if current:
            self.call(
                "KV destroy",
                lambda c: c.secrets.kv.v2.destroy_secret_versions(
                    path=path, versions=list(range(1, current + 1)), mount_point=self.mount
                ),
            )
        self._set_labels(path, {OWNER_TAG: key_id, STATUS_TAG: "revoked"})

    # -- helpers ------------------------------------------------------------------------------

    def _metadata(self, path: str) -> dict[str, Any] | None:
        import hvac.exceptions

        def read(client: Any) -> dict[str, Any] | None:
            try:
                return dict(client.secrets.kv.v2.read_secret_metadata(path=path, mount_point=self.mount)["data"])
            except hvac.exceptions.InvalidPath:
                return None

        return self.call("KV metadata read", read)

    def _owned(self, path: str, key_id: str) -> dict[str, Any] | None:
        metadata = self._metadata(path)
        if metadata is None:
            return None
        if (metadata.get("custom_metadata") or {}).get(OWNER_TAG) != key_id:
            log.warning("vault target %s: %s is not labelled with key %s; left alone", self.name, path, key_id)
            return None
        return metadata

    def _set_labels(self, path: str, labels: dict[str, str]) -> None:
        self.call(
            "KV metadata write",
            lambda c: c.secrets.kv.v2.update_metadata(path=path, custom_metadata=labels, mount_point=self.mount),
        )


class _Refused(VaultFailure):
    """The vault said 403: the token lacks a policy, or an AppRole login expired."""


def _verify_setting(config: Mapping[str, Any], target: str) -> bool | str:
    verify = config.get("verify", True)
    if isinstance(verify, bool):
        return verify
    if isinstance(verify, str) and verify.strip() and verify.lower() not in ("true", "false", "0", "1", "yes", "no"):
        return verify  # a CA bundle path
    raise VaultConfigError(f"vault target {target!r}: verify must be true, false or the path of a CA bundle")


def _auth_setting(config: Mapping[str, Any], target: str) -> dict[str, Any]:
    auth = config.get("auth")
    if not isinstance(auth, dict) or auth.get("method") not in AUTH_METHODS:
        raise VaultConfigError(f'vault target {target!r}: auth must be {{"method": "token"|"approle", ...}}')
    allowed = {
        "token": {"method", "token_env", "token_source"},
        "approle": {"method", "mount", "role_id", "role_id_env", "role_id_source", "secret_id_env", "secret_id_source"},
    }
    for name in ("token", "secret_id"):
        if name in auth:
            raise VaultConfigError(
                f"vault target {target!r}: auth.{name} must not be inline; use {name}_env or {name}_source"
            )
    unknown = sorted(set(auth) - allowed[auth["method"]])
    if unknown:
        raise VaultConfigError(f"vault target {target!r}: unknown field auth.{unknown[0]}")
    return dict(auth)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
