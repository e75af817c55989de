"""API Gateway usage plans: per-key rate limits and quotas, enforced at the edge.

The deployment names the usage plans a key may be put on (``APIKEYS_USAGE_PLANS``, a JSON list
of ``{"name", "usage_plan_id", "description"}``; ``usage_plan_name`` instead of the id names a plan
its stack declared, whose id is read once per container) and optionally the plan of keys created without
one (``APIKEYS_DEFAULT_PLAN``). For a key on a plan the service keeps one API Gateway API key,
named ``apikeys:<key id>``, in that plan; the standalone authorizer returns its value as
``usageIdentifierKey`` and API Gateway throttles, meters and caps the key. Nothing is counted here.

The API Gateway key's value is random and unrelated to the key's secret: anyone with
``apigateway:GET`` can read it, and with the API's key source set to ``AUTHORIZER`` it opens
nothing by itself.

``UsagePlans`` is the only module that talks to API Gateway. Its errors leave as
``UsagePlanFailure`` naming the action and the AWS error code (AWS messages may quote input).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from chalicelib.errors import ServiceError, ValidationError

log = logging.getLogger(__name__)

PLAN_FIELD = "plan"
GATEWAY_KEY_NAME_PREFIX = "apikeys:"
# What GET /plans shows is what the gateway enforces, give or take this long after an operator
# changes a plan's limits; the plans' ids never change while a container lives.
PLAN_CACHE_SECONDS = 300.0
USAGE_DAYS_DEFAULT = 30
USAGE_DAYS_MAX = 90
NAME_MAX = 64


class UsagePlanFailure(ServiceError):
    """API Gateway refused or could not be reached; what was half-done has been undone."""


class UsageNotCounted(UsagePlanFailure):
    """The API Gateway this service talks to has no usage figures at all: a stand-in (moto, in the
    local run) that answers GetUsage with a bare HTTP 404, no AWS error. A deployed stage's API
    Gateway always has GetUsage; its refusals name an AWS error code."""


# Said to the person who opened a key's usage: why there are no figures, in their words.
NOT_COUNTED = "API Gateway counts a key's requests only on a deployed stage, and this local run has none"


class UsagePlanConfigError(Exception):
    """APIKEYS_USAGE_PLANS or APIKEYS_DEFAULT_PLAN is wrong."""


@dataclass(frozen=True)
class PlanSetting:
    name: str
    usage_plan_id: str
    description: str = ""
    usage_plan_name: str = ""  # when the id is not known before deployment


@dataclass(frozen=True)
class GatewayKey:
    id: str
    value: str


def parse_plans(text: str) -> tuple[PlanSetting, ...]:
    """``APIKEYS_USAGE_PLANS``: a JSON list of ``{"name", "usage_plan_id", "description"}``."""
    try:
        items = json.loads(text or "[]")
    except ValueError as error:
        raise UsagePlanConfigError("APIKEYS_USAGE_PLANS must be a JSON list") from error
    if not isinstance(items, list):
        raise UsagePlanConfigError("APIKEYS_USAGE_PLANS must be a JSON list")
    plans: list[PlanSetting] = []
    for item in items:
        if not isinstance(item, dict) or set(item) - {"name", "usage_plan_id", "usage_plan_name", "description"}:
            raise UsagePlanConfigError(
                "APIKEYS_USAGE_PLANS: each entry holds name, usage_plan_id (or usage_plan_name), description"
            )
        name, description = item.get("name"), item.get("description", "")
        plan_id, plan_name = item.get("usage_plan_id", ""), item.get("usage_plan_name", "")
        if not isinstance(name, str) or not name or len(name) > NAME_MAX or not name.isprintable():
            raise UsagePlanConfigError("APIKEYS_USAGE_PLANS: each entry needs a printable name")
        if not isinstance(plan_id, str) or not isinstance(plan_name, str) or bool(plan_id) == bool(plan_name):
            raise UsagePlanConfigError(f"APIKEYS_USAGE_PLANS: plan {name!r} needs a usage_plan_id or a usage_plan_name")
        if not isinstance(description, str):
            raise UsagePlanConfigError(f"APIKEYS_USAGE_PLANS: plan {name!r}: description must be a string")
        if any(plan.name == name for plan in plans):
            raise UsagePlanConfigError(f"APIKEYS_USAGE_PLANS: plan {name!r} is listed twice")
        plans.append(PlanSetting(name, plan_id, description, plan_name))
    return tuple(plans)


def check_default(plans: tuple[PlanSetting, ...], default: str | None) -> str | None:
    if not default:
        return None
    if default not in {plan.name for plan in plans}:
        raise UsagePlanConfigError(f"APIKEYS_DEFAULT_PLAN: {default!r} is not in APIKEYS_USAGE_PLANS")
    return default


def gateway_key_name(key_id: str) -> str:
    return f"{GATEWAY_KEY_NAME_PREFIX}{key_id}"


def usage_days(params: Mapping[str, str] | None) -> int:
    """The ``days`` query parameter of the usage route: a whole number from 1 to 90."""
    params = params or {}
    unknown = sorted(set(params) - {"days"})
    if unknown:
        raise ValidationError(unknown[0], "unknown query parameter; allowed: days")
    raw = params.get("days", str(USAGE_DAYS_DEFAULT))
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= USAGE_DAYS_MAX:
        raise ValidationError("days", f"must be a whole number from 1 to {USAGE_DAYS_MAX}")
    return int(raw)


class UsagePlans:
    """The deployment's usage plans and the API Gateway keys of the keys put on them."""

    def __init__(
        self,
        plans: tuple[PlanSetting, ...],
        *,
        default_plan: str | None = None,
        client_factory: Callable[[], Any] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        cache_seconds: float = PLAN_CACHE_SECONDS,
    ) -> None:
        self.plans = {plan.name: plan for plan in plans}
        self.default_plan = check_default(plans, default_plan)
        self._client_factory = client_factory or _default_client
        self._client: Any | None = None
        self._monotonic = monotonic
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._ids: dict[str, str] = {plan.name: plan.usage_plan_id for plan in plans if plan.usage_plan_id}
        self._lock = threading.Lock()

    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def plan_id(self, plan: str) -> str:
        """The usage plan id of ``plan``; named plans are looked up once per container."""
        if plan not in self._ids:
            wanted = {p.usage_plan_name: p.name for p in self.plans.values() if p.usage_plan_name}

            def find() -> dict[str, str]:
                pages = self.client().get_paginator("get_usage_plans").paginate()
                items = [item for page in pages for item in page.get("items", [])]
                return {wanted[i["name"]]: str(i["id"]) for i in items if i.get("name") in wanted}

            found = self._call(plan, "GetUsagePlans", find)
            with self._lock:
                self._ids.update(found)
            if plan not in self._ids:
                missing = self.plans[plan].usage_plan_name
                raise UsagePlanFailure(f"usage plan {plan!r}: API Gateway has no usage plan named {missing!r}")
        return self._ids[plan]

    # -- choosing ---------------------------------------------------------------------------

    def choose(self, body: Mapping[str, Any]) -> str | None:
        """The plan a create or edit body asks for: absent → the default plan, null → none."""
        if PLAN_FIELD not in body:
            return self.default_plan
        value = body[PLAN_FIELD]
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValidationError(PLAN_FIELD, "must be a plan name or null")
        if value not in self.plans:
            known = ", ".join(self.plans) or "none are configured"
            raise ValidationError(PLAN_FIELD, f"unknown plan {value[:NAME_MAX]!r}; known: {known}")
        return value

    # -- the catalog --------------------------------------------------------------------------

    def catalog(self) -> list[dict[str, Any]]:
        """Each plan with the limits API Gateway enforces, read by GetUsagePlan (cached)."""
        return [self._describe(plan) for plan in self.plans.values()]

    def _describe(self, plan: PlanSetting) -> dict[str, Any]:
        now = self._monotonic()
        cached = self._cache.get(plan.name)
        if cached is not None and cached[0] > now:
            return cached[1]
        answer = self._call(
            plan.name, "GetUsagePlan", lambda: self.client().get_usage_plan(usagePlanId=self.plan_id(plan.name))
        )
        throttle = answer.get("throttle") or {}
        quota = answer.get("quota") or {}
        view = {
            "name": plan.name,
            "description": plan.description or str(answer.get("description") or ""),
            "rate_limit": throttle.get("rateLimit"),
            "burst_limit": throttle.get("burstLimit"),
            "quota": {"limit": quota["limit"], "period": quota.get("period")} if "limit" in quota else None,
        }
        with self._lock:
            self._cache[plan.name] = (now + self._cache_seconds, view)
        return view

    # -- API Gateway keys ---------------------------------------------------------------------

    def provision(self, key_id: str, plan: str) -> GatewayKey:
        """A new enabled API Gateway key for ``key_id``, in ``plan``. On failure nothing is left."""
        setting = self.plans[plan]
        client = self.client()
        # API Gateway wants 20+ characters; the value is only a metering identifier.
        value = secrets.token_urlsafe(30)
        created = self._call(
            plan,
            "CreateApiKey",
            lambda: client.create_api_key(name=gateway_key_name(key_id), value=value, enabled=True, customerId=key_id),
        )
        gateway_key = GatewayKey(str(created["id"]), value)
        try:
            self._call(
                plan,
                "CreateUsagePlanKey",
                lambda: client.create_usage_plan_key(
                    usagePlanId=self.plan_id(setting.name), keyId=gateway_key.id, keyType="API_KEY"
                ),
            )
        except UsagePlanFailure:
            self.release_quietly(gateway_key.id)
            raise
        return gateway_key

    def move(self, gateway_key_id: str, old_plan: str | None, new_plan: str) -> None:
        """Out of ``old_plan``, into ``new_plan``. If the second step fails the key goes back."""
        client = self.client()
        old = self.plans.get(old_plan) if old_plan else None
        # Out first: API Gateway refuses a key in two plans that share an API stage.
        if old is not None:
            self._call(
                old.name,
                "DeleteUsagePlanKey",
                lambda: client.delete_usage_plan_key(usagePlanId=self.plan_id(old.name), keyId=gateway_key_id),
                tolerate=("NotFoundException",),
            )
        try:
            self._call(
                new_plan,
                "CreateUsagePlanKey",
                lambda: client.create_usage_plan_key(
                    usagePlanId=self.plan_id(new_plan), keyId=gateway_key_id, keyType="API_KEY"
                ),
                tolerate=("ConflictException",),
            )
        except UsagePlanFailure:
            if old is not None:
                try:
                    self.move(gateway_key_id, None, old.name)
                except UsagePlanFailure:
                    log.warning(
                        "API Gateway key %s is in no usage plan; editing the key again fixes it", gateway_key_id
                    )
            raise

    def release(self, gateway_key_id: str, plan: str | None = None) -> None:
        """Take the API Gateway key out of ``plan``, then delete it; gone already is fine."""
        setting = self.plans.get(plan) if plan else None
        if setting is not None:
            # DeleteApiKey alone drops the key from its plans on AWS; saying so costs one call and
            # holds on every API Gateway look-alike too.
            self._call(
                setting.name,
                "DeleteUsagePlanKey",
                lambda: self.client().delete_usage_plan_key(
                    usagePlanId=self.plan_id(setting.name), keyId=gateway_key_id
                ),
                tolerate=("NotFoundException",),
            )
        self._call(
            "",
            "DeleteApiKey",
            lambda: self.client().delete_api_key(apiKey=gateway_key_id),
            tolerate=("NotFoundException",),
        )

    def release_quietly(self, gateway_key_id: str, plan: str | None = None) -> None:
        try:
            self.release(gateway_key_id, plan)
        except UsagePlanFailure:
            log.warning("API Gateway key %s could not be deleted; the sweeper or a retry will", gateway_key_id)

    def discard(self, key_id: str, plan: str | None = None) -> list[str]:
        """Delete every API Gateway key made for ``key_id`` (found by name, for the sweeper and
        retries: a crash may have left one no record points to). The ids deleted."""
        name = gateway_key_name(key_id)

        def find() -> list[str]:
            pages = self.client().get_paginator("get_api_keys").paginate(nameQuery=name, includeValues=False)
            return [str(item["id"]) for page in pages for item in page.get("items", []) if item.get("name") == name]

        found = self._call("", "GetApiKeys", find) or []
        for gateway_key_id in found:
            self.release(gateway_key_id, plan)
        return found

    # -- usage ---------------------------------------------------------------------------------

    def usage(self, plan: str, gateway_key_id: str, days: int, today: date) -> dict[str, Any]:
        """Requests per day over the last ``days`` days (today included) and the quota left."""
        setting = self.plans.get(plan)
        if setting is None:
            raise UsagePlanFailure(f"usage plan {plan!r} is no longer configured")
        start = today - timedelta(days=days - 1)

        from botocore.exceptions import ClientError

        def read() -> list[list[int]]:
            pages = (
                self.client()
                .get_paginator("get_usage")
                .paginate(
                    usagePlanId=self.plan_id(setting.name),
                    keyId=gateway_key_id,
                    startDate=start.isoformat(),
                    endDate=today.isoformat(),
                )
            )
            entries: list[list[int]] = []
            try:
                for page in pages:
                    entries += (page.get("items") or {}).get(gateway_key_id, [])
            except ClientError as error:
                if str(error.response.get("Error", {}).get("Code")) == "404":  # no AWS error: no such call
                    raise UsageNotCounted(NOT_COUNTED) from error
                raise
            return entries

        entries = self._call(plan, "GetUsage", read) or []
        # One [used, remaining] pair per day from startDate; a key with no traffic has none.
        per_day = []
        for offset in range(days):
            used = int(entries[offset][0]) if offset < len(entries) and entries[offset] else 0
            per_day.append({"date": (start + timedelta(days=offset)).isoformat(), "requests": used})
        remaining = int(entries[-1][1]) if entries and len(entries[-1]) > 1 else None
        limits = self._describe(setting)
        return {"plan": plan, "days": per_day, "quota": limits["quota"], "quota_remaining": remaining}

    # -- helpers -------------------------------------------------------------------------------

    def _call(self, plan: str, action: str, run: Callable[[], Any], *, tolerate: tuple[str, ...] = ()) -> Any:
        """Run one API Gateway call; None if it answered one of the ``tolerate`` error codes."""
        from botocore.exceptions import BotoCoreError, ClientError

        where = f"usage plan {plan!r}: " if plan else "usage plans: "
        try:
            return run()
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", "ClientError"))
            if code in tolerate:
                return None
            raise UsagePlanFailure(f"{where}API Gateway refused {action} ({code})") from error
        except BotoCoreError as error:
            raise UsagePlanFailure(f"{where}API Gateway did not answer {action} ({type(error).__name__})") from error


def _default_client() -> Any:
    from botocore.config import Config

    from chalicelib import aws_session

    config = Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
    return aws_session.client("apigateway", config=config)
