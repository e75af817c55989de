"""What the two AWS backends share: a lazily made client with short timeouts, and errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from chalicelib.vaults.base import VaultTarget, number, optional_str

AWS_FIELDS = frozenset({"region", "endpoint_url", "timeout_seconds", "max_attempts"})
T = TypeVar("T")


class AwsTarget(VaultTarget):
    service = ""

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        # Region and endpoint come the standard way (AWS_DEFAULT_REGION, AWS_ENDPOINT_URL)
        # unless the target names its own, e.g. a vault in another region.
        self.region = optional_str(config, "region", self.name)
        self.endpoint_url = optional_str(config, "endpoint_url", self.name)
        self.timeout_seconds = number(config, "timeout_seconds", self.name, 5)
        self.max_attempts = int(number(config, "max_attempts", self.name, 2))
        self._client: Any | None = None

    def client(self) -> Any:
        if self._client is None:
            from botocore.config import Config

            from chalicelib import aws_session

            config = Config(
                connect_timeout=self.timeout_seconds,
                read_timeout=self.timeout_seconds,
                retries={"max_attempts": self.max_attempts, "mode": "standard"},
            )
            self._client = aws_session.client(
                self.service, region_name=self.region, endpoint_url=self.endpoint_url, config=config
            )
        return self._client

    def call(self, action: str, run: Callable[[], T], *, tolerate: tuple[str, ...] = ()) -> T | None:
        """Run one client call; None if AWS answered one of the ``tolerate`` error codes. Other
        errors become VaultFailure naming the action and the AWS error code only (AWS messages
        may quote request parameters)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return run()
        except ClientError as error:
            if error_code(error) in tolerate:
                return None
            raise self.failure(f"{action} was refused ({error_code(error)})") from error
        except BotoCoreError as error:
            raise self.failure(f"{action} did not complete: {_transport(error)}") from error


def error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(error).__name__))


def _transport(error: Exception) -> str:
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

    if isinstance(error, (ReadTimeoutError, ConnectTimeoutError)):
        return f"timed out ({type(error).__name__})"
    if isinstance(error, EndpointConnectionError):
        return "could not connect (EndpointConnectionError)"
    return type(error).__name__


def owned_by(tags: Any, key_id: str) -> bool:
    return any(tag.get("Key") == "apikeys:key-id" and tag.get("Value") == key_id for tag in tags or [])
