"""Exports that must not lose, overwrite or weaponise anything (a red-team pass).

Each test builds a small story of plain layers in a temporary folder and reads the exports back
the way a GIS user would: pyogrio (GDAL), ogrinfo, sqlite3, the csv module, a KML parser.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import sqlite3
import warnings
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from geo.build import BuildResult, build, read_story
from geo.cli import main
from geo.exports import EXTRA_FORMATS, export_problems
from geo.exports.shapefile import SHAPEFILE_NOTES
from geo.exports.tables import field_names, gdal_warnings_to, typed_frame
from geo.problems import StoryError
from tests.test_export import digests, ogrinfo

KML = "{http://www.opengis.net/kml/2.2}"
POINT = {"type": "Point", "coordinates": [2.11, 13.51]}
LINE = {"type": "LineString", "coordinates": [[2.0, 13.0], [2.5, 13.5]]}
POLYGON = {"type": "Polygon", "coordinates": [[[2, 13], [3, 13], [3, 14], [2, 13]]]}


def feature(properties: dict[str, Any], geometry: dict | None = None) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry or POINT}


def write_story(folder: Path, layers: dict[str, list[dict]], map_toml: str = "") -> Path:
    """A story of plain layers: one GeoJSON file per layer name."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, features in layers.items():
        document = {"type": "FeatureCollection", "features": features}
        (folder / f"{name}.geojson").write_text(json.dumps(document), encoding="utf-8")
    if map_toml:
        (folder / "map.toml").write_text(map_toml, encoding="utf-8")
    return folder


def build_all(story: Path, tmp_path: Path) -> BuildResult:
    return build(story, tmp_path / "dist", exports=EXTRA_FORMATS)


def data(result: BuildResult) -> Path:
    return result.out / "data"


def gpkg_path(result: BuildResult) -> Path:
    return data(result) / f"{result.story.config.name}.gpkg"


def messages(problems: list) -> str:
    return "\n".join(str(p) for p in problems)


def problems_of(story: Path) -> list:
    """What the exports refuse in a story, whether ``read_story`` already reports it or not."""
    try:
        return export_problems(read_story(story))
    except StoryError as error:
        return error.problems


# --- table and file names -------------------------------------------------------------------


def test_a_mixed_layer_and_a_layer_named_like_its_split_table_are_refused(tmp_path: Path):
    story = write_story(
        tmp_path / "story",
        {
            "water": [feature({"name": "Niger"}, LINE), feature({"name": "Lake"}, POLYGON)],
            "Water_Lines": [feature({"name": "Canal"}, LINE)],
        },
    )
    problems = problems_of(story)
    assert len(problems) == 1
    (problem,) = problems
    assert Path(problem.file).name in ("water.geojson", "Water_Lines.geojson")
    for part in (
        "layer 'water' would write the GeoPackage table 'water_lines'",
        "layer 'Water_Lines' (",
        "layer 'water' mixes geometry types, so GeoPackage gets it as water_lines, water_polygons",
        "names that differ only in upper/lower case are the same table or file",
        "rename one of the layers",
    ):
        assert part in problem.message
    with pytest.raises(StoryError) as error:
        build(story, tmp_path / "dist")
    assert error.value.problems == problems
    assert not (tmp_path / "dist").exists()


def test_geopackage_reserved_table_names_are_refused(tmp_path: Path):
    names = ["Layer_Styles", "gpkg_notes", "RTREE_roads_geom", "sqlite_stat1"]
    story = write_story(tmp_path / "story", {n: [feature({"name": n})] for n in names})
    problems = problems_of(story)
    assert sorted(Path(p.file).stem for p in problems) == sorted(names)
    text = messages(problems)
    assert "'layer_styles' holds the layers' QGIS styles" in text
    for prefix in ("gpkg_", "rtree_", "sqlite_"):
        assert f"names starting '{prefix}' (in any case) belong to GeoPackage and SQLite" in text


def test_a_story_with_distinct_names_has_no_export_problems(tmp_path: Path):
    story = write_story(
        tmp_path / "story",
        {
            "water": [feature({}, LINE), feature({}, POLYGON)],
            "water_rivers": [feature({}, LINE)],
            "my-layer": [feature({})],
            "layer_styles_2": [feature({})],
        },
    )
    assert problems_of(story) == []


