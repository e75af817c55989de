"""The OpenAPI 3 document of the API.

Its schemas are ``chalicelib.api.schemas``' declarations, the very ones the routes validate
bodies with, so the document cannot drift from what the routes accept; the paths and operations
are written here. ``tests/security/test_openapi.py`` checks that every route of the app is
described and nothing else is. Built on the first ``GET /openapi.json`` only: pydantic stays out
of every other cold start.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from chalicelib import params
from chalicelib.api import schemas
from chalicelib.plans.usage_plans import USAGE_DAYS_DEFAULT, USAGE_DAYS_MAX


@dataclass(frozen=True)
class Deployment:
    """What the document says that a deployment decides: its usage plans, the plan a key gets when
    its create names none, and its maximum expiry."""

    plans: tuple[str, ...] = ()
    default_plan: str | None = None
    max_expiry_days: int = max(schemas.EXPIRY_PRESETS_DAYS)


TITLE = "API keys"
VERSION = "1.0.0"
_REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref("Error"))}


_UNAUTHORIZED = {
    "description": "No key, or a malformed, unknown, revoked or expired one",
    "content": _json(_ref("Unauthorized")),
}
_SECURED_ERRORS = {
    "401": _UNAUTHORIZED,
    "403": _error(
        "The key lacks apikeys:manage, would grant roles it does not hold, or names a usage plan without "
        "apikeys:plans; Field names the field that asks for it (roles, plan, permissions), if one does"
    ),
    "404": _error("No such key in this community, or another community's path"),
    "503": _error(
        "The key store is unavailable; nothing was changed, unless the message says what a create left (a key "
        "pending, its secret in the vault) and what removes it"
    ),
}
_BAD_FIELD = _error("A field is wrong; Field names it (and Message starts with it), nothing was written")
_BAD_PARAMETER = _error("A parameter is wrong; Field names it (and Message starts with it)")
# https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/
_IDEMPOTENCY_DRAFT = "draft-ietf-httpapi-idempotency-key-header"
_GATEWAY_ERROR = _error("API Gateway refused or could not be reached; the message names the plan and the call")


class _Schemas(GenerateJsonSchema):
    """Pydantic's JSON Schema, without a title on every field."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _components() -> dict[str, Any]:
    inputs = [(name, "validation", TypeAdapter(shape).core_schema) for name, shape in schemas.BODIES.items()]
    inputs += [(name, "serialization", TypeAdapter(shape).core_schema) for name, shape in schemas.VIEWS.items()]
    by_input, definitions = _Schemas(ref_template=_REF).generate_definitions(inputs)  # type: ignore[arg-type]
    found: dict[str, Any] = {str(name): schema for name, schema in definitions.items()}
    for (name, _mode), schema in by_input.items():
        if schema != _ref(name):  # a named class is among the definitions already
            found[name] = schema
    return {
        "securitySchemes": {
            "apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "Authorization: Bearer apk_… (the key's full text)",
            }
        },
        "schemas": dict(sorted(found.items())),
    }


_COMMUNITY_PARAM = {
    "name": "community",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": f"^{params.COMMUNITY_PATTERN.pattern}$"},
}
_KEY_PARAM = {
    "name": "key_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": schemas.KEY_ID_PATTERN},
}
_ROLE_PARAM = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_LIMIT_PARAM = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": params.LIMIT_MAX},
}
_CURSOR_PARAM = {
    "name": "cursor",
    "in": "query",
    "schema": {"type": "string"},
    "description": "next_cursor of the previous page, as given: opaque, and valid only with the same filters",
}
_FROM_CREATED = {"community": "$request.path.community", "key_id": "$response.body#/api_key/id"}
_KEY_LINKS = {
    "GetKey": {"operationId": "get_key", "parameters": _FROM_CREATED},
    "EditKey": {"operationId": "edit_key", "parameters": _FROM_CREATED},
    "RevokeKey": {"operationId": "revoke_key", "parameters": _FROM_CREATED},
}


