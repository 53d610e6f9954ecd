"""The foot of the map: the credit names its sources, a byline says who made the map, a date
says how recent the data are, and "Get the data" leads with the story's own files."""

from __future__ import annotations

import csv
import datetime as dt
import html
import json
import re
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point

from geo.build import read_story, story_from_frames
from geo.kinds import kinds
from geo.problems import StoryError
from geo.render import to_folium
from geo.story import TOP_KEYS, tomllib
from tests.conftest import DEFAULT_STORY

POINTS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "Niamey"},
            "geometry": {"type": "Point", "coordinates": [2.11, 13.51]},
        }
    ],
}


def story_folder(tmp_path: Path, toml: str) -> Path:
    (tmp_path / "places.geojson").write_text(json.dumps(POINTS), encoding="utf-8")
    (tmp_path / "map.toml").write_text(toml, encoding="utf-8")
    return tmp_path


def problem_of(folder: Path):
    with pytest.raises(StoryError) as caught:
        read_story(folder)
    (problem,) = caught.value.problems
    return problem


def page_of(folder: Path) -> str:
    story = read_story(folder)
    return to_folium(story, story.scenes).get_root().render()


def footer(page: str) -> str:
    return re.search(r'<footer class="gs-foot">(.*?)</footer>', page, re.DOTALL)[1]


# --- data_as_of and byline: map.toml's keys, checked ----------------------------------------


@pytest.mark.parametrize(
    "value", ["29/01/2026", "2026-13", "2026-1-29", "January 2026", "2026-02-30", ""]
)
def test_bad_data_as_of_names_map_toml_the_key_and_the_form(value, tmp_path):
    problem = problem_of(story_folder(tmp_path, f"data_as_of = {json.dumps(value)}\n"))
    assert problem.file == str(tmp_path / "map.toml") and problem.field == "data_as_of"
    assert "YYYY, YYYY-MM or YYYY-MM-DD" in problem.message
    assert f"found {value!r}" in problem.message
    assert str(problem).startswith(f"{tmp_path / 'map.toml'}, field 'data_as_of': expected")


@pytest.mark.parametrize(
    ("toml", "found"),
    [
        ("data_as_of = 2026", "expected a string or a date, found a number 2026"),
        ("data_as_of = 2026-01-29T10:00:00", "found datetime.datetime(2026, 1, 29, 10, 0)"),
        ('byline = ["Graphic"]', "expected a string, found a list ['Graphic']"),
    ],
)
def test_wrong_types_are_refused_naming_the_key(toml, found, tmp_path):
    problem = problem_of(story_folder(tmp_path, toml + "\n"))
    assert problem.file == str(tmp_path / "map.toml")
    assert problem.field == toml.split(" = ")[0]
    assert found in problem.message


@pytest.mark.parametrize(
    ("toml", "iso", "shown"),
    [
        ('data_as_of = "2026-11"', "2026-11", "November 2026"),  # a month stays a month
        ('data_as_of = "2026"', "2026", "2026"),
        ('data_as_of = "2026-01-29"', "2026-01-29", "29 January 2026"),
        ("data_as_of = 2026-01-29", "2026-01-29", "29 January 2026"),  # a TOML date
    ],
)
def test_data_as_of_is_shown_as_precise_as_given(toml, iso, shown, tmp_path):
    folder = story_folder(tmp_path, toml + "\n")
    assert read_story(folder).config.data_as_of == iso
    assert f'Data as of <time datetime="{iso}">{shown}</time>' in footer(page_of(folder))


def test_byline_is_shown_as_text(tmp_path):
    toml = 'byline = "Graphic: <b>A & B</b>"\ndata_as_of = "2026-11"\n'
    foot = footer(page_of(story_folder(tmp_path, toml)))
    assert (
        '<p class="gs-byline">Graphic: &lt;b&gt;A &amp; B&lt;/b&gt; · Data as of '
        '<time datetime="2026-11">November 2026</time></p>'
    ) in foot
    assert "<b>" not in foot


def test_without_byline_or_date_the_footer_has_no_empty_line(tmp_path):
    assert "gs-byline" not in page_of(story_folder(tmp_path, 'title = "A map"\n'))


def test_python_options_are_checked_the_same(tmp_path):
    frame = gpd.GeoDataFrame({"name": ["Niamey"]}, geometry=[Point(2.11, 13.51)], crs=4326)
    with pytest.raises(StoryError) as caught:
        story_from_frames({"places": frame}, data_as_of="soon")
    (problem,) = caught.value.problems
    assert (problem.file, problem.field) == ("story options", "data_as_of")
    story = story_from_frames({"places": frame}, byline="Map: me", data_as_of="2024-03")
    assert (story.config.byline, story.config.data_as_of) == ("Map: me", "2024-03")
    assert {"byline", "data_as_of"} <= set(TOP_KEYS)


