"""The command line: exit codes, --help, atomic output."""

from __future__ import annotations

import subprocess
import sys

from geo.cli import parser
from geo.kinds import kinds
from geo.story import LAYER_KEYS, STYLE_KEYS, TOP_KEYS
from tests.conftest import FIXTURES, ROOT


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "build_map.py", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_help_documents_every_option():
    result = run("--help")
    assert result.returncode == 0
    for action in parser()._actions:
        assert action.help, f"option {action.option_strings} has no help text"
        for flag in action.option_strings:
            assert flag in result.stdout


def test_readme_documents_every_option_and_map_toml_key():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for action in parser()._actions:
        for flag in action.option_strings:
            assert f"`{flag}" in readme or f"{flag}`" in readme, flag
    for table in (TOP_KEYS, LAYER_KEYS, STYLE_KEYS):
        for key in table:
            assert f"| `{key}` |" in readme, key
    for kind in kinds():
        assert f"| `{kind}` |" in readme, kind


def test_build_writes_map_and_data(tmp_path):
    out = tmp_path / "out"
    result = run(str(FIXTURES / "good/plain"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert (out / "index.html").is_file()
    assert (out / "data" / "points.geojson").is_file()
    assert "wrote" in result.stderr  # progress on stderr


def test_quiet_prints_nothing_on_success(tmp_path):
    result = run(str(FIXTURES / "good/plain"), "--out", str(tmp_path / "o"), "-q")
    assert result.returncode == 0
    assert result.stderr == "" and result.stdout == ""


def test_invalid_input_exits_2():
    assert run(str(FIXTURES / "bad/not_json"), "--check").returncode == 2


def test_missing_story_folder_exits_2(tmp_path):
    result = run(str(tmp_path / "nope"), "--check")
    assert result.returncode == 2
    assert "story folder not found" in result.stderr


def test_unknown_export_format_lists_known_ones():
    result = run("--check", "--export", "kml,dxf")
    assert result.returncode == 2
    assert "unknown export format(s): dxf; known formats: kml, shapefile" in result.stderr


def test_unexpected_failure_exits_1_with_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run(str(FIXTURES / "good/plain"), "--out", str(blocker / "dist"), "-q")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("build failed: ") and "-v" in result.stderr
    verbose = run(str(FIXTURES / "good/plain"), "--out", str(blocker / "dist"), "-v")
    assert "Traceback" in verbose.stderr


def test_rebuild_replaces_output_atomically(tmp_path):
    out = tmp_path / "dist"
    assert run(str(FIXTURES / "good/plain"), "--out", str(out), "-q").returncode == 0
    (out / "stale.txt").write_text("old")
    assert run(str(FIXTURES / "good/plain"), "--out", str(out), "-q").returncode == 0
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]


def test_tiles_are_opt_in_with_attribution(tmp_path):
    out = tmp_path / "tiles"
    assert (
        run(
            str(FIXTURES / "good/plain"), "--out", str(out), "--tiles", "OpenStreetMap.Mapnik", "-q"
        ).returncode
        == 0
    )
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in html
    assert "openstreetmap.org/copyright" in html  # the attribution


def test_unknown_tile_provider_is_a_usage_error():
    result = run("--check", "--tiles", "NoSuch.Tiles")
    assert result.returncode == 2
    assert "unknown tile provider 'NoSuch.Tiles'" in result.stderr
    keyed = run("--check", "--tiles", "CartoDB.Positron")
    assert keyed.returncode == 2 and "needs an API key" in keyed.stderr
