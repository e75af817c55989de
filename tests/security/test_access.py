"""The access matrix: every management route against every kind of caller that must be refused.

Routes are read from the app itself, so a new management route is in the matrix the day it is
added. Each call goes through the real authorizer and routes (chalice.test) on moto.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.clock import utcnow
from chalicelib.keys import format as key_format
from chalicelib.roles.caller import Caller
from chalicelib.roles.catalog import PERMISSIONS
from chalicelib.trail import Event
from tests.conftest import as_json, bearer, make_key
from tests.oidc import CLIENT_ID, Issuer, serving_issuer, with_claims
from tests.security.conftest import count

# A body the route would accept from a fully entitled caller, so that a refusal is about access.
BODIES: dict[tuple[str, str], Any] = {
    ("/communities/{community}/apikeys", "POST"): {"name": "matrix", "roles": ["ic_viewer"]},
    ("/communities/{community}/apikeys/{key_id}", "PATCH"): {"name": "renamed"},
    ("/communities/{community}/apikeys/{key_id}/revoke", "POST"): {"reason": "matrix"},
    ("/communities/{community}/apikeys/{key_id}/rotate", "POST"): {"grace": "1h"},
    ("/communities/{community}/roles", "POST"): {
        "name": "matrix_role", "description": "m", "permissions": ["intelligence:read"],
    },
    ("/communities/{community}/roles/{name}", "PATCH"): {"description": "changed"},
}  # fmt: skip


def management_routes() -> list[tuple[str, str]]:
    from app import app

    return sorted(
        (path, method)
        for path, entries in app.routes.items()
        for method in entries
        if path.startswith("/communities/{community}")
    )


def _call(client: Any, method: str, path: str, headers: dict[str, str]) -> Any:
    body = BODIES.get((path, method))
    url = path.replace("{community}", "demo").replace("{key_id}", _TARGET["id"]).replace("{name}", "matrix_role")
    return client.http.request(method, url, headers=headers, body=as_json(body) if body is not None else b"")


_TARGET: dict[str, str] = {}


@pytest.fixture
def callers(client: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, dict[str, str]]]:
    """Every kind of caller, as the Authorization headers they send: keys, and people signed in
    with an identity provider (a loopback issuer for the test's length)."""
    with serving_issuer() as issuer_server:
        monkeypatch.setenv("APIKEYS_OIDC_ISSUER", issuer_server.issuer.url)
        monkeypatch.setenv("APIKEYS_OIDC_AUDIENCE", CLIENT_ID)
        wiring.reset()
        yield {**_key_callers(), **_people(issuer_server.issuer)}


def _people(issuer: Issuer) -> dict[str, dict[str, str]]:
    def person(*groups: str, **changes: Any) -> str:
        return issuer.sign(issuer.claims(**{"cognito:groups": list(groups), **changes}))

    forged = with_claims(person("other:community_admin"), **{"cognito:groups": ["demo:community_admin"]})
    return {
        "person, forged token": bearer(forged),
        "person, expired token": bearer(person("demo:community_admin", exp=int(utcnow().timestamp()) - 120)),
        "person, another community": bearer(person("other:community_admin")),
        "person, no community": bearer(person("staff")),
        "person, no apikeys:manage": bearer(person("demo:ic_editor", "other:community_admin")),
    }


def _key_callers() -> dict[str, dict[str, str]]:
    target_id, _ = make_key(name="target", roles=("ic_viewer",))
    _TARGET["id"] = target_id
    _, revoked = make_key(name="revoked")
    wiring.service().revoke(Caller.operator("demo"), "demo", key_format.parse(revoked, "apk").key_id)
    expired_id, expired = make_key(name="expired", expires_in_days=30)
    store = wiring.store()
    record = store.get(expired_id)
    past = utcnow() - timedelta(seconds=1)
    store.update(record, {"expires_at": past}, Event("demo", expired_id, "edit", "operator", utcnow(), {}))
    _, other = make_key(community="other")
    _, no_manage = make_key(roles=("ic_editor", "soc_analyst"))
    _, elsewhere = make_key(name="elsewhere", allowed_cidrs=["203.0.113.0/24"])  # chalice.test reports 127.0.0.1
    unknown = key_format.generate("apk").plaintext  # well formed, never stored
    good = make_key()[1]
    forged = good[:-1] + ("0" if good[-1] != "0" else "1")
    return {
        "no key": {"Content-Type": "application/json"},
        "empty bearer": bearer(""),
        "malformed": bearer("not-a-key"),
        "bad checksum": bearer(forged),
        "other scheme": {"Authorization": f"Basic {good}", "Content-Type": "application/json"},
        "unknown": bearer(unknown),
        "revoked": bearer(revoked),
        "expired": bearer(expired),
        "another community": bearer(other),
        "no apikeys:manage": bearer(no_manage),
        "from elsewhere": {**bearer(elsewhere), "X-Forwarded-For": "203.0.113.5"},
    }


EXPECTED = {
    "no key": 401,
    "empty bearer": 401,
    "malformed": 401,
    "bad checksum": 401,
    "other scheme": 401,
    "unknown": 401,
    "revoked": 401,
    "expired": 401,
    "another community": 404,
    "no apikeys:manage": 403,
    "from elsewhere": 403,  # an admin key restricted to networks the request does not come from
    "person, forged token": 401,
    "person, expired token": 401,
    "person, another community": 404,
    "person, no community": 404,
    "person, no apikeys:manage": 403,
}


def test_every_management_route_refuses_every_wrong_caller(client: Any, callers: dict[str, dict[str, str]]) -> None:
    routes = management_routes()
    assert len(routes) >= 5
    wrong = []
    for path, method in routes:
        for who, headers in callers.items():
            answer = _call(client, method, path, headers)
            count("access checks")
            if answer.status_code != EXPECTED[who]:
                wrong.append(f"{who}: {method} {path} -> {answer.status_code} {answer.body[:120]!r}")
    assert not wrong, "\n".join(wrong)
    # Nothing any refused caller sent changed the target key.
    assert wiring.store().get(_TARGET["id"]).status == "active"
    assert wiring.store().get(_TARGET["id"]).name == "target"


def test_platform_routes_refuse_bad_keys_and_accept_any_valid_one(client: Any, callers: dict[str, dict[str, str]]):
    for path in ("/whoami", "/roles", "/vaults"):
        for who, headers in callers.items():
            answer = client.http.get(path, headers=headers)
            count("access checks")
            if EXPECTED[who] == 401:
                assert answer.status_code == 401, (who, path)
            elif who == "from elsewhere":
                assert answer.status_code == 403, (who, path)
            else:
                assert answer.status_code == 200, (who, path)


def test_a_refusal_does_not_say_why(client: Any, callers: dict[str, dict[str, str]]) -> None:
    bodies = {client.http.get("/whoami", headers=callers[who]).body for who in EXPECTED if EXPECTED[who] == 401}
    assert len(bodies) == 1, bodies


@pytest.mark.parametrize(
    ("caller_roles", "granted"),
    [
        (("apikeys_admin",), ["ic_viewer"]),
        (("apikeys_admin",), ["community_admin"]),
        (("apikeys_admin", "ic_viewer"), ["ic_editor"]),
        (("apikeys_admin", "soc_analyst"), ["playbooks_operator"]),
    ],
)
def test_granting_roles_the_caller_lacks_is_refused(client: Any, caller_roles: tuple[str, ...], granted: list[str]):
    _, secret = make_key(roles=caller_roles)
    target_id, _ = make_key(name="escalation target", roles=("apikeys_admin",))
    before = wiring.store().get(target_id)

    created = client.http.post(
        "/communities/demo/apikeys", headers=bearer(secret), body=as_json({"name": "esc", "roles": granted})
    )
    edited = client.http.patch(
        f"/communities/demo/apikeys/{target_id}", headers=bearer(secret), body=as_json({"roles": granted})
    )
    count("access checks", 2)
    assert created.status_code == 403, created.body
    assert edited.status_code == 403, edited.body
    assert "roles" in created.json_body["Message"]
    after = wiring.store().get(target_id)
    assert (after.roles, after.version) == (before.roles, before.version)
    listed = client.http.get("/communities/demo/apikeys?search=esc", headers=bearer(make_key()[1]))
    assert all(item["name"] != "esc" for item in listed.json_body["items"])


def test_a_caller_may_grant_what_it_holds(client: Any) -> None:
    _, secret = make_key(roles=("apikeys_admin", "ic_editor"))
    created = client.http.post(
        "/communities/demo/apikeys", headers=bearer(secret), body=as_json({"name": "ok", "roles": ["ic_viewer"]})
    )
    assert created.status_code == 201, created.body


def test_custom_role_with_permissions_the_caller_lacks_is_refused(client: Any) -> None:
    if ("/communities/{community}/roles", "POST") not in management_routes():
        pytest.skip("custom roles are not served by this app")
    _, secret = make_key(roles=("apikeys_admin",))
    answer = client.http.post(
        "/communities/demo/roles",
        headers=bearer(secret),
        body=as_json({"name": "sneaky", "description": "", "permissions": ["operations:write"]}),
    )
    count("access checks")
    assert answer.status_code == 403, answer.body


# -- strength: no key changes a key or a custom role that holds more than it does --------------

# The caller of the strength matrix: it manages keys and holds the Intelligence Center.
CALLER_ROLES = ("apikeys_admin", "ic_editor")
CALLER_PERMISSIONS = ["apikeys:manage", "intelligence:read", "intelligence:write"]
# Each target is held through a custom role, so the check must read the community's own roles:
# with the built-in catalog alone, the stronger target would look empty, hence weaker.
STRENGTHS = {
    "weaker": ["apikeys:manage", "intelligence:read"],
    "equal": CALLER_PERMISSIONS,
    "stronger": sorted(PERMISSIONS),
}
# The same strengths from several roles: a weak custom role, which a weaker key holds too, plus
# built-in ones. The shared role alone says nothing of its holders' strength: changing it is
# changing every key holding it, so only the strongest holder tells who may.
SHARED_PERMISSIONS = ["intelligence:read"]
SEVERAL_ROLES = {
    "weaker": ("apikeys_admin",),
    "equal": ("apikeys_admin", "ic_editor"),
    "stronger": ("soc_analyst",),
}
HOLDINGS = ("one role", "several roles")


@dataclass
class Target:
    """What one cell of the matrix acts on: the custom role the target key holds, the key, its roles
    and permissions, and the role a deletion acts on: with one role, a second role of the same
    permissions that no key holds (deleted: 204); with several, the shared role itself (in use: 409)."""

    role: str
    deletable: str
    key_id: str
    roles: list[str]
    permissions: list[str]

    @property
    def deleted(self) -> int:
        return 204 if self.deletable != self.role else 409


def _target(strength: str, holding: str, n: int) -> Target:
    operator = Caller.operator("demo")
    roles = wiring.custom_roles()
    role = f"{strength}_{n}"
    if holding == "one role":
        permissions = STRENGTHS[strength]
        for name in (role, f"{role}_spare"):
            roles.create(operator, "demo", {"name": name, "description": "", "permissions": permissions})
        key_id, _ = make_key(name=f"{strength} target", roles=(role,))
        return Target(role, f"{role}_spare", key_id, [role], permissions)
    roles.create(operator, "demo", {"name": role, "description": "", "permissions": SHARED_PERMISSIONS})
    held = [role, *SEVERAL_ROLES[strength]]
    key_id, _ = make_key(name=f"{strength} target", roles=tuple(held))
    make_key(name="weaker holder", roles=(role,))
    permissions = sorted(wiring.service().permissions("demo", held))
    return Target(role, role, key_id, held, permissions)


# Mutating route → (a request built from the target, the status a caller at least as strong gets).
MUTATIONS: dict[tuple[str, str], tuple[Callable[[Target, int], tuple[str, Any]], int | Callable[[Target], int]]] = {
    ("/communities/{community}/apikeys", "POST"): (
        lambda t, n: ("/communities/demo/apikeys", {"name": f"made {n}", "roles": t.roles}), 201,
    ),
    ("/communities/{community}/apikeys/{key_id}", "PATCH"): (
        lambda t, n: (f"/communities/demo/apikeys/{t.key_id}", {"description": "changed"}), 200,
    ),
    ("/communities/{community}/apikeys/{key_id}/revoke", "POST"): (
        lambda t, n: (f"/communities/demo/apikeys/{t.key_id}/revoke", {"reason": "matrix"}), 200,
    ),
    ("/communities/{community}/apikeys/{key_id}/rotate", "POST"): (
        lambda t, n: (f"/communities/demo/apikeys/{t.key_id}/rotate", {"grace": "1h"}), 201,
    ),
    ("/communities/{community}/roles", "POST"): (
        lambda t, n: ("/communities/demo/roles", {"name": f"made_{n}", "permissions": t.permissions}), 201,
    ),
    ("/communities/{community}/roles/{name}", "PATCH"): (
        # Narrowing (or, for the shared role, swapping): changes every key holding the role.
        lambda t, n: (f"/communities/demo/roles/{t.role}", {"permissions": ["apikeys:manage"]}), 200,
    ),
    ("/communities/{community}/roles/{name}", "DELETE"): (
        lambda t, n: (f"/communities/demo/roles/{t.deletable}", None), lambda t: t.deleted,
    ),
}  # fmt: skip


def test_every_mutating_route_is_in_the_strength_matrix() -> None:
    mutating = {(path, method) for path, method in management_routes() if method != "GET"}
    assert mutating == set(MUTATIONS), "a mutating route without a strength case, or a case without its route"


def _role_now(name: str) -> Any:
    return [r for r in wiring.custom_roles().store.list("demo") if r.name == name][0]


@pytest.mark.parametrize("holding", HOLDINGS)
@pytest.mark.parametrize("strength", sorted(STRENGTHS))
def test_a_caller_changes_only_what_holds_no_more_than_it(client: Any, strength: str, holding: str) -> None:
    """Every mutating route × a target weaker than, equal to or stronger than the caller, its
    strength from one custom role or from several roles, one of them shared with a weaker key."""
    _, secret = make_key(name="matrix caller", roles=CALLER_ROLES)
    wrong = []
    for n, ((path, method), (build, allowed)) in enumerate(sorted(MUTATIONS.items())):
        target = _target(strength, holding, n)
        before_key = wiring.store().get(target.key_id)
        before_role = _role_now(target.role)
        url, body = build(target, n)
        answer = client.http.request(
            method, url, headers=bearer(secret), body=as_json(body) if body is not None else b""
        )
        count("access checks")
        expected = 403 if strength == "stronger" else allowed if isinstance(allowed, int) else allowed(target)
        if answer.status_code != expected:
            wrong.append(f"{strength}, {holding}: {method} {path} -> {answer.status_code} {answer.body[:160]!r}")
            continue
        if expected == 403:
            message = answer.json_body["Message"]
            # The refusal names what the caller lacks, and nothing changed.
            if "lacks" not in message or "operations:write" not in message:
                wrong.append(
                    f"{strength}, {holding}: {method} {path}: refusal does not name the missing permission: {message}"
                )
            after_key = wiring.store().get(target.key_id)
            after_role = _role_now(target.role)
            if (after_key.version, after_key.status) != (before_key.version, before_key.status):
                wrong.append(f"{strength}, {holding}: {method} {path}: the target key changed")
            if (after_role.version, after_role.permissions) != (before_role.version, before_role.permissions):
                wrong.append(f"{strength}, {holding}: {method} {path}: the target role changed")
    assert not wrong, "\n".join(wrong)


def test_a_key_in_its_grace_period_changes_nothing_of_its_successor(client: Any) -> None:
    """Every mutating route against the successor of the calling key (rotated by the operator
    with 7 days' grace) and the custom role both hold: refused, though the caller is as strong as
    the successor. Creating stays possible: it changes no existing key."""
    operator = Caller.operator("demo")
    wiring.custom_roles().create(operator, "demo", {"name": "shared", "permissions": SHARED_PERMISSIONS})
    retiring_id, secret = make_key(name="retiring", roles=(*CALLER_ROLES, "shared"))
    successor = wiring.rotation().rotate(operator, "demo", retiring_id, {"grace": "7d"}).new
    roles = list(successor.roles)
    target = Target("shared", "shared", successor.key_id, roles, sorted(wiring.service().permissions("demo", roles)))
    refusal = f"this key is in its rotation grace period and cannot change its successor {successor.key_id}"
    wrong = []
    for n, ((path, method), (build, allowed)) in enumerate(sorted(MUTATIONS.items())):
        url, body = build(target, n)
        answer = client.http.request(
            method, url, headers=bearer(secret), body=as_json(body) if body is not None else b""
        )
        count("access checks")
        creates = method == "POST" and path.endswith(("/apikeys", "/roles"))
        expected = (allowed, None) if creates else (403, refusal)
        message = answer.json_body["Message"] if answer.status_code >= 400 else None
        if (answer.status_code, None if creates else message) != expected:
            wrong.append(f"{method} {path} -> {answer.status_code} {answer.body[:160]!r}")
    assert not wrong, "\n".join(wrong)
    after = wiring.store().get(successor.key_id)
    assert (after.version, after.status, after.rotated_to) == (successor.version, "active", None)
    assert _role_now("shared").permissions == SHARED_PERMISSIONS


def test_a_weaker_key_cannot_lock_a_stronger_one_out_through_its_networks(client: Any) -> None:
    """Restricting where a key works is changing it: the same strength rule, nothing written."""
    admin_id, admin_secret = make_key(name="admin")
    _, weak = make_key(name="weak", roles=("apikeys_admin",))
    version = wiring.store().get(admin_id).version

    locked = client.http.patch(
        f"/communities/demo/apikeys/{admin_id}", headers=bearer(weak), body=as_json({"allowed_cidrs": ["192.0.2.0/24"]})
    )

    assert locked.status_code == 403 and "lacks" in locked.json_body["Message"]
    assert wiring.store().get(admin_id).version == version and wiring.store().get(admin_id).allowed_cidrs == []
    assert client.http.get("/whoami", headers=bearer(admin_secret)).status_code == 200
    # An equal key may: what the caller holds, it may restrict.
    _, peer = make_key(name="peer")
    moved = client.http.patch(
        f"/communities/demo/apikeys/{admin_id}", headers=bearer(peer), body=as_json({"allowed_cidrs": ["192.0.2.0/24"]})
    )
    assert moved.status_code == 200 and moved.json_body["allowed_cidrs"] == ["192.0.2.0/24"]
    assert client.http.get("/whoami", headers=bearer(admin_secret)).status_code == 403


def test_a_weaker_key_cannot_disarm_the_admin_through_its_role(client: Any) -> None:
    """The reported attack: narrow the custom role the admin key holds, then lock it out."""
    operator = Caller.operator("demo")
    wiring.custom_roles().create(operator, "demo", {"name": "super", "permissions": sorted(PERMISSIONS)})
    admin_id, admin_secret = make_key(name="admin", roles=("super",))
    _, weak = make_key(name="weak", roles=("apikeys_admin",))

    narrowed = client.http.patch(
        "/communities/demo/roles/super", headers=bearer(weak), body=as_json({"permissions": ["apikeys:manage"]})
    )
    patched = client.http.patch(
        f"/communities/demo/apikeys/{admin_id}", headers=bearer(weak), body=as_json({"roles": ["apikeys_admin"]})
    )
    rotated = client.http.post(
        f"/communities/demo/apikeys/{admin_id}/rotate", headers=bearer(weak), body=as_json({"grace": "immediate"})
    )
    revoked = client.http.post(f"/communities/demo/apikeys/{admin_id}/revoke", headers=bearer(weak), body=b"")
    count("access checks", 4)
    assert [a.status_code for a in (narrowed, patched, rotated, revoked)] == [403, 403, 403, 403]
    whoami = client.http.get("/whoami", headers=bearer(admin_secret)).json_body
    assert whoami["permissions"] == sorted(PERMISSIONS)


def test_the_operator_and_a_leak_report_keep_every_power(moto_aws: None) -> None:
    operator = Caller.operator("demo")
    wiring.custom_roles().create(operator, "demo", {"name": "everything", "permissions": sorted(PERMISSIONS)})
    key_id, _ = make_key(name="strong", roles=("everything",))
    service = wiring.service()
    assert service.edit(operator, "demo", key_id, {"roles": ["community_admin"]}).roles == ["community_admin"]
    assert service.revoke(operator, "demo", key_id).status == "revoked"
    count("access checks", 2)


# -- usage plans: a cost and abuse control, chosen only with apikeys:plans -----------------------

# Each request that names a plan, and its answer for a key holding apikeys:plans.
PLAN_CHOICES: list[tuple[str, str, Callable[[str], tuple[str, Any]], int]] = [
    ("create on a plan", "POST", lambda own: ("/communities/demo/apikeys",
                                              {"name": "p", "roles": ["apikeys_admin"], "plan": "premium"}), 201),
    ("create off metering", "POST", lambda own: ("/communities/demo/apikeys",
                                                 {"name": "p", "roles": ["apikeys_admin"], "plan": None}), 201),
    ("move itself to the biggest plan", "PATCH", lambda own: (f"/communities/demo/apikeys/{own}",
                                                              {"plan": "premium"}), 200),
    ("move itself off metering", "PATCH", lambda own: (f"/communities/demo/apikeys/{own}", {"plan": None}), 200),
]  # fmt: skip


@pytest.fixture
def usage_plans(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two usage plans on moto's API Gateway, ``standard`` the deployment's default."""
    import json

    import boto3

    gateway = boto3.client("apigateway")
    plans = [
        {"name": name, "usage_plan_id": gateway.create_usage_plan(name=name)["id"]} for name in ("standard", "premium")
    ]
    monkeypatch.setenv("APIKEYS_USAGE_PLANS", json.dumps(plans))
    monkeypatch.setenv("APIKEYS_DEFAULT_PLAN", "standard")
    wiring.reset()


def _plans_state(key_id: str) -> tuple[Any, ...]:
    """The key's version and plan, and how many keys the community has."""
    key = wiring.store().get(key_id)
    listed = wiring.store().list_keys("demo", "all", "", 100, None, utcnow()).items
    return key.version, key.plan, key.gateway_key_id, len(listed)


@pytest.mark.parametrize("holds_plans", [False, True], ids=["apikeys_admin", "apikeys_admin+plans"])
def test_only_apikeys_plans_chooses_a_plan(usage_plans: None, client: Any, holds_plans: bool) -> None:
    """A key that manages keys never lifts its own throttle, nor makes keys around the default plan."""
    operator = Caller.operator("demo")
    wiring.custom_roles().create(operator, "demo", {"name": "planner", "permissions": ["apikeys:plans"]})
    roles = ("apikeys_admin", "planner") if holds_plans else ("apikeys_admin",)
    wrong = []
    for what, method, build, allowed in PLAN_CHOICES:
        own_id, secret = make_key(name="caller", roles=roles)
        before = _plans_state(own_id)
        url, body = build(own_id)
        answer = client.http.request(method, url, headers=bearer(secret), body=as_json(body))
        count("access checks")
        expected = allowed if holds_plans else 403
        if answer.status_code != expected:
            wrong.append(f"{what}: {answer.status_code} {answer.body[:160]!r}")
        elif expected == 403:
            if answer.json_body["Message"] != (
                "plan: choosing or changing a usage plan needs the apikeys:plans permission, which this key lacks"
            ):
                wrong.append(f"{what}: refusal does not name apikeys:plans: {answer.json_body['Message']}")
            if _plans_state(own_id) != before:
                wrong.append(f"{what}: a key was written")
    assert not wrong, "\n".join(wrong)
    # Without a plan in the body, a create gets the deployment's default plan, whoever asks.
    _, secret = make_key(name="caller", roles=roles)
    created = client.http.post(
        "/communities/demo/apikeys", headers=bearer(secret), body=as_json({"name": "d", "roles": ["apikeys_admin"]})
    )
    assert created.status_code == 201 and created.json_body["api_key"]["plan"] == "standard"