def operations() -> dict[tuple[str, str], dict[str, Any]]:
    base = "/communities/{community}/apikeys"
    one = base + "/{key_id}"
    roles = "/communities/{community}/roles"
    secured: list[dict[str, list[str]]] = [{"apiKey": []}]
    roles_list = _json(_ref("RoleList"))
    return {
        ("/", "GET"): {
            "operationId": "console",
            "summary": "The web console",
            "security": [],
            "responses": {
                "200": {"description": "The console page", "content": {"text/html": {"schema": {"type": "string"}}}}
            },
        },
        ("/console/{name}", "GET"): {
            "operationId": "console_asset",
            "summary": "A script or style sheet of the console",
            "security": [],
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "v", "in": "query", "schema": {"type": "string"}, "description": "content hash"},
            ],
            "responses": {
                "200": {
                    "description": "The asset",
                    "content": {
                        "text/javascript": {"schema": {"type": "string"}},
                        "text/css": {"schema": {"type": "string"}},
                    },
                },
                "404": _error("No such asset"),
            },
        },
        ("/openapi.json", "GET"): {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3 document", "content": _json({"type": "object"})}},
        },
        ("/roles", "GET"): {
            "operationId": "roles",
            "summary": "The role catalog",
            "security": secured,
            "responses": {
                "200": {
                    "description": "Roles",
                    "content": _json(
                        {"type": "object", "properties": {"items": {"type": "array", "items": _ref("Role")}}}
                    ),
                },
                "401": _UNAUTHORIZED,
            },
        },
        ("/vaults", "GET"): {
            "operationId": "vaults",
            "summary": "The vault targets a caller may choose; never credentials",
            "security": secured,
            "responses": {
                "200": {"description": "Vault targets", "content": _json(_ref("VaultChoices"))},
                "401": _UNAUTHORIZED,
            },
        },
        ("/whoami", "GET"): {
            "operationId": "whoami",
            "summary": "The calling key: id, community, roles, permissions",
            "security": secured,
            "responses": {
                "200": {"description": "The caller", "content": _json(_ref("Caller"))},
                "401": _UNAUTHORIZED,
            },
        },
        (base, "GET"): {
            "operationId": "list_keys",
            "summary": "List a community's keys, newest first",
            "security": secured,
            "parameters": [
                _COMMUNITY_PARAM,
                {
                    "name": "search",
                    "in": "query",
                    "schema": {"type": "string", "maxLength": params.SEARCH_MAX, "pattern": schemas.PLAIN_TEXT_PATTERN},
                },
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"type": "string", "enum": list(params.LIST_STATUSES)},
                },
                _LIMIT_PARAM,
                _CURSOR_PARAM,
            ],
            "responses": {
                "200": {"description": "A page of keys", "content": _json(_ref("KeyList"))},
                "400": _BAD_PARAMETER,
                **_SECURED_ERRORS,
            },
        },
        (base, "POST"): {
            "operationId": "create_key",
            "summary": "Create a key; its secret is returned once",
            "security": secured,
            "parameters": [
                _COMMUNITY_PARAM,
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "description": "Makes a retry safe: the same key with the same body, within 24 hours, answers the "
                    "first key again (replayed, without its secret), never a second key. Scoped to the community and "
                    "the caller. As in the IETF draft The Idempotency-Key HTTP Header Field "
                    f"({_IDEMPOTENCY_DRAFT}, Error Scenarios): another body is 422, a retry while the first request "
                    "is still being processed is 409.",
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": params.IDEMPOTENCY_KEY_MAX,
                        "pattern": "^[\\x20-\\x7e]+$",
                    },
                },
            ],
            "requestBody": {"required": True, "content": _json(_ref("CreateKey"))},
            "responses": {
                "201": {
                    "description": "The new key and its secret",
                    "content": _json(_ref("Created")),
                    "links": _KEY_LINKS,
                },
                "400": _BAD_FIELD,
                "409": _error(
                    "A request with the same Idempotency-Key is still being processed (its key is pending while its "
                    "secret goes to the vault or it goes onto a usage plan): retry later with the same key and body "
                    f"({_IDEMPOTENCY_DRAFT}, Error Scenarios). Also: the community has its most live keys"
                ),
                "422": _error(
                    "The Idempotency-Key was already used with a different body: send that body again, or this one "
                    f"with a new Idempotency-Key ({_IDEMPOTENCY_DRAFT}, Error Scenarios); nothing was written"
                ),
                "502": _error("The chosen vault or API Gateway refused; the key is not active"),
                **_SECURED_ERRORS,
            },
        },
        (one, "GET"): {
            "operationId": "get_key",
            "summary": "One key",
            "security": secured,
            "parameters": [_COMMUNITY_PARAM, _KEY_PARAM],
            "responses": {"200": {"description": "The key", "content": _json(_ref("ApiKey"))}, **_SECURED_ERRORS},
        },
        (one, "PATCH"): {
            "operationId": "edit_key",
            "summary": "Edit name, description, roles or usage plan",
            "security": secured,
            "parameters": [_COMMUNITY_PARAM, _KEY_PARAM],
            "requestBody": {"required": True, "content": _json(_ref("EditKey"))},
            "responses": {
                "200": {
                    "description": "The edited key and the fields the edit changed",
                    "content": _json(_ref("EditedKey")),
                },
                "400": _BAD_FIELD,
                "409": _error("The key is revoked"),
                "502": _error("API Gateway refused the plan change; nothing was changed"),
                **_SECURED_ERRORS,
            },
        },
        (one + "/revoke", "POST"): {
            "operationId": "revoke_key",
            "summary": "Revoke a key: final; repeating it returns the revoked key unchanged",
            "security": secured,
            "parameters": [_COMMUNITY_PARAM, _KEY_PARAM],
            "requestBody": {"required": False, "content": _json(_ref("RevokeKey"))},
            "responses": {
                "200": {"description": "The revoked key", "content": _json(_ref("ApiKey"))},
                "400": _BAD_FIELD,
                "409": _error("The key cannot be revoked in its state"),
                **_SECURED_ERRORS,
            },
        },
        (one + "/rotate", "POST"): {
            "operationId": "rotate_key",
            "summary": "Rotate a key: a new key like it, the old one working until the grace ends",
            "security": secured,
            "parameters": [_COMMUNITY_PARAM, _KEY_PARAM],
            "requestBody": {"required": True, "content": _json(_ref("RotateKey"))},
            "responses": {
                "201": {"description": "The new key, its secret, and the old key", "content": _json(_ref("Rotated"))},
                "400": _BAD_FIELD,
                "409": _error("The key is revoked, expired or already rotated"),
                "502": _error("The key's vault refused the new secret; the old key is unchanged"),
                **_SECURED_ERRORS,
            },
        },
        (one + "/events", "GET"): {
            "operationId": "key_events",
            "summary": "A key's audit trail, newest first",
            "security": secured,
            "parameters": [_COMMUNITY_PARAM, _KEY_PARAM, _LIMIT_PARAM, _CURSOR_PARAM],
            "responses": {
                "200": {"description": "A page of events", "content": _json(_ref("EventList"))},
                "400": _BAD_PARAMETER,
                **_SECURED_ERRORS,
            },
        },
        ("/communities/{community}/events", "GET"): {
            "operationId": "community_events",
            "summary": "A community's audit trail (keys and roles), newest first",
            "security": secured,
            "parameters": [_COMMUNITY_PARAM, _LIMIT_PARAM, _CURSOR_PARAM],
            "responses": {
                "200": {"description": "A page of events", "content": _json(_ref("EventList"))},
                "400": _BAD_PARAMETER,
                **_SECURED_ERRORS,
            },
        },
        (roles, "GET"): {
            "operationId": "community_roles",
            "summary": "The community's roles: built-in, then custom",
            "security": secured,
            "parameters": [_COMMUNITY_PARAM],
            "responses": {"200": {"description": "Roles", "content": roles_list}, **_SECURED_ERRORS},
        },
        (roles, "POST"): {
            "operationId": "create_role",
            "summary": "Create a custom role from the permission catalog",
            "security": secured,
            "parameters": [_COMMUNITY_PARAM],
            "requestBody": {"required": True, "content": _json(_ref("CreateRole"))},
            "responses": {
                "201": {"description": "The new role", "content": _json(_ref("Role"))},
                "400": _BAD_FIELD,
                "409": _error("The name is taken or built in (Field: name), or the community has too many roles"),
                **_SECURED_ERRORS,
            },
        },
        (roles + "/{name}", "PATCH"): {
            "operationId": "edit_role",
            "summary": "Edit a custom role; its keys follow within the revocation bound",
            "security": secured,
            "parameters": [_COMMUNITY_PARAM, _ROLE_PARAM],
            "requestBody": {"required": True, "content": _json(_ref("EditRole"))},
            "responses": {
                "200": {"description": "The edited role", "content": _json(_ref("Role"))},
                "400": _BAD_FIELD,
                "409": _error("A built-in role cannot be changed (Field: name, the path's)"),
                **_SECURED_ERRORS,
            },
        },
        (roles + "/{name}", "DELETE"): {
            "operationId": "delete_role",
            "summary": "Delete a custom role no active key holds",
            "security": secured,
            "parameters": [_COMMUNITY_PARAM, _ROLE_PARAM],
            "responses": {
                "204": {"description": "Deleted"},
                "409": {
                    "description": "Still granted (the keys are listed), or built in (Field: name, the path's)",
                    "content": _json(_ref("RoleInUse")),
                },
                **_SECURED_ERRORS,
            },
        },
        ("/leaks/github", "POST"): {
            "operationId": "github_leaks",
            "summary": "GitHub secret scanning partner reports: leaked active keys are revoked",
            "security": [],
            "parameters": [
                {"name": "Github-Public-Key-Identifier", "in": "header", "schema": {"type": "string"}},
                {
                    "name": "Github-Public-Key-Signature",
                    "in": "header",
                    "schema": {"type": "string"},
                    "description": "base64 ECDSA P-256 SHA-256 signature of the body",
                },
            ],
            "requestBody": {"required": True, "content": _json(_ref("LeakReport"))},
            "responses": {
                "200": {"description": "Each token labelled", "content": _json(_ref("LeakLabels"))},
                "400": _error("The signed body is not a list of reported tokens"),
                "401": _error("The signature does not verify against a configured key"),
                "503": _error("The key store or GitHub's signing keys are unavailable; GitHub sends the report again"),
            },
        },
        ("/plans", "GET"): {
            "operationId": "plans",
            "summary": "The usage plans a key may be put on, with the limits API Gateway enforces",
            "security": secured,
            "responses": {
                "200": {"description": "Usage plans", "content": _json(_ref("PlanList"))},
                "401": _UNAUTHORIZED,
                "502": _GATEWAY_ERROR,
            },
        },
        ("/communities/{community}/apikeys/{key_id}/usage", "GET"): {
            "operationId": "key_usage",
            "summary": "Requests per day and the quota left, as API Gateway counted them",
            "security": secured,
            "parameters": [
                _COMMUNITY_PARAM,
                _KEY_PARAM,
                {
                    "name": "days",
                    "in": "query",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": USAGE_DAYS_MAX,
                        "default": USAGE_DAYS_DEFAULT,
                    },
                },
            ],
            "responses": {
                "200": {"description": "The key's usage (no plan: empty)", "content": _json(_ref("Usage"))},
                "400": _BAD_PARAMETER,
                "502": _error(
                    "API Gateway refused or could not be reached (the message names the plan and the call), "
                    "or it keeps no usage figures (a local run: the message says so in plain words)"
                ),
                **_SECURED_ERRORS,
            },
        },
    }


