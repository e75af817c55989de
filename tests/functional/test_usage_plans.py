"""Usage plans on moto's API Gateway: API keys, usage plans and usage plan keys are real there.

moto has no GetUsage, so the usage test alone stubs that one call with botocore's Stubber.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import bearer, make_key

BASE = "/communities/demo/apikeys"


@pytest.fixture
def plans(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Two usage plans on moto's API Gateway, offered to keys; name → usage plan id."""
    import boto3

    from chalicelib import wiring

    gateway = boto3.client("apigateway")
    standard = gateway.create_usage_plan(
        name="apikeys-test-standard",
        throttle={"rateLimit": 10.0, "burstLimit": 20},
        quota={"limit": 100000, "period": "MONTH"},
    )["id"]
    premium = gateway.create_usage_plan(
        name="apikeys-test-premium",
        throttle={"rateLimit": 100.0, "burstLimit": 200},
        quota={"limit": 5000000, "period": "MONTH"},
    )["id"]
    setting = [
        {"name": "standard", "usage_plan_id": standard, "description": "For most integrations"},
        {"name": "premium", "usage_plan_id": premium, "description": "High volume"},
    ]
    monkeypatch.setenv("APIKEYS_USAGE_PLANS", json.dumps(setting))
    wiring.reset()
    return {"standard": standard, "premium": premium}


def gateway() -> Any:
    import boto3

    return boto3.client("apigateway")


def plan_key_ids(usage_plan_id: str) -> set[str]:
    return {item["id"] for item in gateway().get_usage_plan_keys(usagePlanId=usage_plan_id)["items"]}


def gateway_keys() -> list[dict[str, Any]]:
    return gateway().get_api_keys(includeValues=True)["items"]


def stored(key_id: str) -> Any:
    from chalicelib import wiring

    return wiring.store().get(key_id)


def gateway_event(secret: str) -> dict[str, Any]:
    return {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {secret}",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/intelligence/feeds",
    }


def test_plans_lists_the_limits_api_gateway_holds(client, plans):
    _, secret = make_key()
    response = client.http.get("/plans", headers=bearer(secret))
    assert response.status_code == 200
    by_name = {plan["name"]: plan for plan in response.json_body["items"]}
    assert by_name["standard"] == {
        "name": "standard",
        "description": "For most integrations",
        "rate_limit": 10.0,
        "burst_limit": 20,
        "quota": {"limit": 100000, "period": "MONTH"},
    }
    assert by_name["premium"]["rate_limit"] == 100.0


def test_a_key_on_a_plan_is_metered_by_its_own_gateway_key_from_create_to_revoke(client, plans):
    from chalicelib import wiring
    from chalicelib.authorizer.gateway import handle_gateway_event

    _, admin = make_key()
    created = client.http.post(
        BASE,
        headers=bearer(admin),
        body=json.dumps({"name": "Feed", "roles": ["ic_viewer"], "plan": "standard"}),
    )
    assert created.status_code == 201, created.body
    view, secret = created.json_body["api_key"], created.json_body["secret"]
    assert view["status"] == "active" and view["plan"] == "standard"
    assert "gateway_key_value" not in json.dumps(view) and "gateway_key_id" not in view
    record = stored(view["id"])
    assert plan_key_ids(plans["standard"]) == {record.gateway_key_id}
    [gateway_key] = [k for k in gateway_keys() if k["id"] == record.gateway_key_id]
    assert gateway_key["enabled"] and gateway_key["name"] == f"apikeys:{view['id']}"
    assert gateway_key["value"] == record.gateway_key_value and gateway_key["value"] not in secret

    # The standalone authorizer's REST answer carries the gateway key's value, from its one read.
    store = wiring.store()
    reads = []
    verifier = wiring.verifier()
    verifier.lookup = lambda key_id: reads.append(key_id) or store.get(key_id)
    answer = handle_gateway_event(verifier, gateway_event(secret))
    assert answer["usageIdentifierKey"] == gateway_key["value"]
    assert reads == [view["id"]]

    moved = client.http.patch(f"{BASE}/{view['id']}", headers=bearer(admin), body=json.dumps({"plan": "premium"}))
    assert moved.status_code == 200 and moved.json_body["plan"] == "premium"
    assert plan_key_ids(plans["standard"]) == set()
    assert plan_key_ids(plans["premium"]) == {record.gateway_key_id}
    assert stored(view["id"]).gateway_key_id == record.gateway_key_id  # the same key, moved
    events = client.http.get(f"{BASE}/{view['id']}/events", headers=bearer(admin)).json_body["items"]
    edit = next(e for e in events if e["action"] == "edit")
    assert edit["details"] == {"before": {"plan": "standard"}, "after": {"plan": "premium"}}

    revoked = client.http.post(f"{BASE}/{view['id']}/revoke", headers=bearer(admin))
    assert revoked.status_code == 200
    assert all(k["id"] != record.gateway_key_id for k in gateway_keys())
    assert plan_key_ids(plans["premium"]) == set()


