"""--out never deletes what a build did not write; the swap leaves old or new, never neither."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geo import output
from geo.cli import main
from tests.conftest import FIXTURES, ROOT

PLAIN = FIXTURES / "good/plain"


def story_copy(tmp_path: Path) -> Path:
    story = tmp_path / "story"
    shutil.copytree(PLAIN, story)
    (story / "NOTES.txt").write_text("my notes")
    return story


def build(capsys, story: Path, out: str | Path, *extra: str) -> tuple[int, str]:
    code = main([str(story), "--out", str(out), "-q", *extra])
    return code, capsys.readouterr().err


def test_out_naming_the_story_folder_is_refused_and_nothing_is_lost(tmp_path, capsys):
    story = story_copy(tmp_path)
    before = sorted(p.name for p in story.iterdir())
    code, err = build(capsys, story, story)
    assert code == 2
    assert "is the story folder or contains it" in err
    assert sorted(p.name for p in story.iterdir()) == before


def test_out_naming_an_ancestor_of_the_story_is_refused(tmp_path, capsys):
    story = story_copy(tmp_path)
    code, err = build(capsys, story, tmp_path)
    assert code == 2 and "is the story folder or contains it" in err
    assert (story / "NOTES.txt").read_text() == "my notes"


@pytest.mark.parametrize("out", [".", "", "CWD", "CWD_PARENT"])
def test_out_naming_the_current_directory_is_refused_before_building(
    out, tmp_path, capsys, monkeypatch
):
    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.txt").write_text("keep")
    monkeypatch.chdir(work)
    target = {"CWD": str(work), "CWD_PARENT": str(tmp_path)}.get(out, out)
    code, err = build(capsys, PLAIN, target)
    assert code == 2
    assert "current directory" in err
    assert "reading" not in err  # refused before the story was read
    assert (work / "mine.txt").read_text() == "keep"


def test_a_folder_of_the_users_is_refused(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "thesis.txt").write_text("years of work")
    code, err = build(capsys, PLAIN, docs)
    assert code == 2
    assert "a build did not write" in err and output.MANIFEST in err
    assert (docs / "thesis.txt").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"]


def test_a_file_named_by_out_is_refused_and_untouched(tmp_path, capsys):
    target = tmp_path / "map.html"
    target.write_text("mine")
    code, err = build(capsys, PLAIN, target)
    assert code == 2 and "is a file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.html"]
    assert target.read_text() == "mine"


def test_a_symlink_named_by_out_is_refused_and_its_target_untouched(tmp_path, capsys):
    real = tmp_path / "real"
    assert build(capsys, PLAIN, real)[0] == 0  # a build's own output, behind a link
    link = tmp_path / "link"
    link.symlink_to(real)
    code, err = build(capsys, PLAIN, link)
    assert code == 2 and "symbolic link" in err and str(real) in err
    assert link.is_symlink() and (real / output.MANIFEST).is_file()


def test_an_empty_folder_and_a_previous_build_are_replaced(tmp_path, capsys):
    out = tmp_path / "dist"
    out.mkdir()
    assert build(capsys, PLAIN, out)[0] == 0
    assert (out / output.MANIFEST).is_file() and (out / "index.html").is_file()
    (out / "stale.txt").write_text("from an older build")
    assert build(capsys, PLAIN, out)[0] == 0
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]


def test_manifest_lists_the_files_reproducibly(tmp_path, capsys):
    assert build(capsys, PLAIN, tmp_path / "a")[0] == 0
    assert build(capsys, PLAIN, tmp_path / "b")[0] == 0
    manifest = (tmp_path / "a" / output.MANIFEST).read_text()
    assert manifest == (tmp_path / "b" / output.MANIFEST).read_text()
    assert '"index.html"' in manifest and '"data/points.geojson"' in manifest


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_staging_left_by_dead_builds_is_swept_and_live_ones_kept(tmp_path, capsys):
    dead = tmp_path / f".dist-staging-{dead_pid()}-abc123"
    dead_old = tmp_path / f".dist-old-{dead_pid()}-abc123"
    live = tmp_path / f".dist-staging-{os.getppid()}-abc123"
    other = tmp_path / f".other-staging-{dead_pid()}-abc123"
    for folder in (dead, dead_old, live, other):
        folder.mkdir()
    assert build(capsys, PLAIN, tmp_path / "dist")[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["dist", live.name, other.name])


# Builds in processes of their own, forked on demand from one Python that has imported geo
# already (so a build starts at once): each line read starts a build as if ``build_map.py``
# had just been run with these arguments; it writes the build's pid, then how it ended.
BUILDER = """
import os, sys
import geo.build, geo.preview
from geo.cli import main
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        os._exit(main(sys.argv[1:]))
    print(pid, flush=True)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


def kill_when(builder: subprocess.Popen, ready, timeout: float = 60.0) -> int:
    """Start a build and SIGKILL it the moment ``ready()`` holds; its return code."""
    builder.stdin.write("go\n")
    builder.stdin.flush()
    pid = int(builder.stdout.readline())
    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.002)
    with contextlib.suppress(ProcessLookupError):  # it ended first: the code read says how
        os.kill(pid, signal.SIGKILL)
    return int(builder.stdout.readline())


def test_killed_builds_leave_the_old_output_whole_and_no_staging(tmp_path, capsys):
    """SIGKILL at several moments of a build: the output is always the old or the new one."""
    out = tmp_path / "dist"
    command = [sys.executable, "-c", BUILDER, str(PLAIN), "--out", str(out), "-q"]
    builder = subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert build(capsys, PLAIN, out)[0] == 0  # the old output
        old = (out / "index.html").read_bytes()

        def staged(*parts: str):  # a build's staging folder holds ``parts`` (or just exists)
            return lambda: any(
                p.joinpath(*parts).exists() for p in tmp_path.glob(".dist-staging-*")
            )

        # killed once it has begun to stage its output, and again once its data is written
        for moment in (staged(), staged("data", "points.geojson")):
            assert kill_when(builder, moment) == -signal.SIGKILL  # killed mid-build
            assert (out / output.MANIFEST).is_file() and (out / "index.html").read_bytes() == old
    finally:
        builder.stdin.close()
        builder.wait()
        builder.stdout.close()
    assert any(tmp_path.glob(".dist-staging-*"))  # the last killed build left its staging...
    assert build(capsys, PLAIN, out)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]  # ...which the next sweeps