# --- the default story -----------------------------------------------------------------------


def default_toml() -> dict:
    with (DEFAULT_STORY / "map.toml").open("rb") as f:
        return tomllib.load(f)


def latest_fact() -> str:
    """The latest date any fact in layers/ carries: events, sites and troop figures."""
    dates = []
    for name, keys in (("events", ("date", "end_date")), ("bases", ("start_date", "end_date"))):
        doc = json.loads((DEFAULT_STORY / f"{name}.geojson").read_text(encoding="utf-8"))
        for feature in doc["features"]:
            dates += [feature["properties"][k] for k in keys if k in feature["properties"]]
        if name == "bases":
            dates += [f["properties"]["status_date"] for f in doc["features"]]
    with (DEFAULT_STORY / "troops.csv").open(encoding="utf-8-sig") as f:
        dates += [row["date"] for row in csv.DictReader(f)]
    # compare as the first day each date covers: '2024-04' is April 2024
    return max(dates, key=lambda d: dt.date(*[*(int(p) for p in d.split("-")), 1, 1][:3]))


def test_default_story_data_as_of_is_its_latest_fact():
    assert default_toml()["data_as_of"] == latest_fact() == "2026-01-29"


def test_default_credit_names_sources_not_a_repository_path():
    toml = default_toml()
    credit = toml["credit"]
    assert "Natural Earth" in credit and "popup" in credit
    assert not re.search(r"\w+/\w+\.\w+|SOURCES|\.md\b|layers/", credit), credit
    assert toml["byline"] == "Map: geo-story"  # neutral: the tool, not an invented person


def test_default_page_footer(default_build):
    page = (default_build.out / "index.html").read_text(encoding="utf-8")
    foot = footer(page)
    assert "layers/SOURCES.md" not in foot
    assert (
        '<p class="gs-byline">Map: geo-story · Data as of '
        '<time datetime="2026-01-29">29 January 2026</time></p>'
    ) in foot


# --- "Get the data": the story's own layers first, base layers last -------------------------


def data_lines(page: str) -> tuple[list[str], list[str]]:
    """The titles of the lines of 'Get the data', and those folded under 'Base layers'."""
    box = re.search(r'<details class="gs-data">(.*?)<p>Layer sources', page, re.DOTALL)[1]
    own, _, base = box.partition('<details class="gs-data-base">')
    titles = re.compile(r"<li>([^<:]+(?::[^<:]+)?): <a ")
    return (
        [html.unescape(t) for t in titles.findall(own)],
        [html.unescape(t) for t in titles.findall(base)],
    )


def test_get_the_data_leads_with_the_storys_own_files(default_build):
    page = (default_build.out / "index.html").read_text(encoding="utf-8")
    own, base = data_lines(page)
    story = default_build.story
    assert own[:2] == ["Events", "Foreign military sites"]  # the top layer first
    assert own[2].startswith("Troop figures")  # the figures table
    assert own[3:] == ["The whole map"]  # GeoPackage, KML, data package
    # the base layers (their kind says so), folded, the top one first
    assert base == [
        "Towns and capitals",
        "Rivers",
        "Lakes",
        "Niger's regions",
        "Niger and its neighbours",
        "Other countries",
    ]
    base_names = {lay.name for lay in story.layers if kinds()[lay.config.kind].base}
    assert base_names == {"places", "rivers", "lakes", "niger_regions", "countries", "land"}
    # every data file is linked once, under whose data it is
    hrefs = re.findall(r'href="(data/[^"]+)" download', page)
    written = sorted(p.as_posix() for p in default_build.files if p.parts[0] == "data")
    assert sorted(hrefs) == written
    whole = re.search(r"<li>The whole map: (.*?)</li>", page)[1]
    assert "niger-us-military.gpkg" in whole and "datapackage.json" in whole
    for name in base_names:
        assert f"data/{name}.geojson" not in page.split('<details class="gs-data-base">')[0]


def test_get_the_data_links_say_the_format(default_build):
    page = (default_build.out / "index.html").read_text(encoding="utf-8")
    line = re.search(r"<li>Events: (.*?)</li>", page)[1]
    formats = re.findall(r'href="data/events[^"]*" download>([^<]+)</a>', line)
    assert formats == ["GeoJSON", "CSV", "Shapefile", "FlatGeobuf", "GeoParquet"]
