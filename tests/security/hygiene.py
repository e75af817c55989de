"""Secret hygiene over the whole test session: a pytest plugin that collects every log line,
every error body and every authorizer context, and fails the run if any holds a secret or a
hash made during the session.

Registered from ``tests/conftest.py`` so that it watches every suite, not only tests/security.
Secrets and hashes are learnt by wrapping ``key_format.generate`` and ``key_format.hash_key`` (in this
process) and from ``remember`` (keys made by a subprocess, read from its create answers).
Texts from outside this process (a local run's log) are handed to ``inspect``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests import worker_share

SECRET_PART = 24  # the random part of a key; its presence anywhere is a leak
HASH_HALF = 32
_RUN = re.compile(rf"[0-9A-Za-z]{{{min(SECRET_PART, HASH_HALF)},}}")


@dataclass
class Ledger:
    secret_parts: set[str] = field(default_factory=set)
    hash_halves: set[str] = field(default_factory=set)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (where, text)
    inspected: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def remember(self, plaintext: str) -> None:
        body = plaintext.rpartition("_")[2]
        if len(body) >= 16 + SECRET_PART:
            with self.lock:
                self.secret_parts.add(body[16 : 16 + SECRET_PART])

    def remember_hash(self, key_hash: str) -> None:
        with self.lock:
            self.hash_halves.update((key_hash[:HASH_HALF], key_hash[HASH_HALF:]))

    def inspect(self, where: str, text: str) -> None:
        if not text:
            return
        with self.lock:
            self.texts.append((where, text))
            self.inspected[where] = self.inspected.get(where, 0) + 1

    def leaks(self, texts: list[tuple[str, str]] | None = None) -> list[str]:
        found = []
        for where, text in self.texts if texts is None else texts:
            for run in _RUN.findall(text):
                if self._holds_secret(run):
                    found.append(f"{where}: {text[:200]!r}")
                    break
        return found

    def _holds_secret(self, run: str) -> bool:
        for width, known in ((SECRET_PART, self.secret_parts), (HASH_HALF, self.hash_halves)):
            for start in range(len(run) - width + 1):
                if run[start : start + width] in known:
                    return True
        return False


LEDGER = Ledger()


class _Collector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
        except Exception:  # noqa: BLE001 - a bad log call is the logger's problem, not ours
            return
        LEDGER.inspect("log", text)


def remember(plaintext: str) -> None:
    LEDGER.remember(plaintext)


def inspect(where: str, text: str) -> None:
    LEDGER.inspect(where, text)


class HygienePlugin:
    """Installed once per session; see the module docstring."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def pytest_configure(self, config: Any) -> None:
        worker_share.prepare(config)
        from chalice import app as chalice_app

        from chalicelib.keys import format as key_format

        handler = _Collector(level=logging.DEBUG)
        root = logging.getLogger()
        root.addHandler(handler)
        self._undo.append(lambda: root.removeHandler(handler))
        # Authorizer decisions do not propagate (chalicelib.logs writes them to stdout): watch them there.
        decisions = logging.getLogger("apikeys.authorizer")
        decisions.addHandler(handler)
        self._undo.append(lambda: decisions.removeHandler(handler))
        for name in ("apikeys", "chalicelib", "app"):
            logger = logging.getLogger(name)
            previous = logger.level
            logger.setLevel(logging.DEBUG)
            self._undo.append(lambda logger=logger, previous=previous: logger.setLevel(previous))

        self._wrap(key_format, "generate", lambda result: LEDGER.remember(result.plaintext))
        self._wrap(key_format, "hash_key", LEDGER.remember_hash)

        original_response = chalice_app.Response.to_dict

        def response_to_dict(response: Any, binary_types: Any = None) -> Any:
            result = original_response(response, binary_types)
            if int(result.get("statusCode", 200)) >= 400:
                LEDGER.inspect("error body", str(result.get("body", "")))
            return result

        chalice_app.Response.to_dict = response_to_dict  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(chalice_app.Response, "to_dict", original_response))

        original_auth = chalice_app.AuthResponse.to_dict

        def auth_to_dict(response: Any, request: Any) -> Any:
            result = original_auth(response, request)
            LEDGER.inspect("authorizer context", json.dumps(result.get("context", {})) + result.get("principalId", ""))
            return result

        chalice_app.AuthResponse.to_dict = auth_to_dict  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(chalice_app.AuthResponse, "to_dict", original_auth))

    def _wrap(self, module: Any, name: str, observe: Callable[[Any], None]) -> None:
        original = getattr(module, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            observe(result)
            return result

        setattr(module, name, wrapper)
        self._undo.append(lambda: setattr(module, name, original))

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        self.found = LEDGER.leaks()
        self.secrets, self.hashes = len(LEDGER.secret_parts), len(LEDGER.hash_halves) // 2
        self.inspected = dict(LEDGER.inspected)
        if worker_share.is_worker(session.config):
            # Under xdist each worker checks its own tests; the controller adds them up and fails.
            payload = {"found": self.found, "secrets": self.secrets, "hashes": self.hashes}
            worker_share.write(session.config, "hygiene", {**payload, "inspected": self.inspected})
            return
        for share in worker_share.read_all("hygiene"):
            self.found += share["found"]
            self.secrets += share["secrets"]
            self.hashes += share["hashes"]
            for where, n in share["inspected"].items():
                self.inspected[where] = self.inspected.get(where, 0) + n
        if self.found and session.exitstatus == 0:
            session.exitstatus = 1

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        inspected = getattr(self, "inspected", {})
        counts = ", ".join(f"{n} {where}s" for where, n in sorted(inspected.items()))
        terminalreporter.write_line(
            f"secret hygiene: {getattr(self, 'secrets', 0)} secrets and {getattr(self, 'hashes', 0)} hashes "
            f"looked for in {counts or 'nothing'}: {len(getattr(self, 'found', []))} leaks"
        )
        for leak in getattr(self, "found", [])[:20]:
            terminalreporter.write_line(f"  LEAK {leak}", red=True)

    def pytest_unconfigure(self, config: Any) -> None:
        while self._undo:
            self._undo.pop()()
