"""The public keys GitHub signs leak reports with, fetched at run time and kept per container.

GitHub's secret scanning documentation says to fetch them from
``https://api.github.com/meta/public_keys/secret_scanning`` (``{"public_keys": [{"key_identifier",
"key" (PEM), "is_current"}]}``) and to pick the one the report's ``Github-Public-Key-Identifier``
names, so a key GitHub rotates in is trusted without a redeployment. The list is fetched on the
first report and kept; a report naming an identifier the list lacks fetches it again, at most once
a minute (a flood of made-up identifiers costs GitHub one request a minute per container). A
fetch that fails, times out or answers something else than that shape refuses the report with
``KeysUnavailable`` (503: the sender retries), never a 500.

``APIKEYS_LEAK_PUBLIC_KEYS`` fixes the keys instead (nothing fetched); ``APIKEYS_LEAK_KEYS_URL``
names another list (a mirror, a test server on loopback), or none: ``""`` accepts no report.
Standard library only (``urllib``): one GET with a short timeout needs no HTTP client.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping

REFETCH_SECONDS = 60.0
TIMEOUT_SECONDS = 3.0  # inside API Gateway's 29 s with room for the report's reads and revokes
MAX_BYTES = 256 * 1024  # today's list is ~1 kB


class KeysUnavailable(Exception):
    """The signing keys could not be fetched: nothing in the report is acted upon, the sender retries."""


def fetch(url: str, timeout_seconds: float = TIMEOUT_SECONDS) -> dict[str, str]:
    """One GET of the list: ``{key identifier: PEM}``."""
    import urllib.request
    from urllib.error import URLError

    request = urllib.request.Request(  # noqa: S310 - settings take https:// or loopback http:// only
        url, headers={"Accept": "application/json", "User-Agent": "apikeys-leak-reports"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as answer:  # noqa: S310
            body = answer.read(MAX_BYTES + 1)
    except (URLError, OSError, ValueError) as error:  # HTTPError is a URLError; a timeout an OSError
        raise KeysUnavailable(f"GET {url}: {getattr(error, 'reason', error)}") from error
    if len(body) > MAX_BYTES:
        raise KeysUnavailable(f"GET {url}: more than {MAX_BYTES} bytes")
    try:
        entries = json.loads(body)["public_keys"]
        keys = {str(e["key_identifier"]): str(e["key"]) for e in entries if e["key_identifier"] and e["key"]}
    except (ValueError, KeyError, TypeError) as error:
        raise KeysUnavailable(f"GET {url}: not a list of public keys") from error
    if not keys:
        raise KeysUnavailable(f"GET {url}: no public key listed")
    return keys


class LeakSigningKeys:
    """The keys a report may be signed with: fixed ones, or GitHub's list fetched and kept."""

    def __init__(
        self,
        url: str,
        *,
        fixed: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        refetch_seconds: float = REFETCH_SECONDS,
    ) -> None:
        self.url = url
        self.fixed = dict(fixed or {})
        self._clock = clock
        self.refetch_seconds = refetch_seconds
        self._keys: dict[str, str] | None = None
        self._fetched_at: float | None = None  # the last attempt, failed or not
        self._failed = False
        self._lock = threading.Lock()

    def for_identifier(self, key_identifier: str | None) -> Mapping[str, str]:
        """The keys to verify a report naming ``key_identifier`` against. NotConfigured when
        neither fixed keys nor a URL are set; KeysUnavailable when the list cannot be had."""
        if self.fixed:
            return self.fixed
        if not self.url:
            from chalicelib.keys.leaks import NotConfigured  # the reports' module; settings import this one

            raise NotConfigured()
        with self._lock:
            if self._keys is not None and (not key_identifier or key_identifier in self._keys):
                return self._keys
            if self._fetched_at is None or self._clock() - self._fetched_at >= self.refetch_seconds:
                self._fetched_at = self._clock()
                try:
                    self._keys = fetch(self.url)
                except KeysUnavailable:
                    self._failed = True
                    raise
                self._failed = False
            elif self._keys is None or self._failed:
                # Within the minute after a failed fetch: GitHub may have rotated its key in.
                raise KeysUnavailable(f"GET {self.url} failed less than {self.refetch_seconds:.0f} s ago")
            return self._keys  # an identifier still unknown: the signature check refuses it
