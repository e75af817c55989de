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


# -- GitHub's signing keys, fetched at run time ---------------------------------------------


class GitHubKeys:
    """A real HTTP server on loopback serving GitHub's ``/meta/public_keys/secret_scanning``."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.status = 200
        self.body: bytes | None = None  # served instead of the list when set
        self.requests = 0
        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                served.requests += 1
                listed = [{"key_identifier": i, "key": pem(k), "is_current": True} for i, k in served.keys.items()]
                body = served.body if served.body is not None else json.dumps({"public_keys": listed}).encode()
                self.send_response(served.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/meta/public_keys/secret_scanning"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add_key(self) -> tuple[str, ec.EllipticCurvePrivateKey]:
        private_key = ec.generate_private_key(ec.SECP256R1())
        identifier = f"{len(self.keys):064x}"
        self.keys[identifier] = private_key
        return identifier, private_key


@pytest.fixture
def github_keys(monkeypatch, moto_aws):
    """GitHub's key list on loopback, which the app is configured to fetch (no fixed keys)."""
    from chalicelib import wiring

    served = GitHubKeys()
    served.thread.start()
    monkeypatch.setenv("APIKEYS_LEAK_KEYS_URL", served.url)
    monkeypatch.delenv("APIKEYS_LEAK_PUBLIC_KEYS", raising=False)
    wiring.reset()
    yield served
    served.server.shutdown()
    served.server.server_close()
    served.thread.join()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_report_signed_with_a_key_from_githubs_list_revokes_and_the_list_is_kept(github_keys, client, admin):
    _, admin_secret = admin
    github_keys.add_key()
    identifier, private_key = github_keys.add_key()
    key_id, secret = make_key(roles=("ic_viewer",))
    other_id, other_secret = make_key(roles=("ic_viewer",))

    first = report(client, private_key, [secret], identifier=identifier)
    second = report(client, private_key, [other_secret], identifier=identifier)

    assert first.status_code == 200 and first.json_body[0]["label"] == "true_positive", first.body
    assert second.status_code == 200
    assert key_view(client, admin_secret, key_id)["status"] == "revoked"
    assert key_view(client, admin_secret, other_id)["status"] == "revoked"
    assert github_keys.requests == 1, "one fetch serves every report naming a listed key"


def test_a_key_github_rotates_in_is_fetched_at_most_once_a_minute(github_keys):
    from chalicelib.keys.leak_keys import LeakSigningKeys

    old_id, _ = github_keys.add_key()
    clock = Clock()
    keys = LeakSigningKeys(github_keys.url, clock=clock)
    assert set(keys.for_identifier(old_id)) == {old_id}
    new_id, _ = github_keys.add_key()  # rotated in at GitHub

    for _ in range(5):  # a flood of reports naming it (or made-up ids) within the minute
        assert new_id not in keys.for_identifier(new_id)
    assert github_keys.requests == 1
    clock.now += 60
    assert set(keys.for_identifier(new_id)) == {old_id, new_id}
    assert github_keys.requests == 2
    clock.now += 60
    assert set(keys.for_identifier(old_id)) == {old_id, new_id} and github_keys.requests == 2


@pytest.mark.parametrize(
    "fault", ["answers 500", "answers HTML", "lists no key", "entry without a key", "refuses the connection"]
)
def test_keys_that_cannot_be_fetched_refuse_the_report_with_503_and_change_nothing(github_keys, client, admin, fault):
    _, admin_secret = admin
    identifier, private_key = github_keys.add_key()
    key_id, secret = make_key(roles=("ic_viewer",))
    if fault == "answers 500":
        github_keys.status = 500
    elif fault == "answers HTML":
        github_keys.body = b"<html>rate limited</html>"
    elif fault == "lists no key":
        github_keys.body = b'{"public_keys": []}'
    elif fault == "entry without a key":
        github_keys.body = json.dumps({"public_keys": [{"key_identifier": identifier}]}).encode()
    else:
        github_keys.server.server_close()  # nothing listens on the port any more

    answer = report(client, private_key, [secret], identifier=identifier)

    assert answer.status_code == 503, answer.body
    assert "signing keys" in answer.json_body["Message"] and secret not in answer.body.decode()
    assert key_view(client, admin_secret, key_id)["status"] == "active"


def test_after_a_failed_fetch_reports_are_refused_until_a_minute_has_passed(github_keys):
    from chalicelib.keys.leak_keys import KeysUnavailable, LeakSigningKeys

    identifier, _ = github_keys.add_key()
    github_keys.status = 502
    clock = Clock()
    keys = LeakSigningKeys(github_keys.url, clock=clock)
    for _ in range(3):
        with pytest.raises(KeysUnavailable):
            keys.for_identifier(identifier)
    assert github_keys.requests == 1
    github_keys.status = 200
    clock.now += 60
    assert set(keys.for_identifier(identifier)) == {identifier} and github_keys.requests == 2


def test_fixed_keys_override_the_list_which_is_never_fetched(github_keys, monkeypatch, client, admin):
    from chalicelib import wiring

    _, admin_secret = admin
    private_key = ec.generate_private_key(ec.SECP256R1())
    monkeypatch.setenv("APIKEYS_LEAK_PUBLIC_KEYS", json.dumps({KEY_IDENTIFIER: pem(private_key)}))
    wiring.reset()
    key_id, secret = make_key(roles=("ic_viewer",))

    answer = report(client, private_key, [secret])

    assert answer.status_code == 200 and key_view(client, admin_secret, key_id)["status"] == "revoked"
    assert github_keys.requests == 0


@pytest.mark.parametrize(
    "url", ["http://keys.example.com/meta/public_keys/secret_scanning", "file:///etc/passwd", "ftp://127.0.0.1/k"]
)
def test_keys_are_fetched_over_https_only_or_from_loopback(monkeypatch, url):
    from chalicelib.errors import SettingsError
    from chalicelib.settings import from_environ

    with pytest.raises(SettingsError, match="APIKEYS_LEAK_KEYS_URL"):
        from_environ({"APIKEYS_LEAK_KEYS_URL": url, "APIKEYS_PEPPERS": "p:" + base64.b64encode(b"p" * 32).decode()})
    assert from_environ({"APIKEYS_PEPPERS": "p:" + base64.b64encode(b"p" * 32).decode()}).leak_keys_url == (
        "https://api.github.com/meta/public_keys/secret_scanning"
    )
