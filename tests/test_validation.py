"""Bad input: every kind of mistake gets a message naming file, feature, field and expectation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from geo.build import check
from geo.problems import StoryError
from tests.conftest import FIXTURES, ROOT

BAD = FIXTURES / "bad"

# case -> (file named in the message, feature, field, words saying what was expected)
CASES = {
    "not_json": ("events.geojson", None, None, "not valid JSON: Expecting value at line 2"),
    "not_geojson": ("events.geojson", None, None, "not a GeoJSON FeatureCollection"),
    "missing_field": (
        "events.geojson",
        "id 'junta-ends-sofa' (#0)",
        "source_url",
        "missing required field; expected an http(s) URL",
    ),
    "bad_date": (
        "events.geojson",
        "id 'junta-ends-sofa' (#0)",
        "date",
        "expected an ISO 8601 date",
    ),
    "javascript_url": (
        "events.geojson",
        "id 'junta-ends-sofa' (#0)",
        "source_url",
        "only http:// and https:// links are allowed",
    ),
    "duplicate_ids": ("events.geojson", "#1", "id", "duplicate id 'junta-ends-sofa'"),
    "out_of_range": (
        "events.geojson",
        "id 'junta-ends-sofa' (#0)",
        "geometry",
        "expected longitude -180..180 and latitude -90..90",
    ),
    "projected_no_crs": (
        "events.geojson",
        "id 'junta-ends-sofa' (#0)",
        "geometry",
        "coordinates cannot be lon/lat",
    ),
    "invalid_polygon": ("areas.geojson", "#0", "geometry", "invalid Polygon (Self-intersection"),
    "empty_layer": ("events.geojson", None, None, "the layer is empty"),
    "unknown_key": ("map.toml", None, "layers.events.colour", "unknown key; expected one of"),
    "swapped_lat_lon": (
        "bases.geojson",
        "id 'ab101-us' (#0)",
        "geometry",
        "with lon and lat swapped it would lie in NER",
    ),
}


def test_corpus_and_table_agree():
    assert sorted(p.name for p in BAD.iterdir()) == sorted(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_reported_precisely(case: str):
    file, feature, field, expected = CASES[case]
    with pytest.raises(StoryError) as caught:
        check(BAD / case)
    problems = caught.value.problems
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.file.endswith(f"{case}/{file}")
    assert problem.feature == feature
    assert problem.field == field
    assert expected in problem.message


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_and_leaves_previous_output(case: str, tmp_path):
    out = tmp_path / "dist"
    out.mkdir()
    (out / "index.html").write_text("previous build")
    run = subprocess.run(
        [sys.executable, "build_map.py", str(BAD / case), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2, run.stderr
    assert CASES[case][3] in run.stderr
    assert "nothing was written" in run.stderr
    assert [p.name for p in out.iterdir()] == ["index.html"]
    assert (out / "index.html").read_text() == "previous build"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]  # no staging folder left


def test_every_problem_is_reported_not_only_the_first(tmp_path):
    text = (BAD / "missing_field" / "events.geojson").read_text()
    broken = text.replace('"date": "2024-03-16"', '"date": "16/03/2024"').replace(
        '"location_precision": "city"', '"location_precision": "street"'
    )
    (tmp_path / "events.geojson").write_text(broken)
    (tmp_path / "map.toml").write_text('[layers.events]\nkind = "events"\n')
    with pytest.raises(StoryError) as caught:
        check(tmp_path)
    assert sorted(p.field for p in caught.value.problems) == [
        "date",
        "location_precision",
        "source_url",
    ]


def test_map_toml_wrong_type_names_the_key(tmp_path):
    (tmp_path / "a.geojson").write_text((FIXTURES / "good/plain/points.geojson").read_text())
    (tmp_path / "map.toml").write_text('title = 3\n[layers.a]\nshow = "yes"\n')
    with pytest.raises(StoryError) as caught:
        check(tmp_path)
    messages = {p.field: p.message for p in caught.value.problems}
    assert messages == {
        "title": "expected a string, found a number 3",
        "layers.a.show": "expected true/false, found a string 'yes'",
    }


def test_repairable_polygon_is_repaired_with_a_warning():
    story = check(FIXTURES / "good" / "repairable_bowtie")
    (layer,) = story.layers
    assert layer.frame.geometry.iloc[0].is_valid
    assert layer.frame.geometry.iloc[0].area == pytest.approx(2.0)
    assert any("repaired with shapely.make_valid" in w.message for w in story.warnings)


def test_declared_projected_crs_is_reprojected():
    story = check(FIXTURES / "good" / "projected_with_crs")
    point = story.layers[0].frame.geometry.iloc[0]
    assert point.x == pytest.approx(0.56, abs=0.01) and point.y == pytest.approx(13.52, abs=0.01)
    assert any("reprojected from EPSG:32631" in w.message for w in story.warnings)