def test_a_key_without_a_plan_behaves_as_before(client, plans):
    from chalicelib import wiring
    from chalicelib.authorizer.gateway import handle_gateway_event

    _, admin = make_key()
    created = client.http.post(BASE, headers=bearer(admin), body=json.dumps({"name": "Plain", "roles": ["ic_viewer"]}))
    assert created.status_code == 201 and created.json_body["api_key"]["plan"] is None
    answer = handle_gateway_event(wiring.verifier(), gateway_event(created.json_body["secret"]))
    assert "usageIdentifierKey" not in answer
    assert gateway_keys() == []


def test_unknown_or_mistyped_plan_is_a_400_naming_plan_and_writes_nothing(client, plans):
    _, admin = make_key()
    key_id, _ = make_key(name="existing", roles=("ic_viewer",))
    before = client.http.get(BASE, headers=bearer(admin)).json_body["items"]
    for bad in ("gold", 7, ["standard"], "standard\u0000"):
        response = client.http.post(
            BASE, headers=bearer(admin), body=json.dumps({"name": "x", "roles": ["ic_viewer"], "plan": bad})
        )
        assert response.status_code == 400 and response.json_body["Message"].startswith("plan:"), response.body
        response = client.http.patch(f"{BASE}/{key_id}", headers=bearer(admin), body=json.dumps({"plan": bad}))
        assert response.status_code == 400 and response.json_body["Message"].startswith("plan:")
    assert client.http.get(BASE, headers=bearer(admin)).json_body["items"] == before
    assert gateway_keys() == []


def test_plan_added_then_removed_by_edit(client, plans):
    _, admin = make_key()
    key_id, _ = make_key(name="later", roles=("ic_viewer",))
    on = client.http.patch(f"{BASE}/{key_id}", headers=bearer(admin), body=json.dumps({"plan": "standard"}))
    assert on.status_code == 200 and on.json_body["plan"] == "standard"
    gateway_key_id = stored(key_id).gateway_key_id
    assert plan_key_ids(plans["standard"]) == {gateway_key_id}
    off = client.http.patch(f"{BASE}/{key_id}", headers=bearer(admin), body=json.dumps({"plan": None}))
    assert off.status_code == 200 and off.json_body["plan"] is None
    assert stored(key_id).gateway_key_id is None and gateway_keys() == []


def test_default_plan_applies_to_keys_created_without_one(plans, monkeypatch):
    from chalicelib import wiring

    monkeypatch.setenv("APIKEYS_DEFAULT_PLAN", "standard")
    wiring.reset()
    key_id, _ = make_key(roles=("ic_viewer",))
    assert stored(key_id).plan == "standard"
    none_id, _ = make_key(roles=("ic_viewer",), plan=None)
    assert stored(none_id).plan is None


def test_rotation_gives_the_new_key_its_own_gateway_key(client, plans):
    _, admin = make_key()
    key_id, _ = make_key(name="rotating", roles=("ic_viewer",), plan="standard")
    old_gateway = stored(key_id).gateway_key_id
    response = client.http.post(
        f"{BASE}/{key_id}/rotate", headers=bearer(admin), body=json.dumps({"grace": "immediate"})
    )
    assert response.status_code == 201, response.body
    new_id = response.json_body["api_key"]["id"]
    new_gateway = stored(new_id).gateway_key_id
    assert new_gateway and new_gateway != old_gateway
    assert plan_key_ids(plans["standard"]) == {new_gateway}  # the old one went with the old key


def test_a_gateway_failure_on_create_leaves_no_active_key_and_no_gateway_key(client, plans, monkeypatch):
    """A fault moto cannot produce: CreateUsagePlanKey refused (the plan was deleted, say)."""
    from botocore.exceptions import ClientError

    from chalicelib import wiring

    _, admin = make_key()
    api = wiring.plans().client()
    refused = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "x"}}, "CreateUsagePlanKey")
    monkeypatch.setattr(api, "create_usage_plan_key", lambda **_: (_ for _ in ()).throw(refused))
    response = client.http.post(
        BASE, headers=bearer(admin), body=json.dumps({"name": "Feed", "roles": ["ic_viewer"], "plan": "standard"})
    )
    assert response.status_code == 502
    assert "standard" in response.json_body["Message"] and "CreateUsagePlanKey" in response.json_body["Message"]
    assert gateway_keys() == []
    listed = client.http.get(f"{BASE}?status=active", headers=bearer(admin)).json_body["items"]
    assert [k["name"] for k in listed] == ["fixture key"]


