"""People sign in with the identity provider's tokens, beside API keys, through the app's own
authorizer: groups ``<community>:<role>`` are grants, the path's community picks them, and every
forged or stale token is the same 401. A loopback server is the issuer (discovery and JWKS), its
keys the test's own; the tables are moto's."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.roles.caller import Caller
from tests.conftest import as_json, bearer, make_key
from tests.oidc import CLIENT_ID, OTHER_CLIENT_ID, Issuer, IssuerServer, forge, serving_issuer, with_claims

SUB = "5f1c0a5e-0000-4000-8000-00000000a11c"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[IssuerServer]:
    with serving_issuer() as running:
        monkeypatch.setenv("APIKEYS_OIDC_ISSUER", running.issuer.url)
        monkeypatch.setenv("APIKEYS_OIDC_AUDIENCE", f"{OTHER_CLIENT_ID},{CLIENT_ID}")
        wiring.reset()
        yield running


@pytest.fixture
def issuer(server: IssuerServer) -> Issuer:
    return server.issuer


@pytest.fixture
def people(server: IssuerServer, client: Any) -> Any:
    """The app's test client, with the issuer configured (its keys found by discovery)."""
    return client


def token(issuer: Issuer, *groups: str, **changes: Any) -> str:
    return issuer.sign(issuer.claims(**{"cognito:groups": list(groups), **changes}))


def decisions(capsys: Any) -> list[dict[str, Any]]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"event":"authorizer.decision"')]


# -- a person at work ----------------------------------------------------------------------------


def test_a_person_manages_their_communitys_keys_under_their_own_name(people, issuer):
    admin = bearer(token(issuer, "demo:community_admin"))
    created = people.http.post(
        "/communities/demo/apikeys", headers=admin, body=as_json({"name": "Feed", "roles": ["ic_viewer"]})
    )
    assert created.status_code == 201, created.body
    key = created.json_body["api_key"]
    assert (key["created_by"], key["created_by_name"]) == (f"user:{SUB}", "alice")
    listed = people.http.get("/communities/demo/apikeys", headers=admin).json_body["items"]
    assert [(item["id"], item["created_by_name"]) for item in listed] == [(key["id"], "alice")]
    revoked = people.http.post(f"/communities/demo/apikeys/{key['id']}/revoke", headers=admin).json_body
    assert (revoked["revoked_by"], revoked["revoked_by_name"]) == (f"user:{SUB}", "alice")
    events = people.http.get(f"/communities/demo/apikeys/{key['id']}/events", headers=admin).json_body["items"]
    assert {(event["actor"], event["actor_name"]) for event in events} == {(f"user:{SUB}", "alice")}
    # Read back by the authorizer's own reader too (plain botocore), the names are there.
    stored = wiring.key_reader().get(key["id"])
    assert stored is not None and (stored.created_by_name, stored.revoked_by_name) == ("alice", "alice")


def test_a_person_signed_in_by_email_is_named_by_it(people, issuer):
    claims = issuer.claims(**{"cognito:username": None, "cognito:groups": ["demo:community_admin"]})
    created = people.http.post(
        "/communities/demo/apikeys",
        headers=bearer(issuer.sign(claims)),
        body=as_json({"name": "Feed", "roles": ["ic_viewer"]}),
    )
    assert created.json_body["api_key"]["created_by_name"] == "alice@example.com"


def test_a_key_made_by_a_key_names_no_person(people, admin):
    created = people.http.post(
        "/communities/demo/apikeys", headers=bearer(admin[1]), body=as_json({"name": "k", "roles": ["ic_viewer"]})
    ).json_body["api_key"]
    assert created["created_by"] == f"key:{admin[0]}" and "created_by_name" not in created


