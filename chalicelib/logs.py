"""Where this service's log lines go, set once per container from the settings.

Chalice sets the ``apikeys`` logger (its app name) to ERROR unless debug is on, which would
silence every INFO line; the level here comes from ``APIKEYS_LOG_LEVEL`` instead. Authorizer
decisions are written as bare JSON lines on stdout, one per decision, which Lambda ships to
CloudWatch as they are.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TextIO

DECISIONS = "apikeys.authorizer"
_decisions = logging.getLogger(DECISIONS)
# The Lambda request id of the invocation being answered; each face sets it (``lambda_request``).
_request_id: ContextVar[str] = ContextVar("apikeys_request_id", default="")


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


@contextlib.contextmanager
def lambda_request(context: object) -> Iterator[None]:
    """While one invocation runs, its Lambda request id (``context.aws_request_id``) is the one
    its decision lines carry: API Gateway's access log names it (``authorizerRequestId``), so a
    request's line there and its decision here join on it."""
    token = _request_id.set(str(getattr(context, "aws_request_id", "") or ""))
    try:
        yield
    finally:
        _request_id.reset(token)


def request_id() -> str:
    """The current invocation's Lambda request id, or "" outside one."""
    return _request_id.get()


def decision(line: str) -> None:
    """Write one decision line. With the handler ``configure`` installs, straight to stdout:
    a LogRecord costs more than the rest of a malformed-key rejection. With any other
    handling (a test's, a deployment's own logging setup), through the logger."""
    handlers = _decisions.handlers
    if len(handlers) == 1 and type(handlers[0]) is _StdoutHandler and not _decisions.propagate:
        sys.stdout.write(line + "\n")
    else:
        _decisions.info(line)
