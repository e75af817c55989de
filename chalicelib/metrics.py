"""CloudWatch metrics in the embedded metric format (EMF): JSON lines on stdout, no API call.

Lambda ships every stdout line to CloudWatch Logs, which extracts the metrics of a line holding
an ``_aws.CloudWatchMetrics`` directive. Every metric here has the same two dimensions, ``stage``
and ``face``: never a key id or a community (one metric per key would cost per key and tell an
operator nothing an alarm can use); those go in the line as plain properties.

A small writer rather than aws-lambda-powertools' ``Metrics``: its import alone costs more than
the authorizer's cold-start budget allows (``bench/metrics_import.py`` prints both).

Namespace ``apikeys``. Metric names:

- authorizers (face ``app`` or ``gateway``), one line per decision, which is the decision log line
  itself: ``Allow``, ``Deny`` or ``Unauthorized`` (1), ``Reason_<class>`` (1, see ``reason_class``)
  and ``DecisionLatency`` (milliseconds);
- the API handler (face ``api``): ``KeysCreated``, ``KeysRevoked``, ``KeysRotated``,
  ``VaultFailures``, ``StoreErrors``;
- the scheduled functions (face ``sweeper`` and ``grace``): ``PendingSwept``, ``GraceFinished``.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable

NAMESPACE = "apikeys"
DIMENSIONS = ("stage", "face")
COUNT = "Count"
MILLISECONDS = "Milliseconds"

OUTCOME_METRICS = {"allow": "Allow", "deny": "Deny", "unauthorized": "Unauthorized"}
# Every reason the verifier gives, folded into a handful of classes (a metric name each): the
# free-text ones (``lacks intelligence:write``, ``error:ReadTimeoutError``) would otherwise make
# one metric per permission or exception type.
REASON_CLASSES = (
    "ok", "missing", "malformed", "unknown", "mismatch", "revoked", "expired", "rotated", "pending",
    "permission", "unmapped", "error", "other",
)  # fmt: skip
_EXACT = {
    "ok": "ok",
    "missing": "missing",
    "malformed": "malformed",
    "unknown": "unknown",
    "hash mismatch": "mismatch",
    "revoked": "revoked",
    "expired": "expired",
    "rotated": "rotated",
    "pending": "pending",
    "failed": "pending",
    "unmapped route": "unmapped",
}

_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def reason_class(reason: str) -> str:
    if reason in _EXACT:
        return _EXACT[reason]
    if reason.startswith("lacks "):
        return "permission"
    if reason.startswith("error:"):
        return "error"
    return "other"


def stage() -> str:
    """``APIKEYS_STAGE``, set per stage in ``.chalice/config.json``; ``local`` elsewhere."""
    return os.environ.get("APIKEYS_STAGE") or "local"


@functools.lru_cache(maxsize=256)
def _declaration(metrics: tuple[tuple[str, str], ...]) -> str:
    declared = ",".join(f'{{"Name":{_quote(name)},"Unit":{_quote(unit)}}}' for name, unit in metrics)
    return (
        f',"CloudWatchMetrics":[{{"Namespace":"{NAMESPACE}","Dimensions":[["stage","face"]],"Metrics":[{declared}]}}]}}'
    )


def _directive(timestamp_ms: int, metrics: tuple[tuple[str, str], ...]) -> str:
    return f'"_aws":{{"Timestamp":{timestamp_ms}' + _declaration(metrics)


def document(face: str, values: dict[str, tuple[float, str]], properties: dict[str, object] | None = None) -> str:
    """One EMF line: ``values`` maps metric name → (value, unit); ``properties`` are logged beside."""
    body = {"stage": stage(), "face": face, **{name: value for name, (value, _) in values.items()}}
    if properties:
        body.update({k: v for k, v in properties.items() if k not in body and k != "_aws"})
    directive = _directive(int(time.time() * 1000), tuple((name, unit) for name, (_, unit) in values.items()))
    return "{" + directive + "," + json.dumps(body, separators=(",", ":"))[1:]


def emit(face: str, values: dict[str, tuple[float, str]], properties: dict[str, object] | None = None) -> None:
    """Write one EMF line on stdout (Lambda's log stream), at once: a function may be frozen next."""
    sys.stdout.write(document(face, values, properties) + "\n")
    sys.stdout.flush()


def count(face: str, name: str, value: float = 1, **properties: object) -> None:
    emit(face, {name: (value, COUNT)}, {"event": "metric", **properties})


def decision_line(
    *,
    face: str,
    outcome: str,
    reason: str,
    key_id: str,
    community: str,
    route: str,
    latency_ms: float,
    request_id: str = "",
) -> str:
    """The authorizer's decision log line, which is also its EMF document.

    Built by hand: it is written on every decision, malformed keys included, and ``json.dumps``
    of a dict costs more than the rest of a rejection. Every free value is escaped.
    """
    outcome_metric = OUTCOME_METRICS.get(outcome, "Unauthorized")
    reason_metric = "Reason_" + reason_class(reason)
    directive = _directive(
        int(time.time() * 1000), ((outcome_metric, COUNT), (reason_metric, COUNT), ("DecisionLatency", MILLISECONDS))
    )
    return (
        f'{{"event":"authorizer.decision","face":{_quote(face)},"outcome":{_quote(outcome)},'
        f'"reason":{_quote(reason)},"key_id":{_quote(key_id or "unknown")},"community":{_quote(community)},'
        f'"route":{_quote(route[:200])},"latency_ms":{latency_ms!r},"stage":{_quote(stage())},'
        f'"request_id":{_quote(request_id)},'
        f'"{outcome_metric}":1,"{reason_metric}":1,"DecisionLatency":{latency_ms!r},{directive}}}'
    )
