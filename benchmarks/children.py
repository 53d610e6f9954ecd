"""Run one child process and measure it: wall time, peak resident memory, and how it ended.

Peak RSS is the kernel's high-water mark of the child's resident set (``ru_maxrss`` from
``os.wait4`` on that one child: what GNU ``time -v`` reports as "Maximum resident set size").
Unlike ``getrusage(RUSAGE_CHILDREN)`` it belongs to this child alone, and unlike polling it
cannot miss a short peak. The child runs in its own session, so a timeout kills its whole group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ChildRun:
    """One run: ``status`` is "ok", "failed" (non-zero exit) or "timeout"."""

    status: str
    wall_s: float
    peak_rss_bytes: int
    returncode: int | None
    detail: str = ""  # the tail of stderr when the run did not succeed


def run_child(cmd: Sequence[str], timeout_s: float, cwd: Path, log: Path) -> ChildRun:
    """Run ``cmd`` to its end or until ``timeout_s``; stdout and stderr go to ``log``."""
    with log.open("wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        timer = threading.Timer(timeout_s, _kill_group, (proc.pid,))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
    timed_out = proc.returncode == -signal.SIGKILL and wall >= timeout_s
    peak = usage.ru_maxrss * 1024  # kilobytes on Linux
    if timed_out:
        return ChildRun("timeout", wall, peak, None, f"killed after {timeout_s:.0f} s")
    if proc.returncode != 0:
        return ChildRun("failed", wall, peak, proc.returncode, _tail(log))
    return ChildRun("ok", wall, peak, 0)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
        os.killpg(pid, signal.SIGKILL)


def _tail(log: Path, lines: int = 5) -> str:
    text = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])
