"""Figures tables (map.toml's [tables.NAME]): reading and checking the rows, the chart, and the
CSV export, on a small story made from the export fixture. The default story's troop figures
are checked in test_niger_facts.py."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

import geo
from geo.build import build
from geo.chart import chart
from geo.figures import Figure
from geo.problems import StoryError
from tests.conftest import FIXTURES, require_tool

OGRINFO = "/usr/bin/ogrinfo"
HEADER = "id,date,date_precision,count,count_text,operator,source_name,source_url,note"
ROWS = [
    "a-2017-06,2017-06,month,,about 575,États-Unis,Savage,https://e.org/s,Differs: a-2017-06-b",
    "a-2017-06-b,2017-06,month,,about 645,États-Unis,Drive,https://e.org/d,Differs: a-2017-06",
    "a-2017,2017,year,,about 800,États-Unis,Savage,https://e.org/s,Oct–Dec 2017",
    "a-2023-12-07,2023-12-07,day,648,648,États-Unis,Stripes,https://e.org/p,Uniformed only",
    'f-2023-12-13,2023-12-13,day,157,157 left,France,Plume,https://e.org/l,"Junta, à Niamey"',
    "f-2023,2023,year,,several hundred,France,The Times,https://e.org/t,",
]  # fmt: skip
TABLE = """
[tables.figures]
kind = "figures"
file = "figures.csv"
title = "Troops <b>in</b> Niger"
series = "operator"
unit = "personnel"
"""


def figures_story(folder: Path, rows: list[str] = ROWS, table: str = TABLE) -> Path:
    """The export fixture with a figures table: figures.csv and its [tables.figures] key."""
    story = folder / "story"
    shutil.copytree(FIXTURES / "export_story", story)
    (story / "figures.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    with (story / "map.toml").open("a", encoding="utf-8") as f:
        f.write(table)
    return story


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("figures")
    return build(figures_story(folder), folder / "dist")


def problems(story: Path) -> list[str]:
    with pytest.raises(StoryError) as error:
        geo.read_story(story)
    return [str(p) for p in error.value.problems]


# --- reading ------------------------------------------------------------------------------


def test_rows_are_read_as_written(built):
    (table,) = built.story.config.tables
    assert table.name == "figures" and table.series == "operator" and table.unit == "personnel"
    by_id = {f.id: f for f in table.figures}
    assert list(by_id) == [row.split(",")[0] for row in ROWS]
    june = by_id["a-2017-06"]
    assert (june.when, june.datetime, june.text) == ("June 2017", "2017-06", "about 575")
    assert june.approximate and june.value == 575 and june.series == "États-Unis"
    assert by_id["a-2017"].datetime == "2017"  # a year stays a year
    exact = by_id["a-2023-12-07"]
    assert not exact.approximate and exact.count == 648 and exact.when == "7 December 2023"
    assert by_id["f-2023"].value is None  # no number in the text: listed, not charted


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ("x,2017-06,day,,about 5,US,S,https://e.org/,", "date", "write it as YYYY-MM-DD"),
        ("x,June 2017,month,,about 5,US,S,https://e.org/,", "date", "expected a date"),
        ("x,2017,decade,,about 5,US,S,https://e.org/,", "date_precision", "one of day"),
        ("x,2017,year,12,about 5,US,S,https://e.org/,", "count", "not a number that count_text"),
        ("x,2017,year,1.5,1.5,US,S,https://e.org/,", "count", "whole number"),
        ("x,2017,year,,,US,S,https://e.org/,", "count_text", "missing"),
        ("x,2017,year,,about 5,US,,https://e.org/,", "source_name", "missing"),
        ("x,2017,year,,about 5,US,S,javascript:alert(1),", "source_url", "http(s)"),
        ("x,2017,year,,about 5,,S,https://e.org/,", "operator", "chart's line"),
        ("Not A Slug,2017,year,,about 5,US,S,https://e.org/,", "id", "slug"),
    ],
)
def test_a_bad_cell_names_file_row_id_and_column(tmp_path, row, field, message):
    found = problems(figures_story(tmp_path, [ROWS[0], row]))
    assert len(found) == 1, found
    ident = row.split(",")[0]
    assert f"figures.csv, row 3 (id '{ident}'), field '{field}'" in found[0], found
    assert message in found[0]


def test_table_problems_are_all_reported(tmp_path):
    rows = [ROWS[0], ROWS[0], "y,2017,year,,about 5,US,S,https://e.org/"]  # dup id, short row
    found = problems(figures_story(tmp_path, rows))
    assert any("row 3 (id 'a-2017-06'), field 'id': id already used" in p for p in found), found
    assert any("row 4: expected 9 cells" in p and "found 8" in p for p in found), found


def test_missing_columns_are_named(tmp_path):
    story = figures_story(tmp_path)
    (story / "figures.csv").write_text("id,date,count\nx,2017,5\n", encoding="utf-8")
    missing, series = problems(story)
    assert "figures.csv, row 1 (the header): missing column(s) 'date_precision', " in missing
    assert "'count_text', 'source_name', 'source_url'; a figures table has id, date" in missing
    assert "row 1 (the header): no column 'operator', which the table's 'series' key" in series


@pytest.mark.parametrize(
    ("table", "field", "message"),
    [
        ('[tables.figures]\nkind = "charts"\n', "tables.figures.kind", "unknown table kind"),
        ('[tables.figures]\ncolour = "red"\n', "tables.figures.colour", "unknown key"),
        ('[tables.figures]\nfile = "../x.csv"\n', "tables.figures.file", "inside the story"),
        ('[tables.figures]\nfile = "nope.csv"\n', "tables.figures.file", "not found"),
        ("[tables.figures]\ntitle = 3\n", "tables.figures.title", "expected a string"),
        ('[tables.figures]\nseries = "who"\n', None, "no column 'who'"),
        ('[tables.Events]\nfile = "figures.csv"\n', "tables.Events", "also a layer's name"),
        ('[tables."a b"]\nfile = "figures.csv"\n', "tables.a b", "may use only letters"),
    ],
)
def test_table_keys_are_checked(tmp_path, table, field, message):
    found = problems(figures_story(tmp_path, table=table))
    assert len(found) == 1, found
    if field:
        assert f"map.toml, field '{field}'" in found[0], found
    assert message in found[0], found


def test_not_utf8_is_refused(tmp_path):
    story = figures_story(tmp_path)
    (story / "figures.csv").write_bytes((HEADER + "\nx,2017,year,,environ 5 €\n").encode("cp1252"))
    (found,) = problems(story)
    assert "figures.csv: expected UTF-8 text" in found


def test_rows_from_python(tmp_path):
    """A story from GeoDataFrames gives its table's rows, as a DataFrame's records."""
    story = geo.read_story(figures_story(tmp_path))
    frame = pd.read_csv(story.config.folder / "figures.csv")  # counts with gaps read as floats
    events = gpd.read_file(story.config.folder / "events.geojson")
    frames = {"events": (events, {"kind": "events"})}
    table = {"rows": frame.to_dict("records"), "series": "operator", "title": "Troops"}
    from_python = geo.story_from_frames(frames, tables={"figures": table})
    (read,) = from_python.config.tables
    assert read.figures == story.config.tables[0].figures
    with pytest.raises(StoryError, match="reads no files: give the table's rows"):
        geo.story_from_frames(frames, tables={"figures": {"file": "figures.csv"}})


# --- the chart ----------------------------------------------------------------------------


def test_one_mark_per_charted_figure_with_its_tooltip(built):
    (table,) = built.story.config.tables
    drawn = chart(table, "c")
    svg = str(drawn.svg)
    marks = re.findall(
        r'<circle class="gs-mark" data-figure="([^"]+)"[^>]*><title>(.*?)</title>', svg
    )
    charted = [f for f in table.figures if f.value is not None]
    assert [m[0] for m in marks] == [f.id for f in charted] and drawn.marks == len(charted)
    tooltip = dict(marks)["a-2017-06"]
    assert tooltip.startswith("États-Unis, June 2017: about 575. Source: Savage.")
    assert [f.id for f in drawn.left_out] == ["f-2023"]
    # readable at any width: a viewBox, no fixed size; an image named by its title
    assert re.match(r'<svg class="gs-chart-svg" viewBox="0 0 \d+ \d+" role="img"', svg)
    assert 'aria-labelledby="c-title"' in svg and '<title id="c-title">' in svg
    assert "width=" not in svg.split(">", 1)[0]


def test_approximate_marks_are_hollow_and_disagreeing_ones_joined(built):
    (table,) = built.story.config.tables
    svg = str(chart(table, "c").svg)
    fills = dict(re.findall(r'data-figure="([^"]+)"[^>]*fill="([^"]+)"', svg))
    assert fills["a-2017-06"] == "#ffffff" and fills["a-2023-12-07"] != "#ffffff"
    assert svg.count('class="gs-range"') == 1  # June 2017: about 575 and about 645, both shown
    assert svg.count('class="gs-period"') == 1  # 2017 is a year wide (f-2023 is not charted)


def test_chart_axes_show_years_and_values(built):
    svg = str(chart(built.story.config.tables[0], "c").svg)
    years = [int(y) for y in re.findall(r'text-anchor="middle"[^>]*>(\d{4})</text>', svg)]
    assert years and years[0] <= 2017 and years[-1] >= 2023
    assert ">Personnel</text>" in svg and ">0</text>" in svg


def test_chart_escapes_the_table_text(tmp_path):
    rows = ['x,2017,year,,about 5 <img src=x onerror=alert()>,"<b>US</b>",S & P,https://e.org/,']
    story = geo.read_story(figures_story(tmp_path, rows))
    svg = str(chart(story.config.tables[0], "c").svg)
    assert "<img" not in svg and "<b>" not in svg
    assert "&lt;img src=x onerror=alert()&gt;" in svg and "S &amp; P" in svg


def test_chart_is_the_same_every_time(built):
    table = built.story.config.tables[0]
    assert chart(table, "c").svg == chart(table, "c").svg


# --- the export ---------------------------------------------------------------------------


def test_table_is_exported_as_csv_with_its_date_interval(built):
    path = built.out / "data" / "figures.csv"
    assert Path("data/figures.csv") in built.files
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # spreadsheets keep the accents
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [*HEADER.split(","), "date_start", "date_end"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["a-2017-06"]["date"] == "2017-06"  # as written, never padded
    assert (by_id["a-2017-06"]["date_start"], by_id["a-2017-06"]["date_end"]) == (
        "2017-06-01",
        "2017-06-30",
    )
    assert (by_id["a-2017"]["date_start"], by_id["a-2017"]["date_end"]) == (
        "2017-01-01",
        "2017-12-31",
    )
    assert by_id["f-2023-12-13"]["note"] == "Junta, à Niamey"


def test_exported_csv_reads_back_in_pandas(built):
    frame = pd.read_csv(built.out / "data" / "figures.csv", dtype=str, keep_default_na=False)
    assert frame.columns[0] == "id"  # the byte-order mark is skipped
    assert set(frame["operator"]) == {"États-Unis", "France"}
    assert frame.loc[frame["id"] == "f-2023-12-13", "count_text"].item() == "157 left"


@pytest.mark.gdal
def test_exported_csv_reads_back_in_gdal(built):
    tool = require_tool(OGRINFO, "apt-get install gdal-bin")
    run = subprocess.run(
        [tool, "-ro", "-al", "-oo", "AUTODETECT_TYPE=YES", str(built.out / "data/figures.csv")],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0 and not re.search(r"warning|error", output, re.I), output
    assert "Feature Count: 6" in output
    assert re.search(r"^date_start: Date", output, re.M)
    assert "operator (String) = États-Unis" in output
    assert "note (String) = Junta, à Niamey" in output


def test_the_page_links_the_exported_table(built):
    html = (built.out / "index.html").read_text(encoding="utf-8")
    assert 'href="data/figures.csv"' in html


def test_a_figure_is_a_plain_value(built):
    figure = built.story.config.tables[0].figures[0]
    assert isinstance(figure, Figure) and figure.row == 2 and figure.cells["id"] == figure.id


@pytest.mark.parametrize(
    "table",
    [
        "tables = 3\n",
        "[tables]\nfigures = 3\n",
        "[tables.figures]\nrows = [1, 'a']\n",
        "[tables.figures]\nrows = [{ id = [1] }]\n",
        "[tables.figures]\nrows = []\n",
        "[tables.figures]\nrows = 'x'\n",
        '[tables.figures]\nrows = [{ id = "x" }]\nfile = "figures.csv"\n',
        "[tables.figures]\nseries = ''\n",
    ],
)
def test_odd_tables_are_problems_not_crashes(tmp_path, table):
    story = figures_story(tmp_path, table="")
    toml = (story / "map.toml").read_text(encoding="utf-8")
    (story / "map.toml").write_text(table + toml if table.startswith("tables") else toml + table)
    assert problems(story)


def test_readme_documents_every_table_key():
    from geo.story import TABLE_KEYS
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "| `tables` |" in readme
    for key, (_, meaning) in TABLE_KEYS.items():
        assert f"| `{key}` | {'list' if key == 'rows' else 'string'} | {meaning} |" in readme, key
