"""Where this service's log lines go, set once per container from the settings.

Chalice sets the ``apikeys`` logger (its app name) to ERROR unless debug is on, which would
silence every INFO line; the level here comes from ``APIKEYS_LOG_LEVEL`` instead. Authorizer
decisions are written as bare JSON lines on stdout, one per decision, which Lambda ships to
CloudWatch as they are.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

DECISIONS = "apikeys.authorizer"
_decisions = logging.getLogger(DECISIONS)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is when a line is emitted (runtimes and tests swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)
        self.setFormatter(logging.Formatter("%(message)s"))

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure(level: str) -> None:
    """Idempotent: safe to call each time the container's objects are (re)built."""
    numeric = logging.getLevelName(level.strip().upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    logging.getLogger("apikeys").setLevel(numeric)
    # Their DEBUG lines carry whole requests and answers, key hashes included: never below WARNING,
    # whatever level this service or the runtime's root logger is set to.
    for chatty in ("botocore", "boto3", "urllib3", "pynamodb", "hvac"):
        logging.getLogger(chatty).setLevel(max(numeric, logging.WARNING))
    _decisions.setLevel(numeric)
    if not any(isinstance(handler, _StdoutHandler) for handler in _decisions.handlers):
        _decisions.addHandler(_StdoutHandler())
    _decisions.propagate = False


def decision(line: str) -> None:
    """Write one decision line. With the handler ``configure`` installs, straight to stdout:
    a LogRecord costs more than the rest of a malformed-key rejection. With any other
    handling (a test's, a deployment's own logging setup), through the logger."""
    handlers = _decisions.handlers
    if len(handlers) == 1 and type(handlers[0]) is _StdoutHandler and not _decisions.propagate:
        sys.stdout.write(line + "\n")
    else:
        _decisions.info(line)