def test_tables_sharing_a_title_get_distinct_geopackage_identifiers(tmp_path: Path):
    story = write_story(
        tmp_path / "story",
        {"a": [feature({})], "b": [feature({})]},
        '[layers.a]\ntitle = "Roads"\n[layers.b]\ntitle = "Roads"\n',
    )
    result = build(story, tmp_path / "dist")
    with sqlite3.connect(gpkg_path(result)) as db:
        rows = db.execute("SELECT table_name, identifier FROM gpkg_contents ORDER BY rowid")
        identifiers = dict(rows.fetchall())
    assert identifiers == {"a": "Roads", "b": "Roads (b)", "layer_styles": "layer_styles"}


# --- field names ----------------------------------------------------------------------------

AWKWARD = {
    "fid": "x",
    "OGC_FID": 3,
    "Name": "A",
    "name": "a",
    "": "empty",
    " ": "space",
    "lon": 1.5,
    "lat": "north",
    "_name": "underscore",
    "Geometry": "shape",
}
# Property -> exported name: '_name' is taken by a property, so 'name' moves further.
AWKWARD_NAMES = {
    "": "unnamed",
    " ": "_unnamed",
    "Geometry": "_Geometry",  # GDAL crashes on a field named like the geometry column
    "Name": "Name",
    "OGC_FID": "_OGC_FID",
    "_name": "_name",
    "fid": "fid",
    "lat": "lat",
    "lon": "lon",
    "name": "__name",
}


