"""The OpenAPI 3 document of the API, written by hand next to the rules it describes.

Body fields, lengths, list parameters and role names come from ``validation`` and ``roles``, so
the document cannot drift from what the routes accept; ``tests/security/test_openapi.py`` checks
that every route of the app is described here and nothing else is.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable
from typing import Any

from chalicelib import validation
from chalicelib.roles.catalog import BUILTIN_ROLES

TITLE = "API keys"
VERSION = "1.0.0"

_KEY_ID = r"^[0-9A-Za-z]{16}$"
_COMMUNITY = f"^{validation.COMMUNITY_PATTERN.pattern}$"
# Text the validator accepts: no control characters (the validator also refuses format
# characters, which JSON Schema patterns cannot name portably).
_PLAIN_TEXT = r"^[^\u0000-\u001f\u007f-\u009f]*$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


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
    "403": _error("The key lacks apikeys:manage, or would grant roles it does not hold"),
    "404": _error("No such key in this community, or another community's path"),
    "503": _error("The key store is unavailable; nothing was changed"),
}


def _components() -> dict[str, Any]:
    from chalicelib import openapi_beyond, openapi_plans

    role_names = sorted(BUILTIN_ROLES)
    text_name = {
        "type": "string",
        "minLength": 1,
        "maxLength": validation.NAME_MAX,
        "pattern": r"^[^\u0000-\u001f\u007f-\u009f]*\S[^\u0000-\u001f\u007f-\u009f]*$",
    }  # noqa: E501
    text_description = {"type": "string", "maxLength": validation.DESCRIPTION_MAX, "pattern": _PLAIN_TEXT}
    roles = {
        "type": "array",
        "minItems": 1,
        "uniqueItems": True,
        "items": {"type": "string", "enum": role_names},
    }
    nullable_time = {"type": ["string", "null"], "format": "date-time"}
    return {
        "securitySchemes": {
            "apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "Authorization: Bearer apk_… (the key's full text)",
            }
        },
        "schemas": openapi_beyond.schemas()
        | openapi_plans.schemas()
        | {
            "Error": {
                "type": "object",
                "required": ["Code", "Message"],
                "properties": {"Code": {"type": "string"}, "Message": {"type": "string"}},
            },
            "Unauthorized": {
                "type": "object",
                "properties": {"message": {"type": "string"}, "Message": {"type": "string"}},
            },
            "Role": {
                "type": "object",
                "required": ["name", "description", "permissions"],
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "permissions": {"type": "array", "items": {"type": "string"}},
                    "builtin": {"type": "boolean"},
                },
            },
            "ApiKey": {
                "type": "object",
                "description": "A key as callers see it: never the secret, never its hash",
                "required": ["id", "name", "description", "roles", "status", "created_at", "hint"],
                "properties": {
                    "id": {"type": "string", "pattern": _KEY_ID},
                    "community": {"type": "string"},
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "roles": {"type": "array", "items": {"type": "string"}},
                    "status": {"type": "string", "enum": ["active", "revoked", "expired"]},
                    "created_at": {"type": "string", "format": "date-time"},
                    "created_by": {"type": "string"},
                    "revoked_at": nullable_time,
                    "revoked_by": {"type": ["string", "null"]},
                    "expires_at": nullable_time,
                    "last_used_at": nullable_time,
                    "hint": {"type": "string"},
                    "vault": {"type": "object"},
                    "rotated_from": {"type": ["string", "null"]},
                    "rotated_to": {"type": ["string", "null"]},
                    "grace_until": nullable_time,
                    "plan": {"type": ["string", "null"], "description": "the key's usage plan"},
                },
            },
            "KeyList": {
                "type": "object",
                "required": ["items", "next_cursor"],
                "properties": {
                    "items": {"type": "array", "items": _ref("ApiKey")},
                    "next_cursor": {"type": ["string", "null"]},
                },
            },
            "CreateKey": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "roles"],
                "properties": {
                    "name": text_name,
                    "description": text_description,
                    "roles": roles,
                    "expires_at": {"type": ["string", "null"], "format": "date-time"},
                    "expires_in_days": {"type": ["integer", "null"], "enum": [*validation.EXPIRY_PRESETS_DAYS, None]},
                    "vault": {
                        "type": ["object", "null"],
                        "additionalProperties": False,
                        "required": ["target"],
                        "properties": {
                            "target": {"type": "string", "minLength": 1},
                            "path": {"type": "string", "minLength": 1},
                        },
                    },
                    "reveal": {"type": "boolean", "description": "false needs a vault"},
                    "plan": openapi_plans.PLAN_CHOICE,
                },
            },
            "Created": {
                "type": "object",
                "required": ["api_key"],
                "properties": {
                    "api_key": _ref("ApiKey"),
                    "secret": {"type": "string", "description": "The key's text, shown this once"},
                    "replayed": {"type": "boolean"},
                },
            },
            "EditKey": {
                "type": "object",
                "additionalProperties": False,
                "minProperties": 1,
                "properties": {
                    "name": text_name,
                    "description": text_description,
                    "roles": roles,
                    "plan": openapi_plans.PLAN_CHOICE,
                },
            },
            "EditedKey": {
                "description": "The key after the edit, and the fields whose value it changed: only those "
                "are written and recorded in the audit trail. An empty list means the edit changed "
                "nothing, and nothing was written or recorded.",
                "allOf": [
                    _ref("ApiKey"),
                    {
                        "type": "object",
                        "required": ["changed"],
                        "properties": {
                            "changed": {
                                "type": "array",
                                "items": {"type": "string", "enum": ["name", "description", "roles", "plan"]},
                            }
                        },
                    },
                ],
            },
            "RevokeKey": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "reason": {
                        "type": ["string", "null"],
                        "maxLength": validation.DESCRIPTION_MAX,
                        "pattern": _PLAIN_TEXT,
                    }
                },
            },
            "Caller": {
                "type": "object",
                "required": ["id", "community", "roles", "permissions"],
                "properties": {
                    "id": {"type": "string"},
                    "community": {"type": "string"},
                    "roles": {"type": "array", "items": {"type": "string"}},
                    "permissions": {"type": "array", "items": {"type": "string"}},
                },
            },
            "VaultChoices": {
                "type": "object",
                "required": ["items"],
                "properties": {
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"name": {"type": "string"}, "kind": {"type": "string"}},
                        },
                    }
                },
            },
        },
    }


_COMMUNITY_PARAM = {
    "name": "community",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": _COMMUNITY},
}
_KEY_PARAM = {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": _KEY_ID}}
_FROM_CREATED = {"community": "$request.path.community", "key_id": "$response.body#/api_key/id"}
_KEY_LINKS = {
    "GetKey": {"operationId": "get_key", "parameters": _FROM_CREATED},
    "EditKey": {"operationId": "edit_key", "parameters": _FROM_CREATED},
    "RevokeKey": {"operationId": "revoke_key", "parameters": _FROM_CREATED},
}


def operations() -> dict[tuple[str, str], dict[str, Any]]:
    base = "/communities/{community}/apikeys"
    one = base + "/{key_id}"
    secured: list[dict[str, list[str]]] = [{"apiKey": []}]
    from chalicelib import (
        openapi_beyond,  # rotation, roles, events, leaks: described beside their code
        openapi_plans,
    )

    return (
        openapi_beyond.operations()
        | openapi_plans.operations()
        | {
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
                        },  # noqa: E501
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
                    },  # noqa: E501
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
                },  # noqa: E501
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
                        "schema": {"type": "string", "maxLength": validation.SEARCH_MAX, "pattern": _PLAIN_TEXT},
                    },  # noqa: E501
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(validation.LIST_STATUSES)},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": validation.LIMIT_MAX},
                    },  # noqa: E501
                    {
                        "name": "cursor",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "next_cursor of the previous page",
                    },  # noqa: E501
                ],
                "responses": {
                    "200": {"description": "A page of keys", "content": _json(_ref("KeyList"))},
                    "400": _error("A parameter is wrong; the message names it"),
                    **_SECURED_ERRORS,
                },  # noqa: E501
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
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": validation.IDEMPOTENCY_KEY_MAX,
                            "pattern": "^[\\x20-\\x7e]+$",
                        },
                    },  # noqa: E501
                ],
                "requestBody": {"required": True, "content": _json(_ref("CreateKey"))},
                "responses": {
                    "201": {
                        "description": "The new key and its secret",
                        "content": _json(_ref("Created")),
                        "links": _KEY_LINKS,
                    },
                    "400": _error("A field is wrong; the message names it, nothing was written"),
                    "409": _error("Idempotency-Key reused with another body"),
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
                    "400": _error("A field is wrong; the message names it, nothing was written"),
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
                    "400": _error("A field is wrong; the message names it"),
                    "409": _error("The key cannot be revoked in its state"),
                    **_SECURED_ERRORS,
                },
            },
        }
    )


@functools.lru_cache(maxsize=4)
def _document(routed: frozenset[tuple[str, str]]) -> dict[str, Any]:
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
        "components": _components(),
    }


def document(routes: Iterable[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The document for ``routes`` ((path, METHOD) pairs the app serves); all known ones if None."""
    routed = frozenset(routes) if routes is not None else frozenset(operations())
    return copy.deepcopy(_document(routed))


def routes_of(app: Any) -> set[tuple[str, str]]:
    """(path, METHOD) of every route a Chalice app serves."""
    return {(path, method) for path, entries in app.routes.items() for method in entries}
