"""The OpenAPI description of usage plans: ``GET /plans`` and a key's usage.

Merged into ``chalicelib.openapi``'s document; limits come from ``chalicelib.usage_plans``.
"""

from __future__ import annotations

from typing import Any

from chalicelib.openapi import _COMMUNITY_PARAM, _KEY_PARAM, _SECURED_ERRORS, _UNAUTHORIZED, _error, _json, _ref
from chalicelib.plans.usage_plans import USAGE_DAYS_DEFAULT, USAGE_DAYS_MAX

_GATEWAY_ERROR = _error("API Gateway refused or could not be reached; the message names the plan and the call")
# A plan name, or null for no plan; which names exist is the deployment's (GET /plans).
PLAN_CHOICE = {"type": ["string", "null"], "description": "a name from GET /plans; null for no plan"}


def schemas() -> dict[str, Any]:
    quota = {
        "type": ["object", "null"],
        "properties": {"limit": {"type": "integer"}, "period": {"type": ["string", "null"]}},
    }
    number = {"type": ["number", "null"]}
    return {
        "Plan": {
            "type": "object",
            "required": ["name", "description", "rate_limit", "burst_limit", "quota"],
            "properties": {
                "name": {"type": "string"},
                "description": {"type": "string"},
                "rate_limit": {**number, "description": "steady requests per second"},
                "burst_limit": {**number, "description": "requests allowed at once"},
                "quota": quota,
            },
        },
        "PlanList": {
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": _ref("Plan")}},
        },
        "Usage": {
            "type": "object",
            "required": ["plan", "days", "quota", "quota_remaining"],
            "properties": {
                "plan": {"type": ["string", "null"]},
                "days": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["date", "requests"],
                        "properties": {"date": {"type": "string", "format": "date"}, "requests": {"type": "integer"}},
                    },
                },
                "quota": quota,
                "quota_remaining": {"type": ["integer", "null"]},
            },
        },
    }


def operations() -> dict[tuple[str, str], dict[str, Any]]:
    secured: list[dict[str, list[str]]] = [{"apiKey": []}]
    return {
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
                "400": _error("A parameter is wrong; the message names it"),
                "502": _GATEWAY_ERROR,
                **_SECURED_ERRORS,
            },
        },
    }
