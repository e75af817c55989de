"""Child processes that cannot outlive the process that started them.

``tied(command)`` returns the command to hand to ``subprocess.Popen`` instead of ``command``: a
tiny Python trampoline asks Linux for a parent-death signal (``prctl(PR_SET_PDEATHSIG,
SIGKILL)``), then ``exec``s the real program, which keeps that setting and the trampoline's pid.
When the parent dies for any reason, SIGKILL included, the kernel kills the child: a server
started by the local run or by a test fixture is never left on its port, reparented to PID 1.

Why a trampoline rather than ``preexec_fn``: the local run and the test session have threads
(moto's server) when they start children, and Python code between ``fork`` and ``exec`` is not
safe then. The signal follows the *thread* that started the child, so start children from a
thread that lives as long as they should (the main thread, here).

Elsewhere than Linux the command is returned unchanged; callers still stop their children
themselves, this is the guarantee for when they cannot.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

_PR_SET_PDEATHSIG = 1


def tied(command: Sequence[str]) -> list[str]:
    if not sys.platform.startswith("linux"):
        return list(command)
    # -I -S: no user site, no environment-driven imports; the trampoline needs only the stdlib.
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), str(os.getpid()), "--", *command]


def _exec_tied(parent: int, command: list[str]) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the signal was armed
        raise SystemExit(1)
    os.execvp(command[0], command)  # noqa: S606 - argv as given, no shell on purpose


if __name__ == "__main__":
    _exec_tied(int(sys.argv[1]), sys.argv[3:])