@pytest.fixture(scope="module")
def awkward_build(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """A plain layer whose properties collide with what the formats use or with each other."""
    tmp = tmp_path_factory.mktemp("awkward")
    second = {**AWKWARD, "fid": "y", "OGC_FID": 4, "name": "b"}
    story = write_story(tmp / "story", {"points": [feature(AWKWARD), feature(second, POINT)]})
    return build_all(story, tmp)


def test_awkward_property_names_get_one_unique_name_in_every_format(awkward_build: BuildResult):
    (layer,) = awkward_build.story.layers
    names = field_names(layer)
    assert {k: v for k, v in names.items() if k in AWKWARD} == AWKWARD_NAMES
    expected = list(names.values())
    folder = data(awkward_build)
    for path in (
        gpkg_path(awkward_build),
        folder / "points.geojson",
        folder / "points.fgb",
    ):
        back = pyogrio.read_dataframe(path, layer="points")
        assert [c for c in back.columns if c != "geometry"] == expected, path.name
        assert sorted(back["_OGC_FID"]) == [3, 4], path.name  # not taken as the feature id
        assert sorted(back["__name"]) == ["a", "b"], path.name
        assert sorted(back["unnamed"]) == ["empty", "empty"], path.name
    parquet = gpd.read_parquet(folder / "points.parquet")
    assert [c for c in parquet.columns if c != "geometry"] == expected


def test_geopackage_fid_and_geometry_columns_give_way_to_properties(awkward_build: BuildResult):
    with sqlite3.connect(gpkg_path(awkward_build)) as db:
        columns = {r[1]: (r[2], r[5]) for r in db.execute('PRAGMA table_info("points")')}
        geometry_column = db.execute("SELECT column_name FROM gpkg_geometry_columns").fetchone()
        styled = db.execute("SELECT f_geometry_column FROM layer_styles").fetchone()
        fids = [r[0] for r in db.execute('SELECT fid FROM "points" ORDER BY "_fid"')]
    assert columns["_fid"] == ("INTEGER", 1)  # the primary key
    assert columns["fid"][0] == "TEXT"  # the story's property, as it is
    assert fids == ["x", "y"]
    assert geometry_column == styled == ("geom",)


def test_shapefile_fields_txt_lists_every_field_the_dbf_holds(awkward_build: BuildResult):
    path = data(awkward_build) / "points.shp.zip"
    dbf_fields = pyogrio.read_info(f"/vsizip/{path}")["fields"].tolist()
    with zipfile.ZipFile(path) as archive:
        notes = archive.read(SHAPEFILE_NOTES).decode("utf-8")
    listed = [line.strip() for line in notes.splitlines() if line.startswith("  ")]
    assert len(listed) == len(dbf_fields)
    for line, field in zip(listed, dbf_fields, strict=True):
        assert line == field or line.endswith(f" -> {field}"), (line, field)
    assert "  '' -> unnamed\n" in notes
    assert "  ' ' -> _unnamed\n" in notes
    assert "  OGC_FID -> _OGC_FID\n" in notes


def test_renamed_fields_are_described_with_the_layer(awkward_build: BuildResult):
    with sqlite3.connect(gpkg_path(awkward_build)) as db:
        (description,) = db.execute("SELECT description FROM gpkg_contents LIMIT 1").fetchone()
    assert "Renamed fields: '' -> 'unnamed', ' ' -> '_unnamed'" in description
    assert "'OGC_FID' -> '_OGC_FID'" in description and "'name' -> '__name'" in description


def test_csv_headers_are_unique_when_properties_are_called_lon_and_lat(
    awkward_build: BuildResult,
):
    with (data(awkward_build) / "points.csv").open(encoding="utf-8-sig", newline="") as f:
        header, first, _ = list(csv.reader(f))
    assert header[:2] == ["_lon", "_lat"]
    assert len(header) == len({h.lower() for h in header})
    row = dict(zip(header, first, strict=True))
    assert (row["_lon"], row["_lat"], row["lon"], row["lat"]) == ("2.11", "13.51", "1.5", "north")


def test_ogrinfo_reads_the_awkward_exports_without_warnings(awkward_build: BuildResult):
    folder = data(awkward_build)
    for target in (str(gpkg_path(awkward_build)), str(folder / "points.fgb")):
        assert "__name" in ogrinfo(target)["points"]["fields"]
    assert "_OGC_FID" in ogrinfo(f"/vsizip/{folder / 'points.shp.zip'}")["points"]["fields"]


def test_qgis_style_fid_of_unique_integers_stays_a_field(tmp_path: Path):
    story = write_story(
        tmp_path / "story", {"places": [feature({"fid": i, "name": f"p{i}"}) for i in (7, 3)]}
    )
    result = build(story, tmp_path / "dist")
    back = pyogrio.read_dataframe(gpkg_path(result), layer="places")
    assert back[["fid", "name"]].to_dict("list") == {"fid": [7, 3], "name": ["p7", "p3"]}


def test_a_renamed_category_field_still_colours_its_layer(tmp_path: Path):
    story = write_story(
        tmp_path / "story",
        {"sites": [feature({"Kind": "A", "kind": k}) for k in ("well", "dam")]},
        '[layers.sites]\ncategory_field = "kind"\n',
    )
    result = build(story, tmp_path / "dist")
    with sqlite3.connect(gpkg_path(result)) as db:
        (qml,) = db.execute("SELECT styleQML FROM layer_styles").fetchone()
    renderer = ET.fromstring(qml.split("\n", 1)[1]).find("renderer-v2")
    assert renderer.get("attr") == "_kind"  # the field holding 'well' and 'dam', not 'Kind'
    assert {c.get("value") for c in renderer.iter("category")} == {"well", "dam"}


def test_a_category_missing_from_one_part_of_a_mixed_layer_still_styles(tmp_path: Path):
    story = write_story(
        tmp_path / "story",
        {"mixed": [feature({"type": "a"}), feature({"type": None}, LINE)]},
        '[layers.mixed]\ncategory_field = "type"\n',
    )
    result = build(story, tmp_path / "dist")
    with sqlite3.connect(gpkg_path(result)) as db:
        styles = dict(db.execute("SELECT f_table_name, styleQML FROM layer_styles").fetchall())
    assert set(styles) == {"mixed_points", "mixed_lines"}
    lines = ET.fromstring(styles["mixed_lines"].split("\n", 1)[1]).find("renderer-v2")
    assert [c.get("value") for c in lines.iter("category")] == []


def test_a_property_called_geometry_is_exported_as_underscore_geometry(tmp_path: Path):
    """The loader keeps such a property beside a geometry column of another name."""
    story = write_story(tmp_path / "story", {"points": [feature({"kind": "well"})]})
    (layer,) = read_story(story).layers
    frame = gpd.GeoDataFrame(
        {"geometry": ["a point"], "kind": ["well"], "_geometry": layer.frame.geometry.values},
        geometry="_geometry",
        crs=layer.frame.crs,
    )
    layer = dataclasses.replace(layer, frame=frame)
    typed = typed_frame(layer)
    assert list(typed.columns) == ["_geometry", "kind", "geometry"]
    assert typed.geometry.name == "geometry" and typed["_geometry"].tolist() == ["a point"]


def test_geometries_with_z_are_written_2d_in_every_format(tmp_path: Path):
    raised = {"type": "Point", "coordinates": [2.11, 13.51, 200.0]}
    line = {"type": "LineString", "coordinates": [[2, 13, 1], [3, 14, 2]]}
    story = write_story(tmp_path / "story", {"sites": [feature({}, raised), feature({}, line)]})
    result = build_all(story, tmp_path)
    for name in ("sites.fgb", "sites.geojson", f"{result.story.config.name}.gpkg"):
        path = data(result) / name
        for table in pyogrio.list_layers(path)[:, 0]:
            if table != "layer_styles":
                assert not pyogrio.read_dataframe(path, layer=table).has_z.any(), (name, table)


# --- values: CSV formulas, KML links --------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1", "-x", "@SUM(A1)", "\tx", "\rx"]


@pytest.fixture(scope="module")
def values_build(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    tmp = tmp_path_factory.mktemp("values")
    west = {"type": "Point", "coordinates": [-12.5, -3.25]}
    features = [
        feature({"note": text, "depth": -12.5 - i, "source_url": "javascript:alert(1)"}, west)
        for i, text in enumerate(FORMULAS)
    ]
    features.append(feature({"note": "plain", "depth": 2.0, "source_url": "https://a.example/"}))
    story = write_story(tmp / "story", {"wells": features})
    return build_all(story, tmp)


def test_csv_neutralises_formulas_but_keeps_numbers_numbers(values_build: BuildResult):
    with (data(values_build) / "wells.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["note"] for r in rows] == ["'" + t for t in FORMULAS] + ["plain"]
    assert [r["depth"] for r in rows[:2]] == ["-12.5", "-13.5"]
    assert (rows[0]["lon"], rows[0]["lat"]) == ("-12.5", "-3.25")
    csv_info = ogrinfo(
        str(data(values_build) / "wells.csv"),
        *("-oo", "X_POSSIBLE_NAMES=lon", "-oo", "Y_POSSIBLE_NAMES=lat"),
        *("-oo", "AUTODETECT_TYPE=YES"),
    )
    assert csv_info["wells"]["fields"]["depth"] == "Real"


@pytest.mark.parametrize("name", ["wells.geojson", "wells.fgb", "wells.parquet", "gpkg"])
def test_other_formats_keep_formula_text_exact(values_build: BuildResult, name: str):
    if name == "gpkg":
        back = pyogrio.read_dataframe(gpkg_path(values_build), layer="wells")
    elif name.endswith(".parquet"):
        back = gpd.read_parquet(data(values_build) / name)
    else:
        back = pyogrio.read_dataframe(data(values_build) / name)
    assert sorted(back["note"]) == sorted([*FORMULAS, "plain"])


def test_kml_links_only_http_urls(values_build: BuildResult):
    root = ET.parse(data(values_build) / f"{values_build.story.config.name}.kml").getroot()
    descriptions = [d.text for d in root.iter(f"{KML}description") if d.text]
    balloons = [d for d in descriptions if d.startswith("<table>")]
    assert len(balloons) == len(FORMULAS) + 1
    assert not any("javascript:" in d and "href" in d for d in balloons)
    assert sum("<p>Source: javascript:alert(1)</p>" in d for d in balloons) == len(FORMULAS)
    assert sum('<a href="https://a.example/">' in d for d in balloons) == 1


def test_kml_ids_are_unique(tmp_path: Path):
    story = write_story(
        tmp_path / "story",
        {
            "a": [feature({"kind": "x"}), feature({"kind": "y"})],
            "a-0": [feature({})],
            "a.style": [feature({})],
            "a-style": [feature({})],
        },
        '[layers.a]\ncategory_field = "kind"\n',
    )
    result = build(story, tmp_path / "dist", exports=["kml"])
    root = ET.parse(data(result) / f"{result.story.config.name}.kml").getroot()
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids)) and len(ids) > 4


# --- many layers: one GeoPackage, merged --------------------------------------------------------


@pytest.fixture(scope="module")
def many_layers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("many")
    layers = {f"l{i:02d}": [feature({"n": i, "fid": i})] for i in range(30)}
    layers["mixed"] = [feature({"n": 1}, LINE), feature({"n": 2}, POLYGON)]
    return write_story(tmp / "story", layers)


def test_many_layers_make_one_geopackage_gdal_reads_cleanly(many_layers: Path, tmp_path: Path):
    result = build(many_layers, tmp_path / "dist")
    path = gpkg_path(result)
    found = ogrinfo(str(path))
    expected = {f"l{i:02d}" for i in range(30)} | {"mixed_lines", "mixed_polygons"}
    assert set(found) == expected | {"layer_styles"}
    assert found["layer_styles"]["count"] == len(expected)
    for name in expected:
        assert found[name]["count"] == 1 and found[name]["epsg4326"], name
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        titles = db.execute(
            "SELECT r.table_name, m.metadata FROM gpkg_metadata m"
            " JOIN gpkg_metadata_reference r ON r.md_file_id = m.id"
        ).fetchall()
        indexed = {r[0] for r in db.execute("SELECT table_name FROM gpkg_extensions")}
    assert {t for t, _ in titles} == expected
    for table, metadata in titles:
        title = table.removesuffix("_lines").removesuffix("_polygons").capitalize()
        assert f'<MDI key="TITLE">{title}</MDI>' in metadata, table
    assert expected <= indexed  # every table has its R-tree
    back = pyogrio.read_dataframe(path, layer="l07", bbox=(2, 13, 3, 14))  # through the R-tree
    assert back["n"].tolist() == [7]


def test_many_layers_build_to_identical_bytes(many_layers: Path, tmp_path: Path):
    first = build(many_layers, tmp_path / "one")
    again = build(many_layers, tmp_path / "two")
    assert digests(data(first)) == digests(data(again))


# --- GDAL's warnings ------------------------------------------------------------------------


def test_gdal_warnings_go_to_the_log_not_stderr(capfd: pytest.CaptureFixture[str]):
    logged: list[str] = []
    with gdal_warnings_to(logged.append):
        warnings.warn("Normalized/laundered field name", RuntimeWarning, stacklevel=1)
    assert logged == ["warning: GDAL: Normalized/laundered field name"]
    assert capfd.readouterr().err == ""


def test_quiet_build_of_awkward_names_prints_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
):
    properties = {**AWKWARD, "note": "=1+1", "z": None}
    raised = {"type": "Point", "coordinates": [2.11, 13.51, 200.0]}
    story = write_story(
        tmp_path / "story",
        {"points": [feature(properties, raised)], "water": [feature({}, LINE), feature({})]},
    )
    code = main([str(story), "--out", str(tmp_path / "dist"), "-q", "--export", "all"])
    captured = capfd.readouterr()
    assert (code, captured.err) == (0, "")