def test_whoami_names_the_person_and_lists_their_communities(people, issuer):
    answer = people.http.get(
        "/whoami", headers=bearer(token(issuer, "demo:community_admin", "acme:ic_viewer", "staff", "acme:nosuchrole"))
    )
    assert answer.status_code == 200
    who = answer.json_body
    assert who["user"] == f"user:{SUB}" and who["name"] == "alice"
    communities = {entry["community"]: entry for entry in who["communities"]}
    assert set(communities) == {"demo", "acme"}
    assert (
        communities["demo"]["roles"] == ["community_admin"] and "apikeys:manage" in communities["demo"]["permissions"]
    )
    assert communities["acme"]["roles"] == ["ic_viewer"]  # an unknown role grants nothing
    assert communities["acme"]["permissions"] == ["intelligence:read"]


def test_another_community_is_not_there_for_a_person(people, issuer):
    make_key("acme")
    person = bearer(token(issuer, "demo:community_admin"))
    for path in ("/communities/acme/apikeys", "/communities/acme/roles", "/communities/acme/events"):
        assert people.http.get(path, headers=person).status_code == 404
    created = people.http.post(
        "/communities/acme/apikeys", headers=person, body=as_json({"name": "x", "roles": ["ic_viewer"]})
    )
    assert created.status_code == 404


def test_a_person_in_two_communities_acts_in_each_with_that_communitys_roles(people, issuer):
    make_key("acme", name="acme key")
    person = bearer(token(issuer, "demo:community_admin", "acme:ic_viewer"))
    assert people.http.get("/communities/demo/apikeys", headers=person).status_code == 200
    # In acme the person holds ic_viewer only: a key holding it could not manage keys either.
    assert people.http.get("/communities/acme/apikeys", headers=person).status_code == 403


def test_a_persons_custom_role_grants_what_it_holds_and_no_more(people, issuer):
    wiring.custom_roles().create(
        Caller.operator("demo"),
        "demo",
        {
            "name": "key_clerk",
            "description": "manages viewer keys",
            "permissions": ["apikeys:manage", "intelligence:read"],
        },
    )
    strong_id, _ = make_key("demo", ("community_admin",), name="strong")
    clerk = bearer(token(issuer, "demo:key_clerk"))
    viewer = people.http.post(
        "/communities/demo/apikeys", headers=clerk, body=as_json({"name": "v", "roles": ["ic_viewer"]})
    )
    assert viewer.status_code == 201
    grant_more = people.http.post(
        "/communities/demo/apikeys", headers=clerk, body=as_json({"name": "a", "roles": ["community_admin"]})
    )
    assert grant_more.status_code == 403
    assert people.http.post(f"/communities/demo/apikeys/{strong_id}/revoke", headers=clerk).status_code == 403


def test_a_persons_role_changes_are_recorded_under_their_name(people, issuer):
    admin = bearer(token(issuer, "demo:community_admin"))
    role = {"name": "reader", "description": "reads", "permissions": ["intelligence:read"]}
    assert people.http.post("/communities/demo/roles", headers=admin, body=as_json(role)).status_code == 201
    edited = people.http.patch("/communities/demo/roles/reader", headers=admin, body=as_json({"description": "r"}))
    assert edited.status_code == 200, edited.body
    trail = people.http.get("/communities/demo/events", headers=admin).json_body["items"]
    of_role = [(e["action"], e["actor"], e.get("actor_name")) for e in trail if e["key_id"] == "role:reader"]
    assert sorted(of_role) == [("role_create", f"user:{SUB}", "alice"), ("role_edit", f"user:{SUB}", "alice")]


def test_a_person_without_grants_is_signed_in_but_manages_nothing(people, issuer):
    person = bearer(token(issuer, "staff"))
    assert people.http.get("/whoami", headers=person).json_body["communities"] == []
    assert people.http.get("/communities/demo/apikeys", headers=person).status_code == 404


def test_two_people_with_the_same_idempotency_key_get_their_own_keys(people, issuer):
    body = as_json({"name": "Feed", "roles": ["ic_viewer"]})
    made = []
    for sub in ("person-a", "person-b"):
        headers = {**bearer(token(issuer, "demo:community_admin", sub=sub)), "Idempotency-Key": "same"}
        made.append(people.http.post("/communities/demo/apikeys", headers=headers, body=body).json_body["api_key"])
    assert made[0]["id"] != made[1]["id"]
    assert [key["created_by"] for key in made] == ["user:person-a", "user:person-b"]


