"""Bad input: every kind of mistake gets a message naming file, feature, field and expectation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geo.build import read_story
from geo.cli import main
from geo.output import MANIFEST
from geo.problems import Problem, StoryError
from tests.conftest import FIXTURES

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
        read_story(BAD / case)
    problems = caught.value.problems
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.file.endswith(f"{case}/{file}")
    assert problem.feature == feature
    assert problem.field == field
    assert expected in problem.message


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_and_leaves_previous_output(case: str, tmp_path, capsys):
    out = tmp_path / "dist"
    out.mkdir()
    (out / MANIFEST).write_text("{}\n")  # an earlier build's output, which a build may replace
    (out / "index.html").write_text("previous build")
    code = main([str(BAD / case), "--out", str(out)])
    stderr = capsys.readouterr().err
    assert code == 2, stderr
    assert CASES[case][3] in stderr
    assert "nothing was written" in stderr
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "index.html"]
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
        read_story(tmp_path)
    assert sorted(p.field for p in caught.value.problems) == [
        "date",
        "location_precision",
        "source_url",
    ]


def test_map_toml_wrong_type_names_the_key(tmp_path):
    (tmp_path / "a.geojson").write_text((FIXTURES / "good/plain/points.geojson").read_text())
    (tmp_path / "map.toml").write_text('title = 3\n[layers.a]\nshow = "yes"\n')
    with pytest.raises(StoryError) as caught:
        read_story(tmp_path)
    messages = {p.field: p.message for p in caught.value.problems}
    assert messages == {
        "title": "expected a string, found a number 3",
        "layers.a.show": "expected true/false, found a string 'yes'",
    }


def test_repairable_polygon_is_repaired_with_a_warning():
    story = read_story(FIXTURES / "good" / "repairable_bowtie")
    (layer,) = story.layers
    assert layer.frame.geometry.iloc[0].is_valid
    assert layer.frame.geometry.iloc[0].area == pytest.approx(2.0)
    assert any("repaired with shapely.make_valid" in w.message for w in story.warnings)


def test_declared_projected_crs_is_reprojected():
    story = read_story(FIXTURES / "good" / "projected_with_crs")
    point = story.layers[0].frame.geometry.iloc[0]
    assert point.x == pytest.approx(0.56, abs=0.01) and point.y == pytest.approx(13.52, abs=0.01)
    assert any("reprojected from EPSG:32631" in w.message for w in story.warnings)


# --- hostile or careless input: refused with a message, never a crash -----------------------

POINT = {"type": "Point", "coordinates": [2.1, 13.5]}


def write_story(folder: Path, layers: dict[str, list[dict]], toml: str | None = None) -> Path:
    """A story of point layers: file name -> features (each a dict of extra Feature members)."""
    for name, features in layers.items():
        doc = {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {}, "geometry": POINT, **f} for f in features
            ],
        }
        (folder / name).write_text(json.dumps(doc), encoding="utf-8")
    if toml is not None:
        (folder / "map.toml").write_text(toml, encoding="utf-8")
    return folder


def problems_of(folder: Path) -> list[Problem]:
    with pytest.raises(StoryError) as caught:
        read_story(folder)
    return caught.value.problems


@pytest.mark.parametrize("name", ["my-layer", "2024.events", "région", "re\u0301gion", "a_b"])
def test_unusual_layer_names_are_accepted(name: str, tmp_path):
    write_story(tmp_path, {f"{name}.geojson": [{}]})
    assert [layer.name for layer in read_story(tmp_path).layers] == [name]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("-x", "layer name '-x' must not start with '-' or '.'"),
        (".x", "layer name '.x' must not start with '-' or '.'"),
        ("a b", "may use only letters, digits, '_', '-' and '.', found ' '"),
        ("a<b", "found '<'"),
    ],
)
def test_bad_layer_file_name_is_refused_citing_the_file(name: str, expected: str, tmp_path):
    write_story(tmp_path, {f"{name}.geojson": [{}]})
    (problem,) = problems_of(tmp_path)
    assert problem.file == str(tmp_path / f"{name}.geojson")  # no map.toml: never cite one
    assert expected in problem.message and "rename the file" in problem.message


def test_bad_layer_name_in_map_toml_names_the_key(tmp_path):
    write_story(tmp_path, {"a.geojson": [{}]}, '[layers.""]\nfile = "a.geojson"\n')
    (problem,) = problems_of(tmp_path)
    assert (problem.file, problem.field) == (str(tmp_path / "map.toml"), "layers.")
    assert problem.message == "layer name is empty"


def test_layer_names_differing_only_by_case_are_refused(tmp_path):
    write_story(tmp_path, {"roads.geojson": [{}], "Roads.geojson": [{}]})
    (problem,) = problems_of(tmp_path)
    assert "layer names must differ by more than upper/lower case" in problem.message


def test_layer_named_twice_by_map_toml_and_a_file_is_refused(tmp_path):
    write_story(tmp_path, {"a.geojson": [{}], "roads.geojson": [{}]})
    (tmp_path / "map.toml").write_text('[layers.roads]\nfile = "a.geojson"\n')
    (problem,) = problems_of(tmp_path)
    assert problem.file == str(tmp_path / "roads.geojson")
    assert "two layers are named 'roads'" in problem.message


def test_unlisted_file_problems_cite_the_file_not_a_missing_map_toml(tmp_path):
    write_story(tmp_path, {"a.geojson": [{"properties": {"n": 10**30}}]})
    (problem,) = problems_of(tmp_path)
    assert problem.file == str(tmp_path / "a.geojson")


@pytest.mark.parametrize("file", ["../x.geojson", "sub/../../x.geojson", "/etc/passwd"])
def test_layer_file_outside_the_story_folder_is_refused(file: str, tmp_path):
    story = tmp_path / "story"
    story.mkdir()
    write_story(tmp_path, {"x.geojson": [{}]})
    (story / "map.toml").write_text(f"[layers.x]\nfile = {json.dumps(file)}\n")
    (problem,) = problems_of(story)
    assert problem.field == "layers.x.file"
    assert problem.message == f"file must be inside the story folder, found {file!r}"


@pytest.mark.parametrize(
    ("toml", "field", "expected"),
    [
        ("fill_opacity = 5", "fill_opacity", "expected a number from 0 to 1, found 5"),
        ("opacity = -0.1", "opacity", "expected a number from 0 to 1, found -0.1"),
        ("weight = inf", "weight", "expected a number from 0 to 50, found inf"),
        ("focus_weight = 51", "focus_weight", "expected a number from 0 to 50, found 51"),
        ("radius = nan", "radius", "expected a number from 0 to 100, found nan"),
        ("radius = 1e300", "radius", "expected a number from 0 to 100, found 1e+300"),
        ("radius = 10000000000000000000000", "radius", "found 10000000000000000000000"),
        ('dash_array = "4 -3"', "dash_array", "expected an SVG dash pattern"),
        ('dash_array = "4 x"', "dash_array", "expected an SVG dash pattern"),
        ('dash_array = "0 0"', "dash_array", "not all 0"),
        ('dash_array = "1e3"', "dash_array", "expected an SVG dash pattern"),
        ('dash_array = "4 2000"', "dash_array", "from 0 to 1000"),
    ],
)
def test_style_values_out_of_range_are_refused(toml: str, field: str, expected: str, tmp_path):
    write_story(tmp_path, {"a.geojson": [{}]}, f"[layers.a.style]\n{toml}\n")
    (problem,) = problems_of(tmp_path)
    assert problem.field == f"layers.a.style.{field}"
    assert expected in problem.message


@pytest.mark.parametrize(
    ("written", "read"), [("4,3", "4 3"), (" 4, 3 ,2 ", "4 3 2"), ("4 3", "4 3"), ("", "")]
)
def test_dash_array_accepts_commas_and_spaces(written: str, read: str, tmp_path):
    write_story(tmp_path, {"a.geojson": [{}]}, f'[layers.a.style]\ndash_array = "{written}"\n')
    assert read_story(tmp_path).layers[0].config.style["dash_array"] == read


def test_order_of_non_strings_is_refused(tmp_path):
    write_story(tmp_path, {"a.geojson": [{}]}, 'order = ["a", 1, {x = 1}]\n')
    assert [(p.field, p.message) for p in problems_of(tmp_path)] == [
        ("order[1]", "expected a layer name (a string), found a number 1"),
        ("order[2]", "expected a layer name (a string), found a table {'x': 1}"),
    ]


def test_language_must_be_a_language_tag(tmp_path):
    write_story(tmp_path, {"a.geojson": [{}]}, 'language = "en\\" onload=\\"x"\n')
    (problem,) = problems_of(tmp_path)
    assert problem.field == "language" and "expected a language tag" in problem.message


def test_map_toml_that_is_a_folder_or_too_deep_is_refused(tmp_path):
    write_story(tmp_path, {"a.geojson": [{}]})
    (tmp_path / "map.toml").mkdir()
    (problem,) = problems_of(tmp_path)
    assert str(problem) == f"{tmp_path / 'map.toml'}: expected a file, found a folder"
    (tmp_path / "map.toml").rmdir()
    (tmp_path / "map.toml").write_text("a = " + "[" * 2000 + "]" * 2000)
    (problem,) = problems_of(tmp_path)
    assert problem.file == str(tmp_path / "map.toml")
    assert "nested too deeply" in problem.message


def test_geojson_nested_too_deep_is_refused_naming_the_file(tmp_path):
    feature = {"properties": {"deep": "DEEP"}}
    write_story(tmp_path, {"a.geojson": [feature]})
    path = tmp_path / "a.geojson"
    path.write_text(path.read_text().replace('"DEEP"', "[" * 2000 + "]" * 2000))
    (problem,) = problems_of(tmp_path)
    assert str(problem) == f"{path}: not valid JSON: arrays or objects nested too deeply"


@pytest.mark.parametrize(
    ("feature", "found"),
    [
        ({"id": {"a": 1}}, "{'a': 1}"),
        ({"id": True}, "True"),
        ({"id": [1]}, "[1]"),
        ({"properties": {"id": {"a": 1}}}, "{'a': 1}"),
        ({"properties": {"id": False}}, "False"),
    ],
)
def test_feature_id_that_is_not_a_string_or_number_is_refused(feature, found, tmp_path):
    write_story(tmp_path, {"a.geojson": [feature]})
    (problem,) = problems_of(tmp_path)
    assert (problem.feature, problem.field) == ("#0", "id")
    assert f"expected a string or a number, found {found}" in problem.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2**63, "expected a whole number from -2**63 to 2**63-1"),
        (-(2**63) - 1, "write it as a string"),
        ("NaN", "expected a finite number, found nan"),
        ("[1, Infinity]", "expected a finite number, found inf"),
        ('"a\\ud800"', "expected Unicode text"),
        ('{"\\udc00": 1}', "expected Unicode text"),
    ],
)
def test_property_values_no_format_can_hold_are_refused(value, expected, tmp_path):
    write_story(tmp_path, {"a.geojson": [{"properties": {"p": "VALUE"}}]})
    path = tmp_path / "a.geojson"
    path.write_text(path.read_text().replace('"VALUE"', str(value)))
    (problem,) = problems_of(tmp_path)
    assert (problem.feature, problem.field) == ("#0", "p")
    assert expected in problem.message


def test_largest_64_bit_integers_are_kept(tmp_path):
    write_story(tmp_path, {"a.geojson": [{"properties": {"big": 2**63 - 1, "small": -(2**63)}}]})
    frame = read_story(tmp_path).layers[0].frame
    assert (frame["big"][0], frame["small"][0]) == (2**63 - 1, -(2**63))


def test_category_field_must_name_a_property(tmp_path):
    write_story(tmp_path, {"a.geojson": [{"properties": {"kind": "x"}}]})
    (tmp_path / "map.toml").write_text('[layers.a]\ncategory_field = "type"\n')
    (problem,) = problems_of(tmp_path)
    assert (problem.file, problem.field) == (
        str(tmp_path / "map.toml"),
        "layers.a.category_field",
    )
    assert problem.message.startswith(f"expected a property of {tmp_path / 'a.geojson'}")
    assert "found 'type'" in problem.message and "'kind'" in problem.message


def test_z_coordinates_are_dropped_with_one_warning_and_no_reprojection(tmp_path):
    z = {"geometry": {"type": "Point", "coordinates": [2.1, 13.5, 250.0]}}
    write_story(tmp_path, {"a.geojson": [z, z]})
    story = read_story(tmp_path)
    assert [w.message for w in story.warnings] == [
        "z coordinates dropped: the map and exports are 2D"
    ]
    assert not story.layers[0].frame.geometry.has_z.any()


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": []},
        {"type": "MultiPolygon", "coordinates": []},
        {"type": "LineString", "coordinates": []},
    ],
)
def test_empty_geometry_is_reported_as_empty(geometry, tmp_path):
    write_story(tmp_path, {"a.geojson": [{"geometry": geometry}]})
    (problem,) = problems_of(tmp_path)
    assert (problem.feature, problem.field, problem.message) == ("#0", "geometry", "empty geometry")


@pytest.mark.parametrize("km", [1e12, -1, 2000.5])
def test_precision_km_is_bounded(km: float, tmp_path):
    bad = json.loads((FIXTURES / "bad/swapped_lat_lon/bases.geojson").read_text())
    bad["features"][0]["properties"]["precision_km"] = km
    (tmp_path / "bases.geojson").write_text(json.dumps(bad))
    (tmp_path / "map.toml").write_text('[layers.bases]\nkind = "bases"\n')
    (problem,) = problems_of(tmp_path)
    assert problem.field == "precision_km"
    assert problem.message == f"expected a number from 0 to 2000, found {km!r}"


def test_awkward_property_names_load_and_keep_their_names(tmp_path):
    props = {"geometry": "g", "fid": 1, "OGC_FID": 2, "Name": "A", "name": "a", "": 3, " ": 4}
    write_story(tmp_path, {"a.geojson": [{"properties": {**props, "lon": 1, "lat": 2}}]})
    frame = read_story(tmp_path).layers[0].frame
    assert frame["geometry"][0] == "g"
    assert frame.geometry.name == "_geometry" and frame.geometry[0].x == 2.1
    assert {"fid", "OGC_FID", "Name", "name", "", " ", "lon", "lat"} <= set(frame.columns)


def test_in_country_is_derived_so_a_property_may_not_take_its_name(tmp_path):
    write_story(tmp_path, {"a.geojson": [{"properties": {"in_country": "Niger"}}]})
    (problem,) = problems_of(tmp_path)
    assert problem.field == "in_country" and "derived by the build" in problem.message


def test_point_layers_get_in_country_even_without_countries(tmp_path):
    write_story(tmp_path, {"a.geojson": [{}]})
    assert read_story(tmp_path).layers[0].frame["in_country"].tolist() == [None]