def _deployed(components: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
    """The bodies' plan and expiry rules as this deployment holds them."""
    found = components["schemas"]
    plan = {"enum": list(deployment.plans), "type": "string"} if deployment.plans else None
    default = f"the deployment's default plan, {deployment.default_plan}" if deployment.default_plan else "no plan"
    for name, left_out in (("CreateKey", f"Left out: {default}."), ("EditKey", "Left out: unchanged.")):
        found[name]["properties"]["plan"] = {
            "anyOf": [*([plan] if plan else []), {"type": "null"}],
            "description": f"A usage plan of GET /plans; null for none. Naming it, null included, needs "
            f"apikeys:plans. {left_out}",
        }
    days = [d for d in schemas.EXPIRY_PRESETS_DAYS if d <= deployment.max_expiry_days]
    create = found["CreateKey"]["properties"]
    create["expires_in_days"] = {
        "anyOf": [{"enum": days, "type": "integer"}, {"type": "null"}],
        "default": None,
        "description": f"Days from now, one of the presets; the deployment's maximum is "
        f"{deployment.max_expiry_days} days. Not with expires_at.",
    }
    create["expires_at"]["description"] = (
        f"A future ISO 8601 date-time, at most {deployment.max_expiry_days} days from now; null: never expires"
    )
    return components


@functools.lru_cache(maxsize=4)
def _document(routed: frozenset[tuple[str, str]], deployment: Deployment) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for (path, method), operation in sorted(operations().items()):
        if (path, method) in routed:
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Manage a community's API keys. Management routes need apikeys:manage; "
            "another community's path answers 404.",
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": _deployed(_components(), deployment),
    }


def document(routes: Iterable[tuple[str, str]] | None = None, deployment: Deployment | None = None) -> dict[str, Any]:
    """The document for ``routes`` ((path, METHOD) pairs the app serves; all known ones if None)
    and ``deployment`` (no plans and the longest expiry if None)."""
    routed = frozenset(routes) if routes is not None else frozenset(operations())
    return copy.deepcopy(_document(routed, deployment or Deployment()))


def routes_of(app: Any) -> set[tuple[str, str]]:
    """(path, METHOD) of every route a Chalice app serves."""
    return {(path, method) for path, entries in app.routes.items() for method in entries}
