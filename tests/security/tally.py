"""The security suite's counts, printed at the end of every run that includes it.

A plugin registered from ``tests/conftest.py`` rather than hooks in ``tests/security/conftest.py``:
under pytest-xdist only the workers load that conftest, while the controller, which prints the
summary, loads the root one. Workers hand their counts over through ``tests.worker_share``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests import worker_share

TALLY: Counter[str] = Counter()


def count(what: str, n: int = 1) -> None:
    TALLY[what] += n


class TallyPlugin:
    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()

    def pytest_runtest_logreport(self, report: Any) -> None:
        if "tests/security/" not in report.nodeid.replace("\\", "/"):
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.outcomes[report.outcome] += 1

    def pytest_sessionfinish(self, session: Any) -> None:
        if worker_share.is_worker(session.config):
            worker_share.write(session.config, "security-tally", dict(TALLY))
            return
        for share in worker_share.read_all("security-tally"):
            TALLY.update(share)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.outcomes:
            return
        terminalreporter.section("security suite")
        terminalreporter.write_line(
            f"bad inputs tried: {TALLY['bad inputs']}, faults injected: {TALLY['faults']}, "
            f"concurrency cases: {TALLY['concurrency cases']} ({TALLY['concurrent calls']} concurrent calls, "
            f"{TALLY['transaction conflicts retried']} transaction conflicts retried), "
            f"access checks: {TALLY['access checks']}, generated keys checked: {TALLY['generated keys']}, "
            f"stateful API cases: {TALLY['stateful cases']}"
        )
        terminalreporter.write_line(
            f"security tests: {self.outcomes['passed']} passed, {self.outcomes['failed']} failed, "
            f"{self.outcomes['skipped']} skipped"
        )
