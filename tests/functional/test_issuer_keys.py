"""The issuer's keys over real HTTP: a loopback server publishes the discovery document and the
JWKS; a slow, failing or oversized answer refuses the token, and the next request tries again."""

from __future__ import annotations

import functools

import pytest

from chalicelib.authorizer import tokens
from chalicelib.authorizer.tokens import InvalidToken, IssuerKeys, KeysUnavailable, TokenVerifier
from tests.oidc import CLIENT_ID, IssuerServer, serving_issuer


@pytest.fixture
def server() -> IssuerServer:
    with serving_issuer() as running:
        yield running


def verifier(
    server: IssuerServer, *, jwks_url: str | None, timeout: float = tokens.FETCH_TIMEOUT_SECONDS
) -> TokenVerifier:
    keys = IssuerKeys(server.issuer.url, jwks_url, fetch=functools.partial(tokens.fetch_json, timeout=timeout))
    return TokenVerifier(issuer=server.issuer.url, audiences=[CLIENT_ID], keys=keys)


def test_keys_found_by_discovery_verify_a_token(server):
    person = verifier(server, jwks_url=None).verify(server.issuer.sign())
    assert person.name == "alice"
    assert server.requests == ["/pool/.well-known/openid-configuration", "/pool/jwks.json"]


def test_keys_at_a_configured_url_are_fetched_once(server):
    checking = verifier(server, jwks_url=server.jwks_url)
    for kid in ("rsa-1", "ec-1", "rsa-1"):
        checking.verify(server.issuer.sign(kid=kid))
    assert server.requests == ["/pool/jwks.json"]


def test_an_issuer_that_does_not_answer_in_time_refuses_and_the_next_request_tries_again(server):
    checking = verifier(server, jwks_url=server.jwks_url, timeout=0.3)
    server.stalled = True
    with pytest.raises(KeysUnavailable):
        checking.verify(server.issuer.sign())
    server.stalled = False
    assert checking.verify(server.issuer.sign()).name == "alice"
    assert server.fetches() == 2


def test_an_issuer_that_fails_refuses_and_the_next_request_tries_again(server):
    checking = verifier(server, jwks_url=None)
    server.failing = True
    with pytest.raises(KeysUnavailable):
        checking.verify(server.issuer.sign())
    server.failing = False
    assert checking.verify(server.issuer.sign()).name == "alice"


@pytest.mark.parametrize("body", [b"<html>not json</html>", b" " * (tokens.MAX_DOCUMENT_BYTES + 1)])
def test_a_document_that_is_not_json_or_too_large_refuses(server, body):
    server.body = body
    with pytest.raises(KeysUnavailable):
        verifier(server, jwks_url=server.jwks_url).verify(server.issuer.sign())


def test_an_endless_document_is_cut_off_at_the_limit_not_read_to_its_end(server):
    server.body, server.endless = b" " * (tokens.MAX_DOCUMENT_BYTES + 1), True
    with pytest.raises(KeysUnavailable):
        verifier(server, jwks_url=server.jwks_url, timeout=30).verify(server.issuer.sign())
    assert not server.gave_up  # refused while the issuer was still sending
    server.released.set()


def test_a_document_at_the_size_limit_is_read(server):
    # The padding inside the document: a byte short of it would not be JSON.
    opening, closing = b'{"keys": [], "padding": "', b'"}'
    server.body = opening + b"x" * (tokens.MAX_DOCUMENT_BYTES - len(opening) - len(closing)) + closing
    with pytest.raises(InvalidToken) as caught:
        verifier(server, jwks_url=server.jwks_url).verify(server.issuer.sign())
    assert caught.value.reason == "token:unknown kid"  # read, and it has no keys


def test_a_jwks_url_that_is_not_served_refuses(server):
    with pytest.raises(KeysUnavailable):
        verifier(server, jwks_url=f"{server.base}/elsewhere.json").verify(server.issuer.sign())
