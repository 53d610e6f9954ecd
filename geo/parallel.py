"""Run a build's independent steps in two processes: a forked worker and this one.

Once a story is read, its outputs (exports, preview, page) depend only on it, and a machine
with two cores writes them in little more than half the time. A forked worker shares the story
without copying or pickling it; only the steps' results (paths) and an error come back.

The outcome is the serial one: the steps run in their serial order within each process, every
file lands where the serial build puts it, and when steps fail the error raised is the one the
serial build would have met first (the failing step earliest in serial order), with its type
and message intact. The worker dies with its parent (``PR_SET_PDEATHSIG``), so a killed build
leaves no process writing into its staging folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_PR_SET_PDEATHSIG = 1
# What the worker sends back: the index of its failing step (or of none), the results of its
# steps, the error and the worker's traceback of it.
_Answer = tuple[int, dict[str, Any], BaseException | None, str, list[str]]


@dataclass(frozen=True)
class Step:
    """One independent output: ``run()`` writes it and returns what it wrote."""

    name: str
    run: Callable[[], Any]
    in_worker: bool = False  # run in the forked worker (when there is one)


class Relay:
    """A log for steps of both processes: this process's messages go to ``log`` at once, the
    worker's are kept and sent back with its results, then given to ``log`` (so a caller's
    own ``log``, say a list's ``append``, gets every message, the worker's a little late)."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.pid = os.getpid()
        self.kept: list[str] = []

    def __call__(self, message: str) -> None:
        if os.getpid() == self.pid:
            self.log(message)
        else:
            self.kept.append(message)


class RemoteTraceback(Exception):
    """The worker's traceback, chained to its error as the cause (``-v`` prints it)."""

    def __str__(self) -> str:
        return self.args[0]


class WorkerDied(RuntimeError):
    """The worker ended without a word (killed, out of memory)."""


def run_steps(steps: Sequence[Step], relay: Relay | None = None) -> dict[str, Any]:
    """Run every step, the ``in_worker`` ones in a forked process when fork is available and
    safe (this process runs no other thread: a notebook kernel's would leave locks held in the
    child, and Python warns). Return each step's result by name, or raise the error of the
    failing step earliest in ``steps``' order (as running them one after another would).
    ``relay``: the log the steps write to, whose worker's messages are passed on when the
    worker is done."""
    mine = [(i, s) for i, s in enumerate(steps) if not s.in_worker]
    theirs = [(i, s) for i, s in enumerate(steps) if s.in_worker]
    if not theirs or not may_fork():
        return _run_in_order(sorted(mine + theirs, key=lambda pair: pair[0]))
    worker = _Worker(theirs, relay)
    try:
        results = {}
        for index, step in mine:
            try:
                results[step.name] = step.run()
            except Exception:
                worker.join(before=index)  # an earlier step of the worker's failed: it wins
                raise
        results.update(worker.join())
        return results
    finally:
        worker.stop()


def may_fork() -> bool:
    """Fork is there, and this process runs no other Python thread (a notebook kernel's, or
    asyncio's child watcher under Playwright) whose locks the child could inherit held."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _run_in_order(steps: Sequence[tuple[int, Step]]) -> dict[str, Any]:
    return {step.name: step.run() for _, step in steps}


class _Worker:
    """A forked process running its steps in order, answering through a pipe."""

    def __init__(self, steps: Sequence[tuple[int, Step]], relay: Relay | None) -> None:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # else the worker would print the parent's buffered text again
        gc.freeze()  # the collector must not write to (and so copy) every shared object
        parent = os.getpid()
        read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the worker: never returns
            os.close(read)
            _die_with(parent)
            _answer(write, steps, relay)
        os.close(write)
        gc.unfreeze()
        self._read = read
        self._relay = relay
        self._answer: _Answer | None = None

    def join(self, before: int | None = None) -> dict[str, Any] | None:
        """The worker's results; raises its error (or WorkerDied). With ``before``, the
        worker's error only when it comes from a step earlier than ``before``, else None."""
        if self._answer is None:
            self._answer = self._receive()
            if self._relay is not None:
                for message in self._answer[4]:
                    self._relay.log(message)
        index, results, error, remote, _ = self._answer
        if error is not None and (before is None or index < before):
            raise error from RemoteTraceback(remote)
        return results if error is None else None

    def _receive(self) -> _Answer:
        with os.fdopen(self._read, "rb") as stream:
            data = stream.read()
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if not data:
            code = os.waitstatus_to_exitcode(status)
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            raise WorkerDied(f"the build's second process {how} before it finished")
        return pickle.loads(data)

    def stop(self) -> None:
        """Kill the worker if it is still running (the build failed or was interrupted)."""
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = 0
        if self._answer is None:
            with contextlib.suppress(OSError):
                os.close(self._read)


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux), and check the parent
    did not die already."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    with contextlib.suppress(AttributeError):
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _answer(write: int, steps: Sequence[tuple[int, Step]], relay: Relay | None) -> None:
    """Run the steps; send (index of the failing step, results, error, its traceback) and
    exit at once (no atexit handlers, no cleanup of the parent's objects)."""
    results: dict[str, Any] = {}
    kept = relay.kept if relay is not None else []
    answer: _Answer = (len(steps), results, None, "", kept)
    code = 0
    try:
        for index, step in steps:
            try:
                results[step.name] = step.run()
            except BaseException as exc:
                remote = "".join(traceback.format_exception(exc))
                answer = (index, {}, _portable(exc), remote, kept)
                break
        data = pickle.dumps(answer)
    except BaseException:
        data, code = b"", 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    with contextlib.suppress(OSError), os.fdopen(write, "wb") as stream:
        stream.write(data)
    os._exit(code)


def _portable(exc: BaseException) -> BaseException:
    """``exc`` as it can cross to the parent: itself (its type and message kept), or a
    RuntimeError saying the same if it cannot be pickled."""
    try:
        return pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
