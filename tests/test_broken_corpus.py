"""The broken-input corpus: stories a hostile or careless user might hand the CLI.

Each folder under ``fixtures/broken/`` is a story plus ``expect.toml``:

    exit = 2                          # or 0: the story builds correctly
    messages = ["field 'x'", "..."]   # each must appear in stderr (for exit 2)
    args = ["--export", "flatgeobuf"] # optional extra CLI arguments

For every case, ``--check`` and the build agree on the exit code, a refused story writes
nothing (the previous output stays as it was), and no case ends in a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.cli import main
from geo.kinds import tomllib
from tests.conftest import FIXTURES

BROKEN = FIXTURES / "broken"
CASES = sorted(p.name for p in BROKEN.iterdir() if (p / "expect.toml").is_file())


def expectation(case: str) -> dict:
    return tomllib.loads((BROKEN / case / "expect.toml").read_text(encoding="utf-8"))


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", CASES)
def test_broken_story_is_refused_clearly_or_builds(case: str, tmp_path: Path, capsys):
    expect = expectation(case)
    story = BROKEN / case
    args = list(expect.get("args", []))
    out = tmp_path / "dist"
    out.mkdir()
    (out / ".geo-story-output").write_text("{}\n")  # a previous build's output, to keep intact
    (out / "index.html").write_text("previous map")

    checked, check_err = run(capsys, str(story), "--check", *args)
    built, build_err = run(capsys, str(story), "--out", str(out), "-q", *args)

    assert "Traceback" not in check_err + build_err
    assert "build failed" not in check_err + build_err, build_err
    assert checked == built == expect["exit"], (check_err, build_err)
    if expect["exit"] == 2:
        for message in expect.get("messages", []):
            assert message in check_err, (message, check_err)
            assert message in build_err, (message, build_err)
        assert (out / "index.html").read_text() == "previous map"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]  # no staging left over
    else:
        assert "<html" in (out / "index.html").read_text(encoding="utf-8")


def test_corpus_is_not_empty():
    assert len(CASES) >= 20
