"""The build writes its outputs in two processes (geo.parallel): the outcome must be the serial
one, byte for byte, and a failure in either process must fail the build with its own message,
leaving the previous output whole."""

from __future__ import annotations

import filecmp
import os
import signal
import threading
from pathlib import Path

import pytest

from geo import parallel
from geo.cli import main
from geo.parallel import Step, WorkerDied, run_steps
from geo.problems import Problem, StoryError

ROOT = Path(__file__).resolve().parent.parent
PLAIN = ROOT / "tests" / "fixtures" / "good" / "plain"


@pytest.fixture(autouse=True)
def forking(monkeypatch):
    """Fork as a build run from the command line does, even in a test process that runs
    Playwright's thread (the tests' children run only these steps)."""
    monkeypatch.setattr(parallel, "may_fork", lambda: True)


def _fail(exc: BaseException):
    def run(*_):
        raise exc

    return run


def test_results_come_back_from_both_processes():
    steps = [Step("a", lambda: os.getpid()), Step("b", lambda: os.getpid(), in_worker=True)]
    results = run_steps(steps)
    assert results["a"] == os.getpid() and results["b"] != os.getpid()


def test_a_worker_error_keeps_its_type_message_and_traceback():
    steps = [Step("a", lambda: 1), Step("b", _fail(OSError(28, "No space left")), True)]
    with pytest.raises(OSError, match="No space left") as caught:
        run_steps(steps)
    assert isinstance(caught.value.__cause__, parallel.RemoteTraceback)
    assert "Traceback" in str(caught.value.__cause__)


def test_a_story_error_crosses_with_its_problems():
    problem = Problem("layers/x.geojson", "expected a number")
    with pytest.raises(StoryError) as caught:
        run_steps([Step("b", _fail(StoryError([problem])), True)])
    assert [str(p) for p in caught.value.problems] == [str(problem)]


@pytest.mark.parametrize("worker_first", [True, False])
def test_the_error_of_the_earliest_step_wins_as_in_a_serial_build(worker_first):
    first, second = ValueError("first"), KeyError("second")
    steps = [
        Step("one", _fail(first), in_worker=worker_first),
        Step("two", _fail(second), in_worker=not worker_first),
    ]
    with pytest.raises(ValueError, match="first"):
        run_steps(steps)


def test_a_killed_worker_fails_the_build():
    steps = [Step("a", lambda: os.kill(os.getpid(), signal.SIGKILL), in_worker=True)]
    with pytest.raises(WorkerDied, match="signal 9"):
        run_steps(steps)


def test_without_fork_the_steps_run_here_in_order(monkeypatch):
    monkeypatch.undo()  # parallel.may_fork as it is
    monkeypatch.delattr(os, "fork")
    order: list[str] = []
    steps = [
        Step("a", lambda: order.append("a")),
        Step("b", lambda: order.append("b"), in_worker=True),
    ]
    run_steps(steps)
    assert order == ["a", "b"]


def test_with_another_thread_running_the_steps_run_here_in_order(monkeypatch):
    """A notebook kernel runs threads: forking it could deadlock the child, so no fork."""
    monkeypatch.undo()  # parallel.may_fork as it is
    done = threading.Event()
    thread = threading.Thread(target=done.wait)
    thread.start()
    try:
        here = os.getpid()
        steps = [Step("a", os.getpid), Step("b", os.getpid, in_worker=True)]
        assert run_steps(steps) == {"a": here, "b": here}
    finally:
        done.set()
        thread.join()


def test_a_failing_worker_step_leaves_the_old_output_whole(tmp_path, capsys, monkeypatch):
    import geo.build

    out = tmp_path / "dist"
    assert main([str(PLAIN), "--out", str(out), "-q"]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    monkeypatch.setattr(geo.build, "write_preview", _fail(OSError(28, "No space left on device")))
    assert main([str(PLAIN), "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("build failed: OSError: [Errno 28] No space left on device")
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]  # no staging left


def test_two_builds_and_a_serial_one_write_the_same_bytes(tmp_path, monkeypatch):
    for name in ("one", "two"):
        assert main([str(PLAIN), "--out", str(tmp_path / name), "-q"]) == 0
    monkeypatch.setattr(parallel, "may_fork", lambda: False)  # one process
    assert main([str(PLAIN), "--out", str(tmp_path / "serial"), "-q"]) == 0
    for other in ("two", "serial"):
        compared = filecmp.dircmp(tmp_path / "one", tmp_path / other)
        assert not compared.diff_files and not compared.left_only and not compared.right_only
        data = filecmp.dircmp(tmp_path / "one" / "data", tmp_path / other / "data")
        assert not data.diff_files and not data.left_only and not data.right_only


def test_the_callers_log_gets_the_workers_messages_too(tmp_path):
    from geo.build import read_story

    messages: list[str] = []
    read_story(PLAIN).publish(tmp_path / "dist", log=messages.append)
    assert "drawing the static preview" in messages  # written by the worker
    assert any(m.startswith("exported geojson: ") for m in messages)
    assert messages[-1].startswith("wrote ")
