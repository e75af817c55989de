"""IAM's reading of an authorizer's policy, for the tests that judge one as API Gateway would."""

from __future__ import annotations

import re
from typing import Any

INVOKE_ACTIONS = ("execute-api:Invoke", "execute-api:*", "*")


def iam_matches(pattern: str, arn: str) -> bool:
    """A resource pattern against an ARN: ``*`` is any run of characters (``/`` too), ``?`` exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn, re.DOTALL) is not None


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def iam_allows(policy: dict[str, Any], arn: str) -> bool:
    """Whether the policy lets the caller invoke the method ARN: of the statements about invoking
    it, an explicit Deny wins, otherwise some Allow must match."""
    effects = {
        statement["Effect"]
        for statement in policy["Statement"]
        if any(action in INVOKE_ACTIONS for action in _listed(statement["Action"]))
        and any(iam_matches(resource, arn) for resource in _listed(statement["Resource"]))
    }
    return "Allow" in effects and "Deny" not in effects