def test_api_keys_still_work_beside_tokens(people, admin):
    _, secret = admin
    assert people.http.get("/communities/demo/apikeys", headers=bearer(secret)).status_code == 200
    assert people.http.get("/whoami", headers=bearer(secret)).json_body["id"] == admin[0]


def test_a_cognito_access_token_signs_a_person_in(people, issuer):
    claims = issuer.claims(token_use="access", aud=None, client_id=CLIENT_ID, username="bob")
    claims.pop("cognito:username")
    answer = people.http.get("/whoami", headers=bearer(issuer.sign(claims)))
    assert answer.status_code == 200 and answer.json_body["name"] == "bob"


# -- every forged or stale token: the same 401 ----------------------------------------------------


def _forged(issuer: Issuer) -> dict[str, str]:
    now = int(time.time())
    good = token(issuer, "demo:community_admin")
    attacker = Issuer(issuer.url, owner="attacker")
    attacker.add_key("attacker-1")
    claims = issuer.claims()
    return {
        "alg none": forge({"alg": "none", "kid": "rsa-1"}, claims),
        "HS256 keyed with the public key": forge(
            {"alg": "HS256", "kid": "rsa-1"}, claims, hmac_key=issuer.public_pem()
        ),
        "a kid not the issuer's": attacker.sign(claims, kid="attacker-1"),
        "unknown kid": forge({"alg": "RS256", "kid": "someone-elses"}, claims, hmac_key=b"x"),
        "another key under the issuer's kid": attacker.sign(claims),
        "jku pointing elsewhere": attacker.sign(claims, jku=f"{issuer.url}/../attacker.json", x5u="https://x.test/c"),
        "another issuer": issuer.sign(issuer.claims(iss=issuer.url + "/")),
        "another client": issuer.sign(issuer.claims(aud="someone-else")),
        "an access token for another client": issuer.sign(issuer.claims(token_use="access", client_id="x")),
        "a refresh token_use": issuer.sign(issuer.claims(token_use="refresh")),
        "expired beyond the leeway": issuer.sign(issuer.claims(exp=now - 61, iat=now - 3600)),
        "not valid yet": issuer.sign(issuer.claims(nbf=now + 3600)),
        "issued in the future": issuer.sign(issuer.claims(iat=now + 3600, exp=now + 7200)),
        "claims changed after signing": with_claims(good, **{"cognito:groups": ["acme:community_admin"]}),
        "oversized": issuer.sign(issuer.claims(pad="x" * 9000)),
        "not a token": "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",
    }


FORGED_CASES = [
    "alg none", "HS256 keyed with the public key", "a kid not the issuer's", "unknown kid",
    "another key under the issuer's kid", "jku pointing elsewhere", "another issuer", "another client",
    "an access token for another client", "a refresh token_use", "expired beyond the leeway", "not valid yet",
    "issued in the future", "claims changed after signing", "oversized", "not a token",
]  # fmt: skip


@pytest.mark.parametrize("case", FORGED_CASES)
def test_every_forged_or_stale_token_is_the_same_401_and_never_logged(people, issuer, server, capsys, caplog, case):
    bad = _forged(issuer)[case]
    for path in ("/whoami", "/communities/demo/apikeys"):
        answer = people.http.get(path, headers=bearer(bad))
        assert answer.status_code == 401, (case, answer.body)
        assert answer.json_body == {"message": "Unauthorized"}
    lines = decisions(capsys)
    assert [line["outcome"] for line in lines] == ["unauthorized", "unauthorized"]
    assert all(line["reason"].startswith("token:") for line in lines), lines
    logged = json.dumps(lines) + caplog.text
    assert not any(part and len(part) >= 8 and part in logged for part in bad.split(".")), "a token part was logged"
    assert all(not path.startswith("/attacker") and "x.test" not in path for path in server.requests)


