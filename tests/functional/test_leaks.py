"""Leaked-key reports in GitHub's secret scanning partner format, over HTTP, signed for real."""

from __future__ import annotations

import base64
import json
import re

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import bearer, make_key

KEY_IDENTIFIER = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a"


def pem(private_key: ec.EllipticCurvePrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
def github(monkeypatch, moto_aws):
    """A signing key of our own standing in for GitHub's, configured as a trusted public key."""
    from chalicelib import wiring

    private_key = ec.generate_private_key(ec.SECP256R1())
    monkeypatch.setenv("APIKEYS_LEAK_PUBLIC_KEYS", json.dumps({KEY_IDENTIFIER: pem(private_key)}))
    wiring.reset()
    return private_key


def report(client, private_key, tokens, *, identifier=KEY_IDENTIFIER, tamper=None):
    body = json.dumps(
        [{"token": t, "type": "apikeys_api_key", "url": "https://github.com/o/r/blob/x/config.py", "source": "content"}
         for t in tokens]
    ).encode()  # fmt: skip
    signature = base64.b64encode(private_key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()
    if tamper is not None:
        body = tamper(body)
    headers = {
        "Content-Type": "application/json",
        "Github-Public-Key-Identifier": identifier,
        "Github-Public-Key-Signature": signature,
    }
    return client.http.post("/leaks/github", headers=headers, body=body)


def key_view(client, secret, key_id, community="demo"):
    return client.http.get(f"/communities/{community}/apikeys/{key_id}", headers=bearer(secret)).json_body


def test_a_reported_active_key_is_revoked_with_the_reason(github, client, admin):
    _, admin_secret = admin
    key_id, secret = make_key(roles=("ic_viewer",))
    forged = "apk_" + "A" * 46  # the right shape, a wrong checksum
    _, other_secret = make_key(community="other", roles=("ic_viewer",))

    answer = report(client, github, [secret, forged, other_secret])

    assert answer.status_code == 200, answer.body
    assert answer.json_body == [
        {"token_raw": secret, "token_type": "apikeys_api_key", "label": "true_positive"},
        {"token_raw": forged, "token_type": "apikeys_api_key", "label": "false_positive"},
        {"token_raw": other_secret, "token_type": "apikeys_api_key", "label": "true_positive"},
    ]
    view = key_view(client, admin_secret, key_id)
    assert view["status"] == "revoked" and view["revoked_by"] == "leak-report"
    assert client.http.get("/whoami", headers=bearer(secret)).status_code == 401
    trail = client.http.get(f"/communities/demo/apikeys/{key_id}/events", headers=bearer(admin_secret)).json_body
    revoke = trail["items"][0]
    assert revoke["action"] == "revoke" and revoke["actor"] == "leak-report"
    assert "GitHub secret scanning" in revoke["details"]["reason"]
    assert "https://github.com/o/r/blob/x/config.py" in revoke["details"]["reason"]
    assert client.http.get("/whoami", headers=bearer(other_secret)).status_code == 401


def test_a_token_with_our_id_but_another_secret_is_a_false_positive(github, client, admin):
    from chalicelib.keys import format as key_format

    _, admin_secret = admin
    key_id, secret = make_key(roles=("ic_viewer",))
    lookalike = key_format.generate("apk", key_id=key_id).plaintext  # valid checksum, same id, other secret

    answer = report(client, github, [lookalike])

    assert answer.json_body[0]["label"] == "false_positive"
    assert key_view(client, admin_secret, key_id)["status"] == "active"


def test_an_already_revoked_key_is_ours_and_stays_as_it_was(github, client, admin):
    _, admin_secret = admin
    key_id, secret = make_key(roles=("ic_viewer",))
    client.http.post(f"/communities/demo/apikeys/{key_id}/revoke", headers=bearer(admin_secret))

    answer = report(client, github, [secret, secret])

    assert [item["label"] for item in answer.json_body] == ["true_positive", "true_positive"]
    view = key_view(client, admin_secret, key_id)
    assert view["revoked_by"].startswith("key:")


@pytest.mark.parametrize(
    "how",
    ["tampered body", "unknown identifier", "foreign key", "no signature"],
)
def test_an_unverified_report_revokes_nothing(github, client, admin, how):
    _, admin_secret = admin
    key_id, secret = make_key(roles=("ic_viewer",))
    if how == "tampered body":
        answer = report(client, github, [secret], tamper=lambda body: body.replace(b"content", b"contenT"))
    elif how == "unknown identifier":
        answer = report(client, github, [secret], identifier="not-a-known-key")
    elif how == "foreign key":
        answer = report(client, ec.generate_private_key(ec.SECP256R1()), [secret])
    else:
        unsigned = json.dumps([{"token": secret, "type": "t", "url": "", "source": ""}])
        answer = client.http.post("/leaks/github", headers={"Content-Type": "application/json"}, body=unsigned)

    assert answer.status_code == 401
    assert secret not in answer.body.decode()
    assert key_view(client, admin_secret, key_id)["status"] == "active"


def test_a_signed_but_malformed_report_is_a_400(github, client, admin):
    body = json.dumps({"token": "x"}).encode()
    signature = base64.b64encode(github.sign(body, ec.ECDSA(hashes.SHA256()))).decode()
    answer = client.http.post(
        "/leaks/github",
        headers={"Content-Type": "application/json", "Github-Public-Key-Identifier": KEY_IDENTIFIER,
                 "Github-Public-Key-Signature": signature},
        body=body,
    )  # fmt: skip
    assert answer.status_code == 400


def test_without_configured_keys_the_endpoint_accepts_nothing(client, admin):
    _, secret = admin
    answer = client.http.post("/leaks/github", headers={"Content-Type": "application/json"},
                              body=json.dumps([{"token": secret, "type": "t", "url": "", "source": ""}]))  # fmt: skip
    assert answer.status_code == 401
    assert client.http.get("/whoami", headers=bearer(secret)).status_code == 200


def test_the_documented_pattern_matches_keys_and_not_lookalikes(moto_aws):
    from chalicelib.keys import format as key_format

    pattern = re.compile(key_format.key_pattern("apk"))
    _, secret = make_key()
    assert pattern.search(f"token = '{secret}'").group(0) == secret
    assert not pattern.search("apk_short")
    assert key_format.key_pattern("apk") == r"\bapk_[0-9A-Za-z]{46}\b"
