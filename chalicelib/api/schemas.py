"""Every request body and response view of the API, declared once.

The bodies are pydantic models: the routes' validation is theirs (``parse``, then the request
builders below), and ``chalicelib.api.openapi`` takes the document's schemas from the same
declarations, views included. The rules, and the words a refusal says, live beside each field:

- ``Says`` gives a field the project's message for a value of the wrong shape (strict mode: no
  ``"1"`` for a number, no ``1`` for a string, no ``"true"`` for a boolean);
- the checks pydantic cannot express (control characters, trimming, names against a catalog)
  raise ``refuse(...)`` with their message;
- ``parse`` turns the first refusal into the ``ValidationError`` the routes answer 400 with,
  naming the field (``vault.target``, ``[3].token``); no pydantic message reaches a caller.

Imported only where a body is read or the document built: pydantic never loads in the
authorizers' cold start (``tests/unit/test_schemas.py`` checks it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any, ClassVar, Literal, NotRequired

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    TypeAdapter,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic import ValidationError as PydanticError
from pydantic_core import PydanticCustomError, core_schema
from typing_extensions import TypedDict

from chalicelib.authorizer import addresses
from chalicelib.errors import ValidationError
from chalicelib.keys import leaks, rotation
from chalicelib.keys.service import CreateRequest, RotateRequest
from chalicelib.params import text_problem
from chalicelib.roles.catalog import BUILTIN_ROLES, PERMISSIONS
from chalicelib.roles.custom import ROLE_NAME, RoleRequest

NAME_MAX = 100
DESCRIPTION_MAX = 1000
EXPIRY_PRESETS_DAYS = (30, 180, 365)
# Every body this API takes is a flat object of short fields, a few levels deep at most (a
# vault object, a list of roles): these bounds are far above any valid body and far below what
# would make the parser recurse or allocate without limit.
BODY_MAX_BYTES = 64 * 1024
BODY_MAX_DEPTH = 32
# An unterminated string runs to the end (the closing quote is optional), so no input makes the
# scan backtrack: one pass, whatever the quotes and backslashes.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")

KEY_ID_PATTERN = r"^[0-9A-Za-z]{16}$"
# Text as the document states it: no control characters. The check also refuses format
# characters and lone surrogates, which JSON Schema patterns cannot name portably.
PLAIN_TEXT_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"
_NAME_PATTERN = (
    r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f\u115f\u1160\u3164\uffa0\u2800]"
    r"[^\u0000-\u001f\u007f-\u009f]*$"
)

_REFUSED = "apikeys"  # the error type of our own refusals: their message is the project's


def refuse(message: str, **where: str) -> PydanticCustomError:
    """A refusal in the project's words. ``child`` names a field below the one being checked;
    ``field`` names the field outright (an unknown field is named by itself, as it always was)."""
    return PydanticCustomError(_REFUSED, "{message}", {"message": message, **where})


# -- reading a body --------------------------------------------------------------------------------


def parse_json(raw: bytes | str, *, max_bytes: int = BODY_MAX_BYTES, max_depth: int = BODY_MAX_DEPTH) -> Any:
    """JSON text → value, refusing (400 naming ``body``) what is too large or nested too deeply
    before the parser sees it: Python's parser recurses once per level, and a few thousand
    ``[`` raise RecursionError, not ValueError."""
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > max_bytes:
        raise ValidationError("body", f"must be at most {max_bytes} bytes")
    if json_depth(data) > max_depth:
        raise ValidationError("body", f"must not nest arrays and objects more than {max_depth} levels deep")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationError("body", "not valid JSON") from None


def json_depth(data: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in JSON text, brackets inside strings not counted.
    Linear, no recursion; on text that is not JSON the figure is a bound the parser then refuses."""
    depth = deepest = 0
    for bracket in _JSON_STRING.sub(b'""', data).translate(None, _NOT_BRACKET):
        if bracket in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def parse(shape: Any, body: Any, **context: Any) -> Any:
    """``body`` (parsed JSON) as ``shape`` (a model, or an annotated type), or the
    ``ValidationError`` naming the first field it gets wrong. ``context`` reaches the checks that
    depend on the request (``known_roles``: the community's roles; ``max_days``: the deployment's
    maximum expiry)."""
    try:
        return _adapter(shape).validate_python(body, strict=True, context=context)
    except PydanticError as error:
        raise _translated(error) from None


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(shape: Any) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(shape)
    if adapter is None:
        adapter = _ADAPTERS[shape] = TypeAdapter(shape)
    return adapter


def _translated(error: PydanticError) -> ValidationError:
    """The first refusal as the project's ``ValidationError``. A whole body's refusal (its shape,
    its fields' names, a rule across fields) comes alone: its checks run before any field's, or
    after all of them passed. The fields' come in the order declared, each with its path."""
    first = error.errors()[0]
    context = first.get("ctx") or {}
    if "field" in context:
        return ValidationError(context["field"], context["message"])
    path = [*first["loc"], *([context["child"]] if "child" in context else [])]
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    if first["type"] == _REFUSED:
        return ValidationError(field or "body", context["message"])
    # A refusal of pydantic's own that no field's rules turned into ours: still named, never in
    # pydantic's words (tests/unit/test_schemas.py looks for any).
    return ValidationError(field or "body", "is not valid")


# -- rules of a field ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Says:
    """The message for a value of the wrong shape, and (``absent``, if another) for a missing one."""

    message: str
    absent: str | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_wrap_validator_function(
            partial(_in_our_words, message=self.message), handler(source)
        )


# The checks below run on every value, never while the models are built: what runs at import
# only is wiring (mutation testing switches a mutant on after the models are built).


def _in_our_words(value: Any, inner: ValidatorFunctionWrapHandler, *, message: str) -> Any:
    try:
        return inner(value)
    except PydanticError:
        raise refuse(message) from None


def _plain_text(value: str, max_length: int, *, trimmed: bool) -> str:
    problem = text_problem(value, max_length, trimmed=trimmed)
    if problem:
        raise refuse(problem)
    return value.strip() if trimmed else value


def _name(value: str) -> str:
    return _plain_text(value, NAME_MAX, trimmed=True)


def _description(value: str) -> str:
    return _plain_text(value, DESCRIPTION_MAX, trimmed=False)


def _reason(value: str | None) -> str | None:
    return None if value is None else _plain_text(value, DESCRIPTION_MAX, trimmed=True)


def _or_empty(value: Any) -> Any:
    return "" if value is None else value


# A name: trimmed, not blank. A description: null means empty, kept as given.
Name = Annotated[
    str,
    Says("must be a string", absent="is required"),
    AfterValidator(_name),
    Field(min_length=1, max_length=NAME_MAX, json_schema_extra={"pattern": _NAME_PATTERN}),
]
Description = Annotated[
    str,
    Says("must be a string"),
    AfterValidator(_description),
    BeforeValidator(_or_empty),
    Field(max_length=DESCRIPTION_MAX, json_schema_extra={"type": ["string", "null"], "pattern": PLAIN_TEXT_PATTERN}),
]
Reason = Annotated[
    str | None,
    Says("must be a string"),
    AfterValidator(_reason),
    Field(json_schema_extra={"maxLength": DESCRIPTION_MAX, "pattern": PLAIN_TEXT_PATTERN}),
]
Reveal = Annotated[bool, Says("must be true or false")]


def _distinct_known(value: list[str], noun: str, known: Mapping[str, Any], *, list_known: bool) -> list[str]:
    """A non-empty list of distinct names, each one of ``known``."""
    if not value:
        raise refuse(f"must name at least one {noun}")
    if len(set(value)) != len(value):
        raise refuse(f"must not repeat a {noun}")
    unknown = [name for name in value if name not in known]
    if unknown:
        suffix = f"; known: {', '.join(known)}" if list_known else ""
        raise refuse(f"unknown {noun} {unknown[0]!r}{suffix}")
    return value


def _key_roles(value: list[str], info: ValidationInfo) -> list[str]:
    """Roles of the community (``known_roles`` in the context), the built-in ones by default."""
    known = (info.context or {}).get("known_roles", BUILTIN_ROLES)
    return _distinct_known(value, "role", known, list_known=False)


def _permissions(value: list[str]) -> list[str]:
    return _distinct_known(value, "permission", PERMISSIONS, list_known=True)


# The community's roles (built-in and custom): the document lists the built-in ones.
KeyRoles = Annotated[
    list[str],
    Says("must be a list of role names"),
    AfterValidator(_key_roles),
    Field(
        min_length=1,
        json_schema_extra={"uniqueItems": True, "items": {"type": "string", "enum": sorted(BUILTIN_ROLES)}},
    ),
]
Permissions = Annotated[
    list[str],
    Says("must be a list of permission names"),
    AfterValidator(_permissions),
    Field(
        min_length=1, json_schema_extra={"uniqueItems": True, "items": {"type": "string", "enum": list(PERMISSIONS)}}
    ),
]


def _preset(value: Any, inner: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """Null, or one of the presets within the deployment's maximum expiry."""
    max_days = (info.context or {}).get("max_days", max(EXPIRY_PRESETS_DAYS))
    allowed = [days for days in EXPIRY_PRESETS_DAYS if days <= max_days]
    refusal = refuse(f"must be one of {', '.join(str(days) for days in allowed)}")
    if value is not None and type(value) is not int:
        raise refusal  # a Literal matches by equality: 30.0 == 30, and strict mode lets it by
    try:
        days = inner(value)
    except PydanticError:
        raise refusal from None
    if days is not None and days not in allowed:
        raise refusal
    return days


ExpiresInDays = Annotated[
    Literal[EXPIRY_PRESETS_DAYS] | None,  # type: ignore[valid-type]
    WrapValidator(_preset),
]
ExpiresAt = Annotated[
    str | None, Says("must be an ISO 8601 date-time string"), Field(json_schema_extra={"format": "date-time"})
]


def _allowed_cidrs(value: list[str] | None) -> list[str]:
    """The networks in their canonical form; null or an empty list: any address."""
    try:
        return addresses.networks(value or [])
    except ValueError as error:
        raise refuse(str(error)) from None


AllowedCidrs = Annotated[
    list[str] | None,
    Says('must be a list of networks in CIDR form, e.g. ["203.0.113.0/24", "2001:db8::/32"], or null'),
    AfterValidator(_allowed_cidrs),
    Field(
        description=(
            f"the IPv4 and IPv6 networks (CIDR, at most {addresses.MAX_NETWORKS}) the key may be used from, "
            "as API Gateway reports the caller's address; empty or null: any address"
        ),
        json_schema_extra={"maxItems": addresses.MAX_NETWORKS, "uniqueItems": True},
    ),
]
PlanChoice = Annotated[
    str | None,
    Says("must be a plan name or null"),
    Field(description="a name from GET /plans; null for no plan"),
]


# -- bodies ----------------------------------------------------------------------------------------


class Body(BaseModel):
    """A JSON object with exactly these fields: its shape and its fields' names are checked
    before any field, in the project's words."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    NOT_AN_OBJECT: ClassVar[str] = "must be a JSON object"
    NOT_AN_OBJECT_NAMES: ClassVar[dict[str, str]] = {}  # the field a refusal of the shape names, if not this one
    WHERE: ClassVar[str] = "body"

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise refuse(cls.NOT_AN_OBJECT, **cls.NOT_AN_OBJECT_NAMES)
        allowed = sorted(cls.model_fields)
        unknown = sorted(set(data) - set(allowed))
        if unknown and cls.model_config.get("extra") == "forbid":
            raise refuse(f"unknown field in {cls.WHERE}; allowed: {', '.join(allowed)}", field=unknown[0])
        for name, field in cls.model_fields.items():
            if field.is_required() and name not in data:
                says = next((m for m in field.metadata if isinstance(m, Says)), None)
                raise refuse((says.absent or says.message) if says else "is required", child=name)
        return data


class VaultChoice(Body):
    """Where the key's secret goes: a target of GET /vaults, and a path under it."""

    NOT_AN_OBJECT: ClassVar[str] = "must be an object with target and optional path"
    WHERE: ClassVar[str] = "vault"
    target: Annotated[str, Field(min_length=1), Says("must name a vault target")]
    path: Annotated[str, Field(min_length=1), Says("must be a non-empty string")] | None = None


class CreateKey(Body):
    reveal: Annotated[Reveal, Field(description="false needs a vault")] = True
    vault: VaultChoice | None = None
    name: Name
    description: Description = ""
    roles: KeyRoles
    expires_at: ExpiresAt = None
    expires_in_days: ExpiresInDays = None
    plan: PlanChoice = None
    allowed_cidrs: AllowedCidrs = None

    @model_validator(mode="after")
    def _kept(self) -> CreateKey:
        if not self.reveal and self.vault is None:
            raise refuse("false needs a vault: the secret would be lost", field="reveal")
        return self


def _edit_schema(schema: dict[str, Any]) -> None:
    """An edit changes what it names: a field left out keeps its value, it has no default."""
    for field in schema["properties"].values():
        del field["default"]  # every field of an edit is optional: pydantic documents a default
    schema["minProperties"] = 1


class Edit(Body):
    """A body that changes the fields it names, at least one."""

    model_config = ConfigDict(json_schema_extra=_edit_schema)

    @model_validator(mode="before")
    @classmethod
    def _something(cls, data: Any) -> Any:
        if data == {}:
            *names, last = cls.model_fields
            raise refuse(f"{', '.join(names)} or {last} must be given")
        return data


class EditKey(Edit):
    name: Name = ""
    description: Description = ""
    roles: KeyRoles = []
    plan: PlanChoice = None
    allowed_cidrs: AllowedCidrs = None


class RevokeKey(Body):
    reason: Reason = None


class RotateKey(Body):
    grace: Annotated[
        Literal[tuple(rotation.GRACE_PERIODS)],  # type: ignore[valid-type]
        Says(f"must be one of {', '.join(rotation.GRACE_PERIODS)}"),
        Field(description="How long the old key keeps working"),
    ]
    reveal: Annotated[Reveal, Field(description="false needs a key with a vault")] = True


_ROLE_NAME_RULE = "must be 2-48 characters: lowercase letters, digits, '_', starting with a letter"


class CreateRole(Body):
    name: Annotated[str, Field(pattern=f"^{ROLE_NAME.pattern}$"), Says(_ROLE_NAME_RULE)]
    description: Description = ""
    permissions: Permissions


class EditRole(Edit):
    description: Description = ""
    permissions: Permissions = []


class LeakToken(Body):
    """One token of a GitHub secret scanning report; fields GitHub may add are ignored."""

    model_config = ConfigDict(extra="ignore")
    NOT_AN_OBJECT: ClassVar[str] = "must be a string"  # [i].token: its token is what is missing
    NOT_AN_OBJECT_NAMES: ClassVar[dict[str, str]] = {"child": "token"}
    token: Annotated[str, Says("must be a string")]
    type: Annotated[str, Says("must be a string")] = ""
    url: Annotated[str, Says("must be a string")] = ""
    source: Annotated[str, Says("must be a string")] = ""


def _report(value: Any) -> Any:
    if not isinstance(value, list):
        raise refuse("must be a JSON list of reported tokens")
    if len(value) > leaks.MAX_TOKENS:
        raise refuse(f"at most {leaks.MAX_TOKENS} tokens per report")
    return value


LeakReport = Annotated[list[LeakToken], BeforeValidator(_report), Field(max_length=leaks.MAX_TOKENS)]


# -- what the services take from a body -----------------------------------------------------------


def create_request(body: Any, *, known_roles: Mapping[str, Any], now: datetime, max_days: int) -> CreateRequest:
    """A create body, its expiry resolved against ``now`` (the plan is the usage plans' to choose)."""
    key: CreateKey = parse(CreateKey, body, known_roles=known_roles, max_days=max_days)
    return CreateRequest(
        name=key.name,
        description=key.description,
        roles=tuple(key.roles),
        expires_at=_expiry(key, now, max_days),
        vault_target=key.vault.target if key.vault else None,
        vault_path=key.vault.path if key.vault else None,
        reveal=key.reveal,
        allowed_cidrs=tuple(key.allowed_cidrs or ()),
    )


def _expiry(key: CreateKey, now: datetime, max_days: int) -> datetime | None:
    if key.expires_at is not None and key.expires_in_days is not None:
        raise ValidationError("expires_at", "give expires_at or expires_in_days, not both")
    if key.expires_in_days is not None:
        return now + timedelta(days=key.expires_in_days)
    if key.expires_at is None:
        return None
    try:
        moment = datetime.fromisoformat(key.expires_at)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # OverflowError: an offset that pushes year 1 or 9999 out of range in UTC.
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise ValidationError("expires_at", "must be an ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z") from error
    if moment <= now:
        raise ValidationError("expires_at", "must be in the future")
    if moment > now + timedelta(days=max_days):
        raise ValidationError("expires_at", f"must be at most {max_days} days from now")
    return moment


def edit_request(body: Any, *, known_roles: Mapping[str, Any]) -> dict[str, Any]:
    """The fields an edit body gives, checked (the plan is the usage plans' to choose)."""
    edit: EditKey = parse(EditKey, body, known_roles=known_roles)
    return {name: getattr(edit, name) for name in EditKey.model_fields if name in edit.model_fields_set - {"plan"}}


def revoke_request(body: Any) -> str | None:
    """The reason a revoke body gives, if any; no body at all is no reason."""
    return None if body is None else parse(RevokeKey, body).reason


def rotate_request(body: Any) -> RotateRequest:
    rotate: RotateKey = parse(RotateKey, body)
    return RotateRequest(grace=rotate.grace, reveal=rotate.reveal)


def leak_report(raw_body: bytes) -> list[dict[str, str]]:
    """The tokens of a GitHub secret scanning report, each with its four fields."""
    # A report is a list of flat objects: two levels. Its size is bounded by the token count.
    report = parse_json(raw_body, max_bytes=leaks.REPORT_MAX_BYTES, max_depth=2)
    entries: list[LeakToken] = parse(LeakReport, report)
    return [entry.model_dump() for entry in entries]


def role_request(body: Any) -> RoleRequest:
    role: CreateRole = parse(CreateRole, body)
    return RoleRequest(name=role.name, description=role.description, permissions=role.permissions)


def role_edit(body: Any) -> dict[str, Any]:
    """The fields a role edit body gives, checked."""
    edit: EditRole = parse(EditRole, body)
    return {field: getattr(edit, field) for field in sorted(edit.model_fields_set)}


# -- views -----------------------------------------------------------------------------------------
# What the routes answer. TypedDicts: a field that may be left out is NotRequired, one that may be
# null says so.


class Error(TypedDict):
    Code: str
    Message: str
    # The key is named Field; its annotation's Field is pydantic's (a class body binds no name here).
    Field: NotRequired[
        Annotated[
            str,
            Field(
                description="The request field the error is about, when there is one: a body field "
                "(dotted when nested: vault.target), a path or query parameter, or a header (Idempotency-Key). "
                "Message starts with it too, followed by ': '."
            ),
        ]
    ]


class Unauthorized(TypedDict):
    message: NotRequired[str]
    Message: NotRequired[str]


class Role(TypedDict):
    name: str
    description: str
    permissions: list[str]
    builtin: NotRequired[bool]


class RoleList(TypedDict):
    items: list[Role]


class ApiKey(TypedDict):
    """A key as callers see it: never the secret, never its hash"""

    id: Annotated[str, Field(pattern=KEY_ID_PATTERN)]
    community: NotRequired[str]
    name: str
    description: str
    roles: list[str]
    status: Literal["active", "revoked", "expired"]
    created_at: datetime
    created_by: NotRequired[str]
    revoked_at: NotRequired[datetime | None]
    revoked_by: NotRequired[str | None]
    created_by_name: NotRequired[Annotated[str, Field(description="the name of the person in created_by")]]
    revoked_by_name: NotRequired[Annotated[str, Field(description="the name of the person in revoked_by")]]
    expires_at: NotRequired[datetime | None]
    last_used_at: NotRequired[datetime | None]
    hint: str
    vault: NotRequired[dict[str, Any]]
    rotated_from: NotRequired[str | None]
    rotated_to: NotRequired[str | None]
    grace_until: NotRequired[datetime | None]
    plan: NotRequired[Annotated[str | None, Field(description="the key's usage plan")]]
    allowed_cidrs: NotRequired[
        Annotated[list[str], Field(description="the networks the key may be used from; empty: any address")]
    ]


class KeyList(TypedDict):
    items: list[ApiKey]
    next_cursor: NextCursor


class Created(TypedDict):
    api_key: ApiKey
    secret: NotRequired[Annotated[str, Field(description="The key's text, shown this once")]]
    replayed: NotRequired[bool]


class EditedKey(ApiKey):
    """The key after the edit, and the fields whose value it changed: only those are written and
    recorded in the audit trail. An empty list means the edit changed nothing, and nothing was
    written or recorded."""

    changed: list[Literal["name", "description", "roles", "plan", "allowed_cidrs"]]


class CommunityGrant(TypedDict):
    community: str
    roles: list[str]
    permissions: list[str]


class Caller(TypedDict):
    """A key (id, community, roles, permissions) or a person (user, name, communities)"""

    id: NotRequired[str]
    community: NotRequired[str]
    roles: NotRequired[list[str]]
    permissions: NotRequired[list[str]]
    user: NotRequired[Annotated[str, Field(description="user:<sub> of a person signed in")]]
    name: NotRequired[str]
    communities: NotRequired[list[CommunityGrant]]


class VaultTarget(TypedDict):
    name: NotRequired[str]
    kind: NotRequired[str]


class VaultChoices(TypedDict):
    items: list[VaultTarget]


class Rotated(TypedDict):
    api_key: ApiKey
    previous: ApiKey
    secret: NotRequired[Annotated[str, Field(description="The new key's text, shown this once")]]


class Event(TypedDict):
    """Who did what when; never a secret or a hash"""

    id: str
    key_id: Annotated[str, Field(description="the key's id, or role:<name> for a role change")]
    action: str
    actor: Annotated[str, Field(description="key:<id>, user:<sub> (a person), operator, ...")]
    actor_name: NotRequired[Annotated[str, Field(description="the name of the person in actor")]]
    at: datetime
    details: dict[str, Any]


# A cursor is signed: its text means nothing to a caller, and it reads only the listing it came from.
NextCursor = Annotated[
    str | None,
    Field(
        description="Opaque: pass it as cursor, unchanged, with the same filters, for the next page; null on the last"
    ),
]


class EventList(TypedDict):
    items: list[Event]
    next_cursor: NextCursor


class RoleHolder(TypedDict):
    id: NotRequired[str]
    name: NotRequired[str]


class RoleInUse(Error):
    keys: NotRequired[list[RoleHolder]]


class LeakLabel(TypedDict):
    token_raw: NotRequired[str]
    token_type: NotRequired[str]
    label: NotRequired[Literal[leaks.TRUE_POSITIVE, leaks.FALSE_POSITIVE]]  # type: ignore[valid-type]


class Quota(TypedDict):
    limit: NotRequired[int]
    period: NotRequired[str | None]


class Plan(TypedDict):
    name: str
    description: str
    rate_limit: Annotated[float | None, Field(description="steady requests per second")]
    burst_limit: Annotated[float | None, Field(description="requests allowed at once")]
    quota: Quota | None


class PlanList(TypedDict):
    items: list[Plan]


class UsageDay(TypedDict):
    date: Annotated[str, Field(json_schema_extra={"format": "date"})]
    requests: int


class Usage(TypedDict):
    plan: str | None
    days: list[UsageDay]
    quota: Quota | None
    quota_remaining: int | None


# The components of the document, by name: bodies as validated, views as answered.
BODIES: dict[str, Any] = {
    "CreateKey": CreateKey,
    "EditKey": EditKey,
    "RevokeKey": RevokeKey,
    "RotateKey": RotateKey,
    "CreateRole": CreateRole,
    "EditRole": EditRole,
    "LeakReport": LeakReport,
}
VIEWS: dict[str, Any] = {
    "Error": Error,
    "Unauthorized": Unauthorized,
    "Role": Role,
    "RoleList": RoleList,
    "ApiKey": ApiKey,
    "KeyList": KeyList,
    "Created": Created,
    "EditedKey": EditedKey,
    "Caller": Caller,
    "VaultChoices": VaultChoices,
    "Rotated": Rotated,
    "Event": Event,
    "EventList": EventList,
    "RoleInUse": RoleInUse,
    "LeakLabels": list[LeakLabel],
    "Plan": Plan,
    "PlanList": PlanList,
    "Usage": Usage,
}
