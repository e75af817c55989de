"""AWS Secrets Manager: one secret per key, named ``<name_prefix><community>/<path>``.

The vault write is ``CreateSecret`` with ``ClientRequestToken`` = the service's token, so a
retried call (botocore's own, or ours) writes one version. A name that already exists is
written again only if its tag says it belongs to this key (a retry that completes a key).
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

NAME_CHARACTERS = re.compile(r"[A-Za-z0-9/_+=.@-]+")
NAME_MAX = 512
# Secrets Manager appends "-" and six random characters to make the ARN; a name ending the
# same way makes partial-ARN lookups ambiguous, and AWS advises against it.
ARN_SUFFIX_LOOKALIKE = re.compile(r"-[A-Za-z0-9]{6}$")


class SecretsManagerTarget(AwsTarget):
    kind = "secretsmanager"
    service = "secretsmanager"
    FIELDS = AWS_FIELDS | {"name_prefix", "prefix", "kms_key_id"}

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        reject_unknown(config, self.FIELDS, self.name)
        self.name_prefix = prefix_setting(config, "name_prefix", self.name, "apikeys/") or ""
        self.kms_key_id = optional_str(config, "kms_key_id", self.name)
        if self.name_prefix and not NAME_CHARACTERS.fullmatch(self.name_prefix):
            raise VaultConfigError(f"vault target {self.name!r}: name_prefix has characters Secrets Manager refuses")

    def full_path(self, community: str, relative: str) -> str:
        return f"{self.name_prefix}{community}/{relative}"

    def check_path(self, path: str) -> None:
        check_segments(
            path,
            allowed=NAME_CHARACTERS,
            allowed_text="letters, digits and / _ + = . @ -",
            max_length=NAME_MAX,
        )
        if ARN_SUFFIX_LOOKALIKE.search(path):
            raise ValidationError(PATH_FIELD, "must not end with '-' and six characters (Secrets Manager's ARN suffix)")

    # -- writes -------------------------------------------------------------------------------

    def put(self, location: Mapping[str, Any], secret: str, token: str) -> dict[str, Any]:
        client, name, key_id = self.client(), str(location["path"]), str(location["key_id"])
        extra = {"KmsKeyId": self.kms_key_id} if self.kms_key_id else {}
        created = self.call(
            "CreateSecret",
            lambda: client.create_secret(
                Name=name,
                SecretString=secret,
                ClientRequestToken=token,
                Description=f"API key {key_id}",
                Tags=[{"Key": OWNER_TAG, "Value": key_id}],
                **extra,
            ),
            tolerate=("ResourceExistsException",),
        )
        if created is None:
            created = self._write_again(name, key_id, secret, token)
        return {**location, "arn": created["ARN"], "version": created["VersionId"]}

    def _write_again(self, name: str, key_id: str, secret: str, token: str) -> dict[str, Any]:
        client = self.client()
        described = self.call("DescribeSecret", lambda: client.describe_secret(SecretId=name)) or {}
        if not owned_by(described.get("Tags"), key_id):
            raise self.failure(f"{name} already holds a secret that was not written for this key")
        if described.get("DeletedDate"):
            self.call("RestoreSecret", lambda: client.restore_secret(SecretId=name))
        written = self.call(
            "PutSecretValue",
            lambda: client.put_secret_value(SecretId=name, SecretString=secret, ClientRequestToken=token),
        )
        assert written is not None
        return dict(written)

    def delete(self, location: Mapping[str, Any]) -> None:
        client, name = self.client(), str(location.get("arn") or location["path"])
        if not self._owned(name, str(location["key_id"])):
            return
        self.call(
            "DeleteSecret",
            lambda: client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True),
            tolerate=("ResourceNotFoundException",),
        )

    def mark_revoked(self, location: Mapping[str, Any]) -> None:
        client, name, key_id = self.client(), str(location.get("arn") or location["path"]), str(location["key_id"])
        if not self._owned(name, key_id):
            return
        marker = revoked_marker(key_id)
        self.call("PutSecretValue", lambda: client.put_secret_value(SecretId=name, SecretString=marker))
        self.call(
            "TagResource", lambda: client.tag_resource(SecretId=name, Tags=[{"Key": STATUS_TAG, "Value": "revoked"}])
        )

    def _owned(self, name: str, key_id: str) -> bool:
        client = self.client()
        described = self.call(
            "DescribeSecret", lambda: client.describe_secret(SecretId=name), tolerate=("ResourceNotFoundException",)
        )
        if described is None:
            return False
        if not owned_by(described.get("Tags"), key_id):
            log.warning("vault target %s: %s is not labelled with key %s; left alone", self.name, name, key_id)
            return False
        return True