def test_sweeper_deletes_the_gateway_key_of_a_key_stuck_pending(plans, monkeypatch):
    """A crash after CreateApiKey, before the key was activated: the sweeper finds it by name."""
    from datetime import timedelta

    from chalicelib import wiring
    from chalicelib.keys.records import FAILED, PENDING

    service = wiring.service()
    crashed = RuntimeError("the Lambda died here")

    def crash(*_: Any, **__: Any) -> Any:
        raise crashed

    original = service.store.update
    monkeypatch.setattr(service.store, "update", crash)
    with pytest.raises(RuntimeError):
        make_key(roles=("ic_viewer",), plan="standard")
    monkeypatch.setattr(service.store, "update", original)
    [orphan] = gateway_keys()
    key_id = orphan["name"].removeprefix("apikeys:")
    assert stored(key_id).status == PENDING
    later = service.clock() + timedelta(hours=1)
    monkeypatch.setattr(service, "clock", lambda: later)
    assert service.sweep(900) == [key_id]
    assert gateway_keys() == [] and plan_key_ids(plans["standard"]) == set()
    assert stored(key_id).status == FAILED


def test_usage_per_day_and_quota_left_from_get_usage(client, plans):
    """moto has no GetUsage: this one call is stubbed with botocore's Stubber, the rest is moto."""
    from datetime import timedelta

    from botocore.stub import Stubber

    from chalicelib import wiring

    _, admin = make_key()
    key_id, _ = make_key(name="metered", roles=("ic_viewer",), plan="standard")
    gateway_key_id = stored(key_id).gateway_key_id
    today = wiring.service().clock().date()
    start = today - timedelta(days=2)
    wiring.plans().catalog()  # GetUsagePlan answered by moto, before the stub owns the client
    with Stubber(wiring.plans().client()) as stub:
        stub.add_response(
            "get_usage",
            {
                "usagePlanId": plans["standard"],
                "startDate": start.isoformat(),
                "endDate": today.isoformat(),
                "items": {gateway_key_id: [[5, 99995], [0, 99995], [12, 99983]]},
            },
            {
                "usagePlanId": plans["standard"],
                "keyId": gateway_key_id,
                "startDate": start.isoformat(),
                "endDate": today.isoformat(),
            },
        )
        response = client.http.get(f"{BASE}/{key_id}/usage?days=3", headers=bearer(admin))
        stub.assert_no_pending_responses()
    assert response.status_code == 200, response.body
    assert response.json_body == {
        "plan": "standard",
        "days": [
            {"date": start.isoformat(), "requests": 5},
            {"date": (start + timedelta(days=1)).isoformat(), "requests": 0},
            {"date": today.isoformat(), "requests": 12},
        ],
        "quota": {"limit": 100000, "period": "MONTH"},
        "quota_remaining": 99983,
    }


@pytest.mark.parametrize("query", ["?days=0", "?days=91", "?days=abc", "?days=-1", "?weeks=2"])
def test_usage_days_out_of_range_is_a_400_naming_it(client, plans, query):
    _, admin = make_key()
    key_id, _ = make_key(name="metered", roles=("ic_viewer",), plan="standard")
    response = client.http.get(f"{BASE}/{key_id}/usage{query}", headers=bearer(admin))
    assert response.status_code == 400
    assert response.json_body["Message"].split(":")[0] in ("days", "weeks")


def test_usage_of_another_communitys_key_is_404(client, plans):
    _, admin = make_key()
    other_id, _ = make_key(community="other", roles=("ic_viewer",), plan="standard")
    response = client.http.get(f"/communities/other/apikeys/{other_id}/usage", headers=bearer(admin))
    assert response.status_code == 404
    response = client.http.get(f"{BASE}/{other_id}/usage", headers=bearer(admin))
    assert response.status_code == 404


def test_http_api_answers_never_carry_a_usage_identifier_key(plans):
    """HTTP APIs have no usage plans: neither answer form of payload 2.0 names one."""
    from pathlib import Path

    from chalicelib import wiring
    from chalicelib.authorizer.gateway import handle_gateway_event

    key_id, secret = make_key(roles=("ic_viewer",), plan="standard")
    event = json.loads((Path(__file__).parents[1] / "events" / "http_api_v2.json").read_text())
    event["headers"] = {**event.get("headers", {}), "authorization": f"Bearer {secret}"}
    event["identitySource"] = [f"Bearer {secret}"]
    for form in ("simple", "policy"):
        answer = handle_gateway_event(wiring.verifier(), event, http_api_response=form)
        assert answer.get("isAuthorized") is True or answer.get("principalId") == key_id  # a key let through
        assert "usageIdentifierKey" not in answer and stored(key_id).gateway_key_value not in json.dumps(answer)


