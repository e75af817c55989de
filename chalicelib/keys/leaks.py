"""Leaked-key reports in the form GitHub's secret scanning partner program sends them.

GitHub POSTs a JSON list of ``{"token", "type", "url", "source"}`` with the headers
``Github-Public-Key-Identifier`` and ``Github-Public-Key-Signature`` (base64 of an ECDSA
P-256 / SHA-256 DER signature over the raw body). The body is trusted only once the signature
verifies against the public key of that identifier: GitHub's current list, fetched at run time
(``leak_keys.py``), or the keys ``APIKEYS_LEAK_PUBLIC_KEYS`` fixes. Each token
is then looked up like the authorizer does (parse, key id, consistent read, hash compare), the
reads of a whole report batched;
an active key is revoked with the report recorded as its reason, actor ``leak-report``.
The answer labels every token ``true_positive`` (one of our keys, whatever its state) or
``false_positive``. A token is never logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chalicelib.errors import Conflict
from chalicelib.keys import format as key_format
from chalicelib.keys.records import ACTIVE, KeyRecord
from chalicelib.keys.service import KeyService
from chalicelib.roles.caller import Caller

log = logging.getLogger("apikeys.leaks")

ACTOR = "leak-report"
# GitHub documents no maximum ("a JSON array that contains one or more objects"; endpoints
# "should be able to handle requests with a large number of matches"), so the bound is generous:
# 1,000 matches, each with a URL of up to ~900 bytes, fit in the byte bound.
MAX_TOKENS = 1000
REPORT_MAX_BYTES = 1024 * 1024
TEXT_MAX = 300
TRUE_POSITIVE = "true_positive"
FALSE_POSITIVE = "false_positive"


class SignatureError(Exception):
    """The report is not signed by a configured key; nothing in it is acted upon."""


class NotConfigured(SignatureError):
    """No public key is configured: no report can verify, the endpoint accepts nothing."""


@dataclass(frozen=True)
class _LeakReporter(Caller):
    """The operator's rights in the key's community, recorded in the trail as ``leak-report``."""

    @property
    def actor(self) -> str:
        return ACTOR


def verify_signature(
    raw_body: bytes, key_identifier: str | None, signature: str | None, public_keys: Mapping[str, str]
) -> None:
    if not public_keys:
        raise NotConfigured()
    if not key_identifier or not signature or key_identifier not in public_keys:
        raise SignatureError("unknown or missing key identifier or signature")
    # Imported here: only this route needs it, and the authorizer's cold start should not pay for it.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        public_key = serialization.load_pem_public_key(public_keys[key_identifier].encode())
        der = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error, TypeError) as error:
        raise SignatureError("unreadable public key or signature") from error
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
        raise SignatureError("the configured key is not an ECDSA P-256 key")
    try:
        public_key.verify(der, raw_body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as error:
        raise SignatureError("the signature does not verify") from error


class LeakReports:
    def __init__(self, service: KeyService, *, on_revoke: Callable[[str], None] | None = None) -> None:
        self.service = service
        self.on_revoke = on_revoke

    def handle(
        self, raw_body: bytes, key_identifier: str | None, signature: str | None, public_keys: Mapping[str, str]
    ) -> list[dict[str, str]]:
        verify_signature(raw_body, key_identifier, signature, public_keys)
        entries = self.service.bodies.leak_report(raw_body)
        service = self.service
        parsed: dict[str, key_format.ParsedKey | None] = {}
        for entry in entries:
            if entry["token"] not in parsed:
                parsed[entry["token"]] = _parse(entry["token"], service.key_prefix)
        # One batched, consistent read for every well-formed token of the report (BatchGetItem
        # pages of 100), however many there are: a report costs reads by the hundred, not by token.
        records = service.store.get_many(sorted({p.key_id for p in parsed.values() if p is not None}), last_use=False)
        labels: dict[str, str] = {}
        answer = []
        for entry in entries:
            token = entry["token"]
            if token not in labels:
                labels[token] = self._handle_token(parsed[token], records, entry)
            answer.append({"token_raw": token, "token_type": entry["type"], "label": labels[token]})
        return answer

    def _handle_token(
        self, parsed: key_format.ParsedKey | None, records: Mapping[str, KeyRecord], entry: Mapping[str, str]
    ) -> str:
        service = self.service
        if parsed is None:
            return FALSE_POSITIVE
        key = records.get(parsed.key_id)
        if key is None or not key_format.verify(parsed.plaintext, key.key_hash, key.pepper_id, service.peppers):
            log.info(json.dumps({"event": "leak.report", "key_id": parsed.key_id, "outcome": "no such key"}))
            return FALSE_POSITIVE
        # A key already revoked (a replayed report, or GitHub sending the same match twice) is
        # answered from the read alone: no write, no event.
        outcome = "already " + key.status
        if key.status == ACTIVE:
            reason = _reason(entry)
            reporter = _LeakReporter(ACTOR, key.community, (), Caller.operator(key.community).permissions)
            try:
                service.revoke(reporter, key.community, key.key_id, {"reason": reason})
                outcome = "revoked"
                if self.on_revoke is not None:
                    self.on_revoke(key.key_id)
            except Conflict:
                # Changed under us (revoked meanwhile): ours all the same. A store error is not
                # caught: the whole report fails with 503 and GitHub sends it again.
                outcome = "changed meanwhile"
        log.info(
            json.dumps({"event": "leak.report", "key_id": key.key_id, "community": key.community, "outcome": outcome})
        )
        return TRUE_POSITIVE


def _parse(token: str, prefix: str) -> key_format.ParsedKey | None:
    try:
        return key_format.parse(token, prefix)
    except key_format.InvalidKey:
        return None


def _reason(entry: Mapping[str, str]) -> str:
    where = " ".join(part for part in (entry.get("source", ""), entry.get("url", "")) if part)
    text = "leaked: reported by GitHub secret scanning" + (f" ({where})" if where else "")
    # The reason is validated like any revoke reason: printable, bounded.
    return "".join(ch for ch in text if ch.isprintable())[:TEXT_MAX]
