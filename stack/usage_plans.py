"""API Gateway usage plans (throttle, quota) of ``.chalice/usage-plans.json``, declared in every
stage whose ``APIKEYS_USAGE_PLANS`` names them, and the API handler's rights to put keys on them."""

from __future__ import annotations

from typing import Any

from stack.config import StackError, Stage, camel, snake

PLANS_FILE = "usage-plans.json"


def stage_plans(stage: Stage) -> list[dict[str, Any]]:
    """The plans of the file with the stage's API Gateway names, checked against the stage's
    ``APIKEYS_USAGE_PLANS`` (a stage without that setting has none)."""
    if not stage.settings.usage_plans:
        return []
    declared = stage.read_json(PLANS_FILE)["plans"]
    plans = [{**plan, "usage_plan_name": f"{stage.prefix}-{plan['name']}"} for plan in declared]
    wanted = {(p["name"], p["usage_plan_name"]) for p in plans}
    configured = {(p.name, p.usage_plan_name) for p in stage.settings.usage_plans}
    if configured != wanted:
        raise StackError(
            f"stage {stage.name}: APIKEYS_USAGE_PLANS must name {sorted(wanted)} by usage_plan_name "
            f"(.chalice/{PLANS_FILE}), not {sorted(configured)}"
        )
    return plans


def logical_id(plan: dict[str, Any]) -> str:
    return "UsagePlan" + camel(plan["name"])


def cloudformation(stage: Stage) -> dict[str, Any]:
    return {
        logical_id(plan): {
            "Type": "AWS::ApiGateway::UsagePlan",
            "Properties": {
                "UsagePlanName": plan["usage_plan_name"],
                "Description": plan["description"],
                "Throttle": {"RateLimit": plan["rate_limit"], "BurstLimit": plan["burst_limit"]},
                "Quota": {"Limit": plan["quota"]["limit"], "Period": plan["quota"]["period"]},
                "Tags": stage.cfn_tags,
            },
        }
        for plan in stage_plans(stage)
    }


def terraform(stage: Stage) -> dict[str, Any]:
    """``aws_api_gateway_usage_plan`` resources."""
    return {
        snake(logical_id(plan)): {
            "name": plan["usage_plan_name"],
            "description": plan["description"],
            "throttle_settings": [{"rate_limit": plan["rate_limit"], "burst_limit": plan["burst_limit"]}],
            "quota_settings": [{"limit": plan["quota"]["limit"], "period": plan["quota"]["period"]}],
            "tags": stage.tags,
        }
        for plan in stage_plans(stage)
    }


def policy_statements(stage: Stage) -> list[dict[str, Any]]:
    """Make, move and delete the keys' API Gateway keys, read the plans and their usage.

    Usage plan ids exist only once the stack does, so plans are named by path, not by id; only
    the API handler (and the sweeper, on its role) gets these, the authorizers none."""
    if not stage_plans(stage):
        return []
    base = "arn:aws:apigateway:*::"
    return [
        {
            "Sid": "UsagePlanReads",
            "Effect": "Allow",
            "Action": ["apigateway:GET"],
            # GetUsagePlans (ids by name), GetUsagePlan, GetUsage, GetApiKeys by name (the sweeper).
            "Resource": [f"{base}/apikeys", f"{base}/usageplans", f"{base}/usageplans/*"],
        },
        {
            "Sid": "UsagePlanKeyCreate",
            "Effect": "Allow",
            "Action": ["apigateway:POST"],
            "Resource": [f"{base}/apikeys", f"{base}/usageplans/*/keys"],
        },
        {
            "Sid": "UsagePlanKeyDelete",
            "Effect": "Allow",
            "Action": ["apigateway:DELETE"],
            "Resource": [f"{base}/apikeys/*", f"{base}/usageplans/*/keys/*"],
        },
    ]