def test_written_values_match_the_story(awkward_build: BuildResult):
    """Renaming moves names, never values: every exported column holds its property's values."""
    (layer,) = awkward_build.story.layers
    back = pyogrio.read_dataframe(data(awkward_build) / "points.geojson")
    for original, exported in field_names(layer).items():
        want = [None if pd.isna(v) else v for v in layer.frame[original]]
        assert back[exported].tolist() == want, original


def test_story_files_and_layer_files_never_share_a_name(tmp_path: Path):
    story = write_story(tmp_path / "story", {"story": [feature({})]}, 'name = "story"\n')
    result = build_all(story, tmp_path)
    names = [p.name.lower() for p in data(result).iterdir()]
    assert len(names) == len(set(names))
    assert {"story.gpkg", "story.kml", "story.geojson"} <= set(names)
    assert shapely.Point(2.11, 13.51).equals(
        pyogrio.read_dataframe(data(result) / "story.geojson").geometry[0]
    )


def test_csv_keeps_accents_for_spreadsheets_gdal_and_pandas(tmp_path: Path):
    """The CSV starts with a UTF-8 byte-order mark (Excel reads accents right by double-click);
    GDAL and pandas read the same header and the accented values."""
    import pandas as pd

    result = build(Path(__file__).parent / "fixtures/export_story", tmp_path / "dist")
    path = result.out / "data/places.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbflon,lat,")
    by_pandas = pd.read_csv(path)
    assert list(by_pandas.columns[:2]) == ["lon", "lat"]
    by_gdal = pyogrio.read_dataframe(path)
    assert list(by_gdal.columns[:2]) == ["lon", "lat"]
    names = set(by_pandas["name"])
    assert names == set(by_gdal["name"]) and any("é" in n or "è" in n for n in names)
