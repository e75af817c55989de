"""The session-wide secret hygiene collector (tests/security/hygiene.py) is installed and would
see a leak: a secret or a hash in a log line, an error body or an authorizer context."""

from __future__ import annotations

import logging

from chalice import app as chalice_app

from chalicelib.keys import format as key_format
from tests.conftest import bearer
from tests.security.hygiene import LEDGER, Ledger


def test_the_collector_watches_this_session() -> None:
    assert chalice_app.Response.to_dict.__name__ == "response_to_dict"
    assert chalice_app.AuthResponse.to_dict.__name__ == "auth_to_dict"
    made = key_format.generate("apk").plaintext
    assert made.split("_")[1][16:40] in LEDGER.secret_parts


def test_a_leak_anywhere_would_be_found() -> None:
    ledger = Ledger()
    secret = key_format.generate("apk").plaintext
    key_hash = key_format.hash_key(secret, key_format.Pepper("p", b"x" * 32))
    ledger.remember(secret)
    ledger.remember_hash(key_hash)
    texts = [
        ("log", f"created {secret}"),
        ("log", f"secret part {secret[20:44]} alone"),
        ("error body", f'{{"Message": "hash {key_hash}"}}'),
        ("authorizer context", f'{{"token": "{secret[4:]}"}}'),
        ("log", f"key id {secret[4:20]} and hint {secret[:10]} are public"),
    ]
    assert len(ledger.leaks(texts)) == 4


def test_what_the_app_logs_and_answers_here_holds_no_secret(client, admin, caplog) -> None:
    # The service's own loggers, at their most talkative. (Not the root: botocore's DEBUG lines
    # print whole DynamoDB answers, hashes included; deployments never run botocore at DEBUG.)
    for name in ("apikeys", "chalicelib"):
        caplog.set_level(logging.DEBUG, logger=name)
    _, secret = admin
    client.http.get("/whoami", headers=bearer(secret))
    client.http.get("/whoami", headers=bearer(secret[:-1] + "x"))
    client.http.get("/communities/demo/apikeys?bogus=1", headers=bearer(secret))
    local = Ledger()
    local.remember(secret)
    assert local.leaks([("log", record.getMessage()) for record in caplog.records]) == []
    assert local.leaks(LEDGER.texts) == []
