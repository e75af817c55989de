"""What an API Gateway authorizer event says, read as an attacker might have shaped it.

The request path is the caller's: API Gateway copies it verbatim into the method ARN (``:``,
``*``, ``?``, ``%`` and all), so an ARN is parsed from the end nobody controls, the left.
``arn:PARTITION:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/path…``: the first five
``:``-separated fields and the first three ``/``-separated fields of the sixth are structure;
everything after is the path, whatever it contains.

Pure standard library: the authorizer imports this on its cold start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_PARTITION = re.compile(r"aws[a-z-]*")
_REGION = re.compile(r"[a-z0-9-]+")
_ACCOUNT = re.compile(r"[0-9]+")
_API_ID = re.compile(r"[A-Za-z0-9]+")
# REST and HTTP API stage names and HTTP API's ``$default``. Not ``*`` (a console test invoke
# may send it): a policy for stage ``*`` would name every stage, and since IAM's ``*`` crosses
# ``/``, ``API/*/GET/intelligence/*`` would also match ``API/prod/GET/x:s/GET/intelligence/``.
_STAGE = re.compile(r"[A-Za-z0-9_-]+|\$default")
_METHOD = re.compile(r"[A-Za-z]+|\*")


class NotAMethodArn(ValueError):
    """Not the ARN of an API Gateway method: the event cannot be answered with a policy."""


@dataclass(frozen=True)
class MethodArn:
    partition: str
    region: str
    account: str
    api_id: str
    stage: str
    method: str  # as API Gateway wrote it: IAM compares it case-sensitively, so must we
    path: str  # "/…" verbatim; "" when the ARN stops at the method

    @classmethod
    def parse(cls, arn: object) -> MethodArn:
        if not isinstance(arn, str):
            raise NotAMethodArn("not a string")
        fields = arn.split(":", 5)
        if len(fields) != 6 or fields[0] != "arn" or fields[2] != "execute-api":
            raise NotAMethodArn("not an execute-api ARN")
        _, partition, _, region, account, resource = fields
        parts = resource.split("/", 3)
        if len(parts) < 3:
            raise NotAMethodArn("no api id, stage and method")
        api_id, stage, method = parts[:3]
        for pattern, value in (
            (_PARTITION, partition), (_REGION, region), (_ACCOUNT, account), (_API_ID, api_id),
            (_STAGE, stage), (_METHOD, method),
        ):  # fmt: skip
            if not pattern.fullmatch(value):
                raise NotAMethodArn("a structural field is malformed")
        path = "/" + parts[3] if len(parts) == 4 else ""
        return cls(partition, region, account, api_id, stage, method, path)

    @property
    def base(self) -> str:
        """``arn:…:API/STAGE``: the only part of the event a policy's resources are built from."""
        return f"arn:{self.partition}:execute-api:{self.region}:{self.account}:{self.api_id}/{self.stage}"


# -- dot segments and encoded separators ----------------------------------------------------------

# A backend may decode and normalise a path into another area than the one the route map matched
# (``/intelligence/%2e%2e/apikeys/x``). Such paths are refused, by the route map and by the
# policy, so the rule is stated on the raw path in terms IAM's wildcards can express too:
# segments ``.`` and ``..`` (also as ``.;…`` / ``..;…``, which Tomcat-style servers read as
# dot segments), and anywhere in the path an encoded dot or separator: percent-encoded once or
# twice (``%2e``, ``%252e``), IIS ``%u`` escapes, overlong UTF-8 leads, or a raw backslash.
# Other escapes are the path's own text: ``%25`` (a percent sign, ``%2523`` is ``%23`` once
# decoded) and ``%00`` reach the route, which refuses what its parameter cannot hold.
_UNSAFE_SEGMENTS = (".", "..")
_UNSAFE_SEGMENT_PREFIXES = (".;", "..;")
UNSAFE_SUBSTRINGS: tuple[str, ...] = tuple(
    variant
    for needle in ("%2e", "%2f", "%5c", "%252e", "%252f", "%255c", "%u", "%c0", "%c1", "%e0%80", "%f0%80", "\\")
    for variant in dict.fromkeys((needle.lower(), needle.upper()))
)


def is_unsafe_path(path: str) -> bool:
    """Whether ``path`` holds a dot segment or an encoded separator (see above)."""
    if any(needle in path for needle in UNSAFE_SUBSTRINGS):
        return True
    for segment in path.split("/"):
        if segment in _UNSAFE_SEGMENTS or segment.startswith(_UNSAFE_SEGMENT_PREFIXES):
            return True
    return False


def unsafe_path_resources(arn_base: str) -> tuple[str, ...]:
    """IAM resources matching every method ARN whose path ``is_unsafe_path`` (for a Deny)."""
    segments = [f"{arn_base}/*/{segment}" for segment in _UNSAFE_SEGMENTS]
    segments += [f"{arn_base}/*/{segment}/*" for segment in _UNSAFE_SEGMENTS]
    segments += [f"{arn_base}/*/{prefix}*" for prefix in _UNSAFE_SEGMENT_PREFIXES]
    return (*segments, *(f"{arn_base}/*{needle}*" for needle in UNSAFE_SUBSTRINGS))


# -- tokens -----------------------------------------------------------------------------------------

_BEARER = re.compile(r"bearer(?:[ \t]+|$)", re.IGNORECASE)


def bearer_token(value: object) -> str | None:
    """The credential of an ``Authorization`` value: ``Bearer`` in any case, or bare; trimmed."""
    if not isinstance(value, str):
        return None
    value = value.strip(" \t\r\n")
    scheme = _BEARER.match(value)
    if scheme is not None:
        value = value[scheme.end() :].lstrip(" \t")
    return value or None


def header(headers: object, name: str) -> str | None:
    """A header's single value, its name in any case; ``None`` when absent or not text."""
    if not isinstance(headers, Mapping):
        return None
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == wanted), None)
    return value if isinstance(value, str) else None


def multi_value_header(headers: object, name: str) -> str | None:
    """The value of a header given once (or repeated identically); ``None`` when ambiguous."""
    if not isinstance(headers, Mapping):
        return None
    wanted = name.lower()
    values: list[Any] = []
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            values += value if isinstance(value, list) else [value]
    if not values or not all(isinstance(value, str) for value in values) or len(set(values)) != 1:
        return None
    return str(values[0])


def identity_source_token(identity_source: object, key_prefix: str) -> str | None:
    """The key among an HTTP API authorizer's identity source values.

    Payload 2.0 sends a list, payload 1.0 the values joined by commas (keys hold none). With one
    value, it is the key. With several (a header and ``$context.routeKey``, say) the key is the
    one value shaped like one, ``Bearer`` or not; two such values are refused as ambiguous.
    """
    if isinstance(identity_source, str):
        values: list[Any] = identity_source.split(",")
    elif isinstance(identity_source, list):
        values = identity_source
    else:
        return None
    tokens = [bearer_token(value) for value in values]
    if len(tokens) == 1:
        return tokens[0]
    keyish = {token for token in tokens if token is not None and token.startswith(f"{key_prefix}_")}
    return keyish.pop() if len(keyish) == 1 else None
