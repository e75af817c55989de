"""The OpenAPI description of rotation, custom roles, the audit trail and leak reports.

Merged into ``chalicelib.openapi``'s document; fields and limits come from the modules that
enforce them, so the description follows the code.
"""

from __future__ import annotations

from typing import Any

from chalicelib import validation
from chalicelib.keys import leaks, rotation
from chalicelib.openapi import _COMMUNITY_PARAM, _KEY_PARAM, _PLAIN_TEXT, _SECURED_ERRORS, _error, _json, _ref
from chalicelib.roles import custom as custom_roles
from chalicelib.roles.catalog import PERMISSIONS

_ROLE_PARAM = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_PAGE_PARAMS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": validation.LIMIT_MAX}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "next_cursor of the previous page"},
]
_BAD_FIELD = _error("A field is wrong; the message names it, nothing was written")


def schemas() -> dict[str, Any]:
    permissions = {
        "type": "array",
        "minItems": 1,
        "uniqueItems": True,
        "items": {"type": "string", "enum": list(PERMISSIONS)},
    }
    description = {"type": "string", "maxLength": validation.DESCRIPTION_MAX, "pattern": _PLAIN_TEXT}
    return {
        "RotateKey": {
            "type": "object",
            "additionalProperties": False,
            "required": ["grace"],
            "properties": {
                "grace": {
                    "type": "string",
                    "enum": list(rotation.GRACE_PERIODS),
                    "description": "How long the old key keeps working",
                },  # noqa: E501
                "reveal": {"type": "boolean", "description": "false needs a key with a vault"},
            },
        },
        "Rotated": {
            "type": "object",
            "required": ["api_key", "previous"],
            "properties": {
                "api_key": _ref("ApiKey"),
                "previous": _ref("ApiKey"),
                "secret": {"type": "string", "description": "The new key's text, shown this once"},
            },
        },
        "Event": {
            "type": "object",
            "description": "Who did what when; never a secret or a hash",
            "required": ["id", "key_id", "action", "actor", "at", "details"],
            "properties": {
                "id": {"type": "string"},
                "key_id": {"type": "string", "description": "the key's id, or role:<name> for a role change"},
                "action": {"type": "string"},
                "actor": {"type": "string"},
                "at": {"type": "string", "format": "date-time"},
                "details": {"type": "object"},
            },
        },
        "EventList": {
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": {"type": "array", "items": _ref("Event")},
                "next_cursor": {"type": ["string", "null"]},
            },  # noqa: E501
        },
        "CreateRole": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "permissions"],
            "properties": {
                "name": {"type": "string", "pattern": f"^{custom_roles.ROLE_NAME.pattern}$"},
                "description": description,
                "permissions": permissions,
            },
        },
        "EditRole": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {"description": description, "permissions": permissions},
        },
        "RoleInUse": {
            "type": "object",
            "required": ["Code", "Message"],
            "properties": {
                "Code": {"type": "string"},
                "Message": {"type": "string"},
                "keys": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}},
                },
            },
        },
        "LeakReport": {
            "type": "array",
            "maxItems": leaks.MAX_TOKENS,
            "items": {
                "type": "object",
                "required": ["token"],
                "properties": {k: {"type": "string"} for k in ("token", "type", "url", "source")},
            },
        },
        "LeakLabels": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "token_raw": {"type": "string"},
                    "token_type": {"type": "string"},
                    "label": {"type": "string", "enum": [leaks.TRUE_POSITIVE, leaks.FALSE_POSITIVE]},
                },
            },
        },
    }


def operations() -> dict[tuple[str, str], dict[str, Any]]:
    one = "/communities/{community}/apikeys/{key_id}"
    roles = "/communities/{community}/roles"
    secured: list[dict[str, list[str]]] = [{"apiKey": []}]
    roles_list = _json({"type": "object", "properties": {"items": {"type": "array", "items": _ref("Role")}}})
    return {
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
            "parameters": [_COMMUNITY_PARAM, _KEY_PARAM, *_PAGE_PARAMS],
            "responses": {
                "200": {"description": "A page of events", "content": _json(_ref("EventList"))},
                "400": _error("A parameter is wrong; the message names it"),
                **_SECURED_ERRORS,
            },
        },
        ("/communities/{community}/events", "GET"): {
            "operationId": "community_events",
            "summary": "A community's audit trail (keys and roles), newest first",
            "security": secured,
            "parameters": [_COMMUNITY_PARAM, *_PAGE_PARAMS],
            "responses": {
                "200": {"description": "A page of events", "content": _json(_ref("EventList"))},
                "400": _error("A parameter is wrong; the message names it"),
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
                "409": _error("The name is taken, or built in, or the community has too many roles"),
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
                "409": _error("A built-in role cannot be changed"),
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
                    "description": "Still granted (the keys are listed), or built in",
                    "content": _json(_ref("RoleInUse")),
                },  # noqa: E501
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
                },  # noqa: E501
            ],
            "requestBody": {"required": True, "content": _json(_ref("LeakReport"))},
            "responses": {
                "200": {"description": "Each token labelled", "content": _json(_ref("LeakLabels"))},
                "400": _error("The signed body is not a list of reported tokens"),
                "401": _error("The signature does not verify against a configured key"),
                "503": _error("The key store is unavailable; GitHub sends the report again"),
            },
        },
    }
