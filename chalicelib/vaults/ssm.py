"""AWS SSM Parameter Store: one SecureString parameter per key, ``<path_prefix><community>/<path>``.

Parameter Store has no idempotency token, so the write is deterministic instead: the first
write refuses to overwrite (``Overwrite=False``); a name that exists is written again only if
its tag says it belongs to this key, with the same value for the same token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import ValidationError
from chalicelib.vaults.aws import AWS_FIELDS, AwsTarget, owned_by
from chalicelib.vaults.base import (
    OWNER_TAG,
    PATH_FIELD,
    STATUS_TAG,
    VaultConfigError,
    check_segments,
    log,
    optional_str,
    prefix_setting,
    reject_unknown,
    revoked_marker,
)

NAME_CHARACTERS = re.compile(r"[A-Za-z0-9_./-]+")
NAME_MAX = 1011
DEPTH_MAX = 15
RESERVED = re.compile(r"/?(aws|ssm)", re.IGNORECASE)


class SsmTarget(AwsTarget):
    kind = "ssm"
    service = "ssm"
    FIELDS = AWS_FIELDS | {"path_prefix", "prefix", "kms_key_id"}

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        reject_unknown(config, self.FIELDS, self.name)
        self.path_prefix = prefix_setting(config, "path_prefix", self.name, "/apikeys/") or "/"
        self.kms_key_id = optional_str(config, "kms_key_id", self.name)
        if not self.path_prefix.startswith("/") or not self.path_prefix.endswith("/"):
            raise VaultConfigError(f"vault target {self.name!r}: path_prefix must start and end with '/'")
        if not NAME_CHARACTERS.fullmatch(self.path_prefix) or RESERVED.match(self.path_prefix):
            raise VaultConfigError(f"vault target {self.name!r}: path_prefix is not a name Parameter Store accepts")

    def full_path(self, community: str, relative: str) -> str:
        return f"{self.path_prefix}{community}/{relative}"

    def check_path(self, path: str) -> None:
        check_segments(path, allowed=NAME_CHARACTERS, allowed_text="letters, digits and _ . - /", max_length=NAME_MAX)
        if path.count("/") > DEPTH_MAX:
            raise ValidationError(PATH_FIELD, f"must be at most {DEPTH_MAX} levels deep (Parameter Store's limit)")
        if RESERVED.match(path):
            raise ValidationError(PATH_FIELD, "must not start with 'aws' or 'ssm' (reserved by Parameter Store)")

    # -- writes -------------------------------------------------------------------------------

    def put(self, location: Mapping[str, Any], secret: str, token: str) -> dict[str, Any]:
        client, name, key_id = self.client(), str(location["path"]), str(location["key_id"])
        common = {"Name": name, "Value": secret, "Type": "SecureString", **self._kms()}
        written = self.call(
            "PutParameter",
            lambda: client.put_parameter(
                **common, Description=f"API key {key_id}", Overwrite=False, Tags=[{"Key": OWNER_TAG, "Value": key_id}]
            ),
            tolerate=("ParameterAlreadyExists",),
        )
        if written is None:
            if not self._owned(name, key_id):
                raise self.failure(f"{name} already holds a parameter that was not written for this key")
            written = self.call("PutParameter", lambda: client.put_parameter(**common, Overwrite=True))
        assert written is not None
        return {**location, "version": written["Version"]}

    def delete(self, location: Mapping[str, Any]) -> None:
        client, name = self.client(), str(location["path"])
        if self._owned(name, str(location["key_id"])):
            self.call("DeleteParameter", lambda: client.delete_parameter(Name=name), tolerate=("ParameterNotFound",))

    def mark_revoked(self, location: Mapping[str, Any]) -> None:
        client, name, key_id = self.client(), str(location["path"]), str(location["key_id"])
        if not self._owned(name, key_id):
            return
        marker = revoked_marker(key_id)
        self.call(
            "PutParameter",
            lambda: client.put_parameter(Name=name, Value=marker, Type="SecureString", Overwrite=True, **self._kms()),
        )
        self.call(
            "AddTagsToResource",
            lambda: client.add_tags_to_resource(
                ResourceType="Parameter", ResourceId=name, Tags=[{"Key": STATUS_TAG, "Value": "revoked"}]
            ),
        )

    def _kms(self) -> dict[str, str]:
        return {"KeyId": self.kms_key_id} if self.kms_key_id else {}

    def _owned(self, name: str, key_id: str) -> bool:
        client = self.client()
        tags = self.call(
            "ListTagsForResource",
            lambda: client.list_tags_for_resource(ResourceType="Parameter", ResourceId=name),
            tolerate=("InvalidResourceId", "ParameterNotFound"),
        )
        if tags is None:
            return False
        if not owned_by(tags.get("TagList"), key_id):
            log.warning("vault target %s: %s is not labelled with key %s; left alone", self.name, name, key_id)
            return False
        return True
