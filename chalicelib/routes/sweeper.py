"""The scheduled sweeper: keys stuck ``pending`` past a timeout become failed and lose their
vaulted secret. The same work as ``python -m chalicelib.cli sweep``."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from chalice import Blueprint, Rate

from chalicelib import metrics, wiring

bp = Blueprint(__name__)
log = logging.getLogger("apikeys")

DEFAULT_PENDING_TIMEOUT_SECONDS = 900.0


def pending_timeout_seconds() -> float:
    """``APIKEYS_PENDING_TIMEOUT`` (seconds), read when the sweeper runs; far above the longest
    create (the Lambda timeout), so a key whose vault write is still in flight is never swept."""
    try:
        return float(os.environ.get("APIKEYS_PENDING_TIMEOUT", DEFAULT_PENDING_TIMEOUT_SECONDS))
    except ValueError:
        log.warning("APIKEYS_PENDING_TIMEOUT is not a number; using %s", DEFAULT_PENDING_TIMEOUT_SECONDS)
        return DEFAULT_PENDING_TIMEOUT_SECONDS


@bp.schedule(Rate(5, unit=Rate.MINUTES))
def sweep_pending(event: Any) -> dict[str, Any]:
    failed = wiring.service().sweep(pending_timeout_seconds())
    log.info(json.dumps({"event": "sweep", "failed": failed}))
    metrics.count("sweeper", "PendingSwept", len(failed))
    return {"failed": failed}