@pytest.mark.parametrize(
    ("setting", "default"),
    [
        ("{}", None),
        ('[{"name": "a"}]', None),
        ('[{"name": "a", "usage_plan_id": "x", "usage_plan_name": "y"}]', None),
        ('[{"name": "a", "usage_plan_id": "x"}, {"name": "a", "usage_plan_id": "y"}]', None),
        ('[{"name": "a", "usage_plan_id": "x", "throttle": 1}]', None),
        ('[{"name": "a", "usage_plan_id": "x"}]', "b"),
    ],
)
def test_a_wrong_usage_plan_setting_stops_the_container(setting, default):
    from chalicelib.errors import SettingsError
    from chalicelib.settings import from_environ
    from tests.conftest import PEPPER

    env = {"APIKEYS_PEPPERS": f"p:{PEPPER}", "APIKEYS_USAGE_PLANS": setting}
    if default:
        env["APIKEYS_DEFAULT_PLAN"] = default
    with pytest.raises(SettingsError, match="APIKEYS_(USAGE|DEFAULT)_PLAN"):
        from_environ(env)


def test_plans_named_by_usage_plan_name_are_found_by_name(plans, monkeypatch):
    from chalicelib import wiring

    setting = [{"name": "standard", "usage_plan_name": "apikeys-test-standard", "description": "by name"}]
    monkeypatch.setenv("APIKEYS_USAGE_PLANS", json.dumps(setting))
    wiring.reset()
    key_id, _ = make_key(roles=("ic_viewer",), plan="standard")
    assert plan_key_ids(plans["standard"]) == {stored(key_id).gateway_key_id}
    assert wiring.plans().catalog()[0]["quota"] == {"limit": 100000, "period": "MONTH"}


def test_the_served_document_names_this_deployments_plans(client, plans, monkeypatch):
    from chalicelib import wiring
    from chalicelib.settings import get_settings

    monkeypatch.setenv("APIKEYS_DEFAULT_PLAN", "premium")
    monkeypatch.setenv("APIKEYS_MAX_EXPIRY_DAYS", "90")
    wiring.reset()
    get_settings()  # read now, outside the request: chalice.test lays the dev stage's environment over it
    create = client.http.get("/openapi.json").json_body["components"]["schemas"]["CreateKey"]["properties"]
    assert create["plan"]["anyOf"] == [{"enum": ["standard", "premium"], "type": "string"}, {"type": "null"}]
    assert create["plan"]["description"].endswith("Left out: the deployment's default plan, premium.")
    assert create["expires_in_days"]["anyOf"][0]["enum"] == [30]


def test_usage_where_api_gateway_keeps_no_figures_says_why_in_plain_words(client, plans):
    """moto's API Gateway, as in the local run, has no GetUsage: a bare HTTP 404, no AWS error."""
    from chalicelib.plans.usage_plans import NOT_COUNTED

    _, admin = make_key()
    key_id, _ = make_key(name="metered", roles=("ic_viewer",), plan="standard")
    response = client.http.get(f"{BASE}/{key_id}/usage", headers=bearer(admin))
    assert response.status_code == 502
    message = response.json_body["Message"]
    assert message == NOT_COUNTED
    assert "deployed stage" in message and "GetUsage" not in message and "404" not in message


def test_usage_refused_by_a_deployed_api_gateway_names_the_call_and_its_error(client, plans):
    """A fault moto cannot produce: API Gateway's own 404 (NotFoundException) is a refusal to
    report as such, not the local run's missing figures."""
    from botocore.stub import Stubber

    from chalicelib import wiring

    _, admin = make_key()
    key_id, _ = make_key(name="metered", roles=("ic_viewer",), plan="standard")
    wiring.plans().catalog()  # GetUsagePlan answered by moto, before the stub owns the client
    with Stubber(wiring.plans().client()) as stub:
        stub.add_client_error("get_usage", service_error_code="NotFoundException", http_status_code=404)
        response = client.http.get(f"{BASE}/{key_id}/usage", headers=bearer(admin))
    assert response.status_code == 502
    assert response.json_body["Message"] == "usage plan 'standard': API Gateway refused GetUsage (NotFoundException)"
