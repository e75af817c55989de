"""Read one deployment secret (the peppers) from Secrets Manager or SSM, once per container."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=8)
def read(source: str) -> str:
    """``secretsmanager:<id or ARN>`` or ``ssm:<parameter name>``."""
    from botocore.config import Config

    from chalicelib import aws_session
    from chalicelib.errors import SettingsError

    # A cold start reads this on the authorizer's path: stay well inside API Gateway's 29 s.
    config = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 3, "mode": "standard"})
    kind, _, name = source.partition(":")
    if kind == "secretsmanager":
        client = aws_session.client("secretsmanager", config=config)
        return str(client.get_secret_value(SecretId=name)["SecretString"])
    if kind == "ssm":
        response = aws_session.client("ssm", config=config).get_parameter(Name=name, WithDecryption=True)
        return str(response["Parameter"]["Value"])
    raise SettingsError("APIKEYS_PEPPERS_SOURCE reads secretsmanager:<id> or ssm:<name>")