def test_keys_that_cannot_be_fetched_give_401_and_the_next_request_tries_again(people, issuer, server, capsys):
    person = bearer(token(issuer, "demo:community_admin"))
    server.failing = True
    assert people.http.get("/whoami", headers=person).status_code == 401
    assert [line["reason"] for line in decisions(capsys)] == ["token:keys unavailable"]
    server.failing = False
    assert people.http.get("/whoami", headers=person).status_code == 200


def test_a_person_is_named_in_the_decision_log_never_their_token(people, issuer, capsys):
    good = token(issuer, "demo:community_admin")
    assert people.http.get("/whoami", headers=bearer(good)).status_code == 200
    [line] = decisions(capsys)
    assert line["outcome"] == "allow" and line["key_id"] == f"user:{SUB}"
    assert not any(part in json.dumps(line) for part in good.split("."))


# -- without an issuer nothing changes ----------------------------------------------------------------


def test_without_an_issuer_a_token_is_a_malformed_key(client, capsys):
    stranger = Issuer(owner="stranger")
    answer = client.http.get("/whoami", headers=bearer(stranger.sign()))
    assert answer.status_code == 401
    assert [line["reason"] for line in decisions(capsys)] == ["malformed"]


# -- moto's Cognito: real tokens of a user pool ----------------------------------------------------------


def test_tokens_of_motos_cognito_sign_a_person_in(moto_aws, moto_server, monkeypatch):
    """A user pool (in-process moto, as the tables are), a person in two groups, and the tokens
    InitiateAuth USER_PASSWORD_AUTH hands out; the JWKS served over HTTP by moto's server (every
    moto signs with the same key)."""
    import boto3
    from chalice.test import Client

    from app import app
    from chalicelib.settings import get_settings

    cognito = boto3.client("cognito-idp")
    pool = cognito.create_user_pool(PoolName="people")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="console", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=pool, Username="carol", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username="carol", Password="Secret-Pass1", Permanent=True)
    for group in ("demo:community_admin", "acme:ic_viewer"):
        cognito.create_group(UserPoolId=pool, GroupName=group)
        cognito.admin_add_user_to_group(UserPoolId=pool, Username="carol", GroupName=group)
    signed_in = cognito.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=client_id,
        AuthParameters={"USERNAME": "carol", "PASSWORD": "Secret-Pass1"},
    )["AuthenticationResult"]
    monkeypatch.setenv("APIKEYS_OIDC_ISSUER", f"https://cognito-idp.us-east-1.amazonaws.com/{pool}")
    monkeypatch.setenv("APIKEYS_OIDC_AUDIENCE", client_id)
    monkeypatch.setenv("APIKEYS_OIDC_JWKS_URL", f"{moto_server}/{pool}/.well-known/jwks.json")
    wiring.reset()
    get_settings()  # read now: chalice's test client puts its stage's settings in the environment
    with Client(app) as client:
        _carol_at_work(client, cognito, pool, signed_in)


def _carol_at_work(client: Any, cognito: Any, pool: str, signed_in: dict[str, str]) -> None:

    for kind in ("IdToken", "AccessToken"):
        who = client.http.get("/whoami", headers=bearer(signed_in[kind]))
        assert who.status_code == 200, (kind, who.body)
        assert who.json_body["name"] == "carol"
        assert {c["community"]: c["roles"] for c in who.json_body["communities"]} == {
            "demo": ["community_admin"], "acme": ["ic_viewer"],
        }  # fmt: skip
    listed = client.http.get("/communities/demo/apikeys", headers=bearer(signed_in["IdToken"]))
    assert listed.status_code == 200
    # A pool's tokens for another app client are not the console's.
    other = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="other", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    elsewhere = cognito.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH", ClientId=other, AuthParameters={"USERNAME": "carol", "PASSWORD": "Secret-Pass1"}
    )["AuthenticationResult"]
    for kind in ("IdToken", "AccessToken"):
        assert client.http.get("/whoami", headers=bearer(elsewhere[kind])).status_code == 401
