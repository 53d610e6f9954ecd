"""The command line: exit codes, --help, progress, usage errors. In-process through main(argv),
but for the two runs that only a real process can show."""

from __future__ import annotations

import subprocess
import sys

import pytest

from geo.cli import main, parser
from geo.kinds import kinds
from geo.story import LAYER_KEYS, STYLE_KEYS, TOP_KEYS
from tests.conftest import FIXTURES, ROOT

PLAIN = FIXTURES / "good/plain"


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the CLI in this process: (exit status, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's usage errors and --help
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_help_documents_every_option(capsys):
    code, out, _ = cli(capsys, "--help")
    assert code == 0
    for action in parser()._actions:
        assert action.help, f"option {action.option_strings} has no help text"
        for flag in action.option_strings:
            assert flag in out


def test_help_answers_without_loading_the_heavy_libraries():
    """--help must answer at once: geopandas, folium and matplotlib load only for real work."""
    probe = (
        "import sys; from geo.cli import main\n"
        "try: main(['--help'])\n"
        "except SystemExit: pass\n"
        "heavy = [m for m in ('geopandas', 'folium', 'matplotlib', 'pandas', 'shapely')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "HEAVY []" in result.stderr


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


def test_build_from_the_shell_writes_map_and_data(tmp_path):
    """One end-to-end run of build_map.py as a user types it."""
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "build_map.py", str(PLAIN), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "index.html").is_file()
    assert (out / "data" / "points.geojson").is_file()
    assert "wrote" in result.stderr  # progress on stderr


def test_quiet_prints_nothing_on_success(tmp_path, capsys):
    code, out, err = cli(capsys, str(PLAIN), "--out", str(tmp_path / "o"), "-q")
    assert code == 0
    assert err == "" and out == ""


def test_invalid_input_exits_2(capsys):
    code, _, err = cli(capsys, str(FIXTURES / "bad/not_json"), "--check")
    assert code == 2
    assert "nothing was written" in err


def test_missing_story_folder_exits_2(tmp_path, capsys):
    code, _, err = cli(capsys, str(tmp_path / "nope"), "--check")
    assert code == 2
    assert "story folder not found" in err


def test_unknown_export_format_lists_known_ones(capsys):
    code, _, err = cli(capsys, "--check", "--export", "kml,dxf")
    assert code == 2
    assert "unknown export format(s): dxf; known formats: kml, shapefile" in err


def test_unexpected_failure_exits_1_with_one_line(tmp_path, capsys, monkeypatch):
    import geo.build

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(geo.build, "write_preview", broken)
    code, _, err = cli(capsys, str(PLAIN), "--out", str(tmp_path / "dist"), "-q")
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("build failed: ") and "No space left on device" in err and "-v" in err
    assert not (tmp_path / "dist").exists()
    assert list(tmp_path.iterdir()) == []  # the staging folder is gone too
    code, _, err = cli(capsys, str(PLAIN), "--out", str(tmp_path / "dist"), "-v")
    assert code == 1 and "Traceback" in err


def test_rebuild_replaces_output_atomically(tmp_path, capsys):
    out = tmp_path / "dist"
    assert cli(capsys, str(PLAIN), "--out", str(out), "-q")[0] == 0
    (out / "stale.txt").write_text("old")
    assert cli(capsys, str(PLAIN), "--out", str(out), "-q")[0] == 0
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]


def test_tiles_are_opt_in_with_attribution(tmp_path, capsys):
    out = tmp_path / "tiles"
    assert (
        cli(capsys, str(PLAIN), "--out", str(out), "--tiles", "OpenStreetMap.Mapnik", "-q")[0] == 0
    )
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in html
    assert "openstreetmap.org/copyright" in html  # the attribution
    assert "img-src 'self' data: https://tile.openstreetmap.org" in html  # the CSP allows them


@pytest.mark.parametrize(
    ("name", "message"),
    [("NoSuch.Tiles", "unknown tile provider 'NoSuch.Tiles'"), ("CartoDB.Positron", "API key")],
)
def test_unusable_tile_provider_is_a_usage_error(name, message, capsys):
    code, _, err = cli(capsys, "--check", "--tiles", name)
    assert code == 2 and message in err


def test_start_points_the_embed_snippets_at_a_chapter_or_event(tmp_path, capsys):
    from tests.conftest import DEFAULT_STORY

    out = tmp_path / "dist"
    assert cli(capsys, str(DEFAULT_STORY), "--out", str(out), "--start", "chapter=3", "-q")[0] == 0
    assert 'src="index.html#chapter=3"' in (out / "embed.html").read_text(encoding="utf-8")
    code, _, err = cli(capsys, str(PLAIN), "--out", str(tmp_path / "x"), "--start", "chapter=1")
    assert code == 2 and "the story has no chapters" in err
    code, _, err = cli(capsys, str(PLAIN), "--out", str(tmp_path / "x"), "--start", "event=zz")
    assert code == 2 and "no feature of the story has the id 'zz'" in err
