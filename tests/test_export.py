"""Exports (issue #4): every file read back by GDAL 3.6's ogrinfo, by GDAL through pyogrio, by
QGIS and by plain parsers, and compared with the story it came from.

Two stories are checked: the small fixture in tests/fixtures/export_story (non-ASCII names, a
clockwise polygon with a hole, a water layer mixing lines and polygons, an event description
full of markup) and the default story in layers/.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import jsonschema
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely

from geo.build import BuildResult, build
from geo.dates import as_written, span
from geo.exports import EXTRA_FORMATS, parse_formats
from geo.exports.kml import AREA_FOLDER
from geo.exports.shapefile import SHAPEFILE_NOTES, shapefile_field_names
from geo.exports.tables import FIXED_TIME, LICENCE, scene_of
from geo.load import Layer
from geo.statuses import area_values
from tests.conftest import FIXTURES, require_tool

EXPORT_STORY = FIXTURES / "export_story"
GEOJSON_SCHEMA = FIXTURES / "geojson.schema.json"
QGIS_CHECK = Path(__file__).resolve().parent / "qgis_check.py"
OGRINFO = "/usr/bin/ogrinfo"
PYQGIS = "/usr/bin/python3"
DIMENSION = {
    "Point": "points",
    "MultiPoint": "points",
    "LineString": "lines",
    "MultiLineString": "lines",
    "Polygon": "polygons",
    "MultiPolygon": "polygons",
}
# What ogrinfo reports for each kind of value, per format. FlatGeobuf has no Date type; GeoJSON
# and CSV type a column from its values, so an all-empty column reads as String there.
OGR_TYPES = {
    "gpkg": {
        "date": "Date",
        "number": "Real",
        "integer": "Integer64",
        "boolean": "Integer(Boolean)",
    },
    "geojson": {
        "date": "Date",
        "number": "Real",
        "integer": "Integer",
        "boolean": "Integer(Boolean)",
    },
    "fgb": {
        "date": "DateTime",
        "number": "Real",
        "integer": "Integer64",
        "boolean": "Integer(Boolean)",
    },
    "shapefile": {
        "date": "Date",
        "number": "Real",
        "integer": "Integer",
        "boolean": "Integer(Boolean)",
    },
    "csv": {"date": "Date", "number": "Real", "integer": "Integer", "boolean": "String"},
    "kml": {},
}
TYPED_BY_VALUES = {"geojson", "csv"}


# --- builds -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fixture_build(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    return build(EXPORT_STORY, tmp_path_factory.mktemp("fixture") / "dist", exports=EXTRA_FORMATS)


@pytest.fixture(scope="session", params=["fixture", "default"])
def any_build(request: pytest.FixtureRequest) -> BuildResult:
    """Each test that takes this runs on the fixture story and on the default story."""
    return request.getfixturevalue(f"{request.param}_build")


def data(result: BuildResult) -> Path:
    return result.out / "data"


def story_name(result: BuildResult) -> str:
    return result.story.config.name


# The interval a dated kind's features cover: start, its precision, end, its precision.
INTERVALS = {
    "events": ("date", "date_precision", "end_date", "date_precision"),
    "bases": ("start_date", "start_precision", "end_date", "end_precision"),
}


def exported(layer: Layer) -> gpd.GeoDataFrame:
    """The layer as the exports must hold it: a date as precise as its source, written as it
    is ("2017-11", "2018"), and for a dated layer typed date_start/date_end for its interval."""
    frame = layer.frame.copy()
    for spec in layer.kind.fields.values():
        if spec.type == "date" and spec.precision:
            frame[spec.name] = [
                as_written(v, p)
                for v, p in zip(frame[spec.name], frame[spec.precision], strict=True)
            ]
    interval = INTERVALS.get(layer.config.kind)
    if interval:
        start, start_precision, end, end_precision = interval
        spans = [
            span(r[start], r[start_precision], r.get(end), r.get(end_precision))
            for r in layer.frame.to_dict("records")
        ]
        frame["date_start"] = [a for a, _ in spans]
        frame["date_end"] = [b for _, b in spans]
    return frame


def tables_of(layer: Layer, split: bool) -> dict[str, gpd.GeoDataFrame]:
    """The source rows each table holds: the layer, or (split) its part per geometry dimension."""
    frame = exported(layer)
    dimensions = frame.geom_type.map(DIMENSION)
    if not split or dimensions.nunique() == 1:
        return {layer.name: frame}
    return {f"{layer.name}_{d}": frame[dimensions == d] for d in sorted(set(dimensions))}


def is_point_layer(layer: Layer) -> bool:
    return set(layer.frame.geom_type.map(DIMENSION)) == {"points"}


# --- parse_formats and the files written ----------------------------------------------------


def test_parse_formats_all_and_subsets():
    assert parse_formats("all") == EXTRA_FORMATS
    assert parse_formats("") == ()
    assert parse_formats(" GeoParquet , kml ") == ("kml", "geoparquet")


def test_parse_formats_error_lists_known_formats():
    with pytest.raises(ValueError, match="unknown export format") as error:
        parse_formats("kml,dwg")
    assert "dwg" in str(error.value)
    for known in (*EXTRA_FORMATS, "all"):
        assert known in str(error.value)


def test_default_exports_are_gpkg_geojson_and_csv(tmp_path: Path):
    result = build(EXPORT_STORY, tmp_path / "dist")
    layers = result.story.layers
    expected = {f"{story_name(result)}.gpkg", "datapackage.json"}
    expected |= {f"{layer.name}.geojson" for layer in layers}
    expected |= {f"{layer.name}.csv" for layer in layers if is_point_layer(layer)}
    assert {p.name for p in data(result).iterdir()} == expected
    assert {"places.csv", "bases.csv", "events.csv"} <= expected


def test_extra_formats_add_their_files(any_build: BuildResult):
    names = {p.name for p in data(any_build).iterdir()}
    assert f"{story_name(any_build)}.kml" in names
    for layer in any_build.story.layers:
        for suffix in (".geojson", ".shp.zip", ".fgb", ".parquet"):
            assert f"{layer.name}{suffix}" in names


# --- ogrinfo (Debian's GDAL 3.6) -------------------------------------------------------------


def ogrinfo(target: str, *options: str) -> dict[str, dict[str, Any]]:
    """Run ``ogrinfo -ro -al -so``; fail on any warning or error; return layers by name."""
    tool = require_tool(OGRINFO, "apt-get install gdal-bin")
    run = subprocess.run(
        [tool, "-ro", "-al", "-so", *options, target],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert not re.search(r"warning|error", output, re.IGNORECASE), output
    layers = {}
    for block in run.stdout.split("\nLayer name: ")[1:]:
        name, _, body = block.partition("\n")
        layers[name] = {
            "geometry": _line(body, "Geometry"),
            "count": int(_line(body, "Feature Count")),
            "epsg4326": 'ID["EPSG",4326]]' in body,
            "fields": dict(
                re.findall(r"^([^\s:][^:\n]*): (\w+(?:\(\w+\))?) \(\d+\.\d+\)$", body, re.M)
            ),
        }
    return layers


def _line(body: str, key: str) -> str:
    match = re.search(rf"^{key}: (.*)$", body, re.M)
    return match.group(1) if match else ""


def value_type(layer: Layer, rows: gpd.GeoDataFrame, column: str) -> str:
    """'date', 'number', 'integer', 'boolean' or 'text': the kind's type (a date known to its
    precision is text as written), else the values'."""
    spec = layer.kind.fields.get(column)
    if spec is not None:
        if spec.type == "date" and spec.precision:
            return "text"
        return spec.type if spec.type in ("date", "number", "integer") else "text"
    values = [v for v in rows[column] if present(v)]
    if values and all(isinstance(v, bool | np.bool_) for v in values):
        return "boolean"
    if values and all(isinstance(v, int | np.integer) for v in values):
        return "integer"
    if values and all(isinstance(v, float | int | np.number) for v in values):
        return "number"
    return "date" if values and all(isinstance(v, dt.date) for v in values) else "text"


def looks_like_days(values: pd.Series) -> bool:
    found = [v for v in values if present(v)]
    return bool(found) and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(v)) for v in found)


def expected_fields(layer: Layer, rows: gpd.GeoDataFrame, fmt: str) -> dict[str, str]:
    out = {}
    for column in rows.columns:
        if column == rows.geometry.name:
            continue
        empty = not any(present(v) for v in rows[column])
        kind = value_type(layer, rows, column)
        if fmt in TYPED_BY_VALUES and kind == "text" and looks_like_days(rows[column]):
            kind = "date"  # GDAL types these formats by their values: all YYYY-MM-DD is a Date
        typed = OGR_TYPES[fmt].get(kind, "String")
        out[column] = "String" if empty and fmt in TYPED_BY_VALUES else typed
    return out


def ogrinfo_expectations(result: BuildResult, fmt: str) -> list[tuple[str, list[str], dict]]:
    """(target, options, {layer name: (layer, source rows, field name map)}) per file."""
    folder, story = data(result), result.story
    same = lambda rows: {c: c for c in rows.columns}  # noqa: E731
    if fmt == "gpkg":
        layers = {
            name: (layer, rows, same(rows))
            for layer in story.layers
            for name, rows in tables_of(layer, split=True).items()
        }
        return [(str(folder / f"{story_name(result)}.gpkg"), [], layers)]
    if fmt == "kml":
        layers = {}
        for layer in story.layers:
            # rows that stand for a whole area go in a folder of their own per area
            scene = scene_of(story, layer)
            areas = pd.Series(area_values(scene), index=scene.frame.index, dtype=object)
            for name, rows in tables_of(layer, split=True).items():
                title = layer.config.title
                title += "" if name == layer.name else f" ({name.rsplit('_', 1)[1]})"
                held = areas.reindex(rows.index)
                layers[title] = (layer, rows[held.isna()], same(rows))
                for area in held.dropna().unique():
                    aside = rows[(held == area).to_numpy()]
                    layers[AREA_FOLDER.format(area=area)] = (layer, aside, same(rows))
        return [(str(folder / f"{story_name(result)}.kml"), [], layers)]
    if fmt == "shapefile":
        return [
            (
                f"/vsizip/{folder / f'{layer.name}.shp.zip'}",
                [],
                {
                    name: (layer, rows, shapefile_field_names([c for c in rows if c != "geometry"]))
                    for name, rows in tables_of(layer, split=True).items()
                },
            )
            for layer in story.layers
        ]
    if fmt == "csv":
        options = ["-oo", "X_POSSIBLE_NAMES=lon", "-oo", "Y_POSSIBLE_NAMES=lat"]
        options += ["-oo", "AUTODETECT_TYPE=YES"]
        return [
            (
                str(folder / f"{layer.name}.csv"),
                options,
                {layer.name: (layer, exported(layer), same(exported(layer)))},
            )
            for layer in story.layers
            if is_point_layer(layer)
        ]
    return [
        (
            str(folder / f"{layer.name}.{fmt}"),
            [],
            {layer.name: (layer, exported(layer), same(exported(layer)))},
        )
        for layer in story.layers
    ]


@pytest.mark.gdal
@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "fgb", "shapefile", "csv", "kml"])
def test_ogrinfo_reads_every_export(any_build: BuildResult, fmt: str):
    """Layer names and count, feature counts, field names and types, EPSG:4326; no warnings."""
    for target, options, expected in ogrinfo_expectations(any_build, fmt):
        found = ogrinfo(target, *options)
        if fmt == "gpkg":
            assert found.pop("layer_styles")["count"] == len(expected)
        assert list(found) == list(expected), target
        for name, (layer, rows, renamed) in expected.items():
            info = found[name]
            assert info["count"] == len(rows), (target, name)
            fields = {renamed[c]: t for c, t in expected_fields(layer, rows, fmt).items()}
            if fmt == "kml":  # every attribute as text; LIBKML folds 'name' into the placemark Name
                assert {f.lower() for f in fields} - {"name"} <= set(info["fields"]), name
                continue
            if fmt == "csv":
                fields = {"lon": "Real", "lat": "Real", **fields}
            assert info["fields"] == fields, (target, name)
            assert info["epsg4326"] or fmt == "csv", (target, name)


# --- round trip ----------------------------------------------------------------------------


def present(value: Any) -> bool:
    return value is not None and value is not pd.NA and value is not pd.NaT and value == value


def plain(value: Any) -> Any:
    """A read-back value as the source holds it: None, str, float/int or datetime.date."""
    if not present(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp | dt.datetime):
        assert (value.hour, value.minute, value.second) == (0, 0, 0), value
        value = value.date()  # a Date field (FlatGeobuf: a midnight DateTime)
    if isinstance(value, dt.date):
        return value.isoformat()  # a day, whether a format typed it as a Date or as text
    return value


def as_multi(geometry: Any) -> Any:
    if geometry.geom_type in ("Point", "LineString", "Polygon"):
        return getattr(shapely, f"Multi{geometry.geom_type}")([geometry])
    return geometry


def rows_of(frame: gpd.GeoDataFrame, columns: list[str]) -> list[tuple[dict, Any]]:
    """Rows as (plain attributes, geometry), in an order that does not depend on the file."""
    rows = [
        ({c: plain(record[c]) for c in columns}, geometry)
        for record, geometry in zip(frame[columns].to_dict("records"), frame.geometry, strict=True)
    ]
    return sorted(rows, key=lambda r: repr((r[0], r[1].centroid.x, r[1].centroid.y)))


def read_back(fmt: str, result: BuildResult, layer: Layer) -> dict[str, gpd.GeoDataFrame]:
    folder = data(result)
    if fmt == "gpkg":
        path = folder / f"{story_name(result)}.gpkg"
        return {n: pyogrio.read_dataframe(path, layer=n) for n in tables_of(layer, split=True)}
    if fmt == "geoparquet":
        return {layer.name: gpd.read_parquet(folder / f"{layer.name}.parquet")}
    return {layer.name: pyogrio.read_dataframe(folder / f"{layer.name}.{fmt}")}


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "fgb", "geoparquet"])
def test_round_trip_equals_the_source(any_build: BuildResult, fmt: str):
    """Every layer read back equals layer.frame: geometry within 1e-9 degrees, same attributes."""
    for layer in any_build.story.layers:
        sources = tables_of(layer, split=fmt == "gpkg")
        backs = read_back(fmt, any_build, layer)
        for name, source in sources.items():
            back = backs[name]
            columns = [c for c in source.columns if c != "geometry"]
            assert [c for c in back.columns if c != back.geometry.name] == columns, name
            assert back.crs.to_epsg() == 4326
            expected, found = rows_of(source, columns), rows_of(back, columns)
            assert [attributes for attributes, _ in found] == [a for a, _ in expected], name
            for (_, want), (_, got) in zip(expected, found, strict=True):
                assert got.geom_type in (want.geom_type, as_multi(want).geom_type)
                assert shapely.equals_exact(as_multi(want), as_multi(got), 1e-9, normalize=True)


def test_exports_use_the_full_precision_frame(fixture_build: BuildResult):
    countries = fixture_build.story.layers[0]
    back = pyogrio.read_dataframe(data(fixture_build) / "countries.fgb")
    niger = back.geometry[back["id"] == "niger"].iloc[0]
    source = countries.frame.geometry[countries.frame["id"] == "niger"].iloc[0]
    web = countries.web.geometry[countries.web["id"] == "niger"].iloc[0]
    assert shapely.equals_exact(as_multi(niger), as_multi(source), 1e-12, normalize=True)
    assert not shapely.equals_exact(as_multi(niger), as_multi(web), 1e-6, normalize=True)


# --- GeoJSON (RFC 7946) -------------------------------------------------------------------


def _reject_constant(name: str) -> None:
    raise AssertionError(f"non-JSON number {name} in GeoJSON")


def _rings(geometry: dict) -> list[tuple[bool, list]]:
    polygons = {
        "Polygon": [geometry.get("coordinates")],
        "MultiPolygon": geometry.get("coordinates"),
    }
    return [
        (i == 0, ring)
        for polygon in polygons.get(geometry["type"], [])
        for i, ring in enumerate(polygon)
    ]


def test_geojson_is_rfc7946_and_valid_against_the_schema(any_build: BuildResult):
    validator = jsonschema.Draft202012Validator(json.loads(GEOJSON_SCHEMA.read_text()))
    for layer in any_build.story.layers:
        raw = (data(any_build) / f"{layer.name}.geojson").read_bytes()
        document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        errors = [e.message for e in validator.iter_errors(document)]
        assert not errors, (layer.name, errors[:3])
        assert len(document["features"]) == len(layer.frame)
        for feature in document["features"]:
            for exterior, ring in _rings(feature["geometry"]):
                assert ring[0] == ring[-1]
                # right-hand rule: exterior rings counter-clockwise, holes clockwise
                assert shapely.LinearRing(ring).is_ccw == exterior, (
                    layer.name,
                    feature["properties"],
                )


def test_geojson_fixes_a_clockwise_polygon_and_its_hole(fixture_build: BuildResult):
    document = json.loads((data(fixture_build) / "niger_regions.geojson").read_text("utf-8"))
    agadez = next(f for f in document["features"] if f["properties"]["id"] == "agadez")
    (exterior, ring), (hole_exterior, hole) = _rings(agadez["geometry"])
    assert (exterior, hole_exterior) == (True, False)
    assert shapely.LinearRing(ring).is_ccw and not shapely.LinearRing(hole).is_ccw
    niger = json.loads((data(fixture_build) / "countries.geojson").read_text("utf-8"))
    assert [0.16345678912345, 13.5] in niger["features"][0]["geometry"]["coordinates"][0]


# --- non-ASCII names ----------------------------------------------------------------------


def _texts_gdal(path: str) -> set[str]:
    out: set[str] = set()
    for name, _ in pyogrio.list_layers(path):
        frame = pyogrio.read_dataframe(path, layer=name, read_geometry=False)
        out |= {v for column in frame for v in frame[column] if isinstance(v, str)}
    return out


def _texts_csv(folder: Path, result: BuildResult) -> set[str]:
    out: set[str] = set()
    for path in folder.glob("*.csv"):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            out |= {v for row in csv.reader(handle) for v in row}
    return out


def _texts_parquet(folder: Path, result: BuildResult) -> set[str]:
    table_values = [pq.read_table(p).to_pylist() for p in folder.glob("*.parquet")]
    return {v for rows in table_values for row in rows for v in row.values() if isinstance(v, str)}


TEXT_READERS = {
    "gpkg": lambda folder, result: _texts_gdal(str(folder / f"{story_name(result)}.gpkg")),
    "geojson": lambda folder, result: set().union(
        *(_texts_gdal(str(p)) for p in folder.glob("*.geojson"))
    ),
    "fgb": lambda folder, result: set().union(*(_texts_gdal(str(p)) for p in folder.glob("*.fgb"))),
    "shapefile": lambda folder, result: set().union(
        *(_texts_gdal(f"/vsizip/{p}") for p in folder.glob("*.shp.zip"))
    ),
    "kml": lambda folder, result: _texts_gdal(str(folder / f"{story_name(result)}.kml")),
    "csv": _texts_csv,
    "geoparquet": _texts_parquet,
}


@pytest.mark.parametrize("fmt", sorted(TEXT_READERS))
def test_non_ascii_names_survive(fixture_build: BuildResult, fmt: str):
    texts = TEXT_READERS[fmt](data(fixture_build), fixture_build)
    assert {"Tillabéri", "Agadès", "Base aérienne 201, Agadès"} <= texts


# --- GeoPackage ---------------------------------------------------------------------------

QGIS_LAYER_STYLES = {  # column -> SQLite type, as QGIS creates layer_styles in a GeoPackage
    "id": "INTEGER",
    "f_table_catalog": "TEXT",
    "f_table_schema": "TEXT",
    "f_table_name": "TEXT",
    "f_geometry_column": "TEXT",
    "styleName": "TEXT",
    "styleQML": "TEXT",
    "styleSLD": "TEXT",
    "useAsDefault": "BOOLEAN",
    "description": "TEXT",
    "owner": "TEXT",
    "ui": "TEXT",
    "update_time": "DATETIME",
}


def gpkg(result: BuildResult) -> sqlite3.Connection:
    path = data(result) / f"{story_name(result)}.gpkg"
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def test_geopackage_version_gdal_36_reads_cleanly(any_build: BuildResult):
    with gpkg(any_build) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # 'GPKG'
        assert db.execute("PRAGMA user_version").fetchone()[0] == 10200


def test_geopackage_tables_are_story_layers_in_epsg_4326(any_build: BuildResult):
    expected = [n for layer in any_build.story.layers for n in tables_of(layer, split=True)]
    with gpkg(any_build) as db:
        rows = db.execute(
            "SELECT table_name, srs_id, identifier, description, last_change FROM gpkg_contents"
            " WHERE data_type = 'features' ORDER BY rowid"
        ).fetchall()
    assert [r[0] for r in rows] == expected
    assert {r[1] for r in rows} == {4326}
    assert {r[4] for r in rows} == {FIXED_TIME}  # not the clock: reproducible
    for layer in any_build.story.layers:
        row = next(r for r in rows if r[0].startswith(layer.name))
        assert row[2].startswith(layer.config.title)
        assert "Sources:" in row[3] and "Licence:" in row[3]


def test_geopackage_metadata_has_title_sources_and_licence(fixture_build: BuildResult):
    with gpkg(fixture_build) as db:
        documents = dict(
            db.execute(
                "SELECT r.table_name, m.metadata FROM gpkg_metadata m"
                " JOIN gpkg_metadata_reference r ON r.md_file_id = m.id"
                " WHERE r.reference_scope = 'table'"
            ).fetchall()
        )
    assert set(documents) == set(
        pyogrio.list_layers(data(fixture_build) / "export-story.gpkg")[:, 0]
    ) - {"layer_styles"}
    countries = documents["countries"]
    assert '<MDI key="STORY">Niger: exports fixture</MDI>' in countries
    assert "Natural Earth &lt;https://www.naturalearthdata.com/&gt;" in countries
    assert f'<MDI key="LICENCE">{LICENCE}</MDI>' in countries.replace("&apos;", "'")
    assert "Reuters &lt;https://www.reuters.com/&gt;" in documents["events"]


def test_reading_the_geopackage_leaves_no_sidecar_file(fixture_build: BuildResult, tmp_path: Path):
    copy = tmp_path / "copy.gpkg"
    copy.write_bytes((data(fixture_build) / "export-story.gpkg").read_bytes())
    for name in pyogrio.list_layers(copy)[:, 0]:
        pyogrio.read_dataframe(copy, layer=name)
    assert [p.name for p in tmp_path.iterdir()] == ["copy.gpkg"]


def test_layer_styles_table_follows_qgis_schema(any_build: BuildResult):
    with gpkg(any_build) as db:
        columns = {r[1]: r[2] for r in db.execute("PRAGMA table_info(layer_styles)")}
        rows = db.execute(
            "SELECT f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName,"
            " styleQML, styleSLD, useAsDefault, update_time FROM layer_styles ORDER BY id"
        ).fetchall()
        feature_tables = [
            r[0]
            for r in db.execute(
                "SELECT table_name FROM gpkg_contents WHERE data_type = 'features' ORDER BY rowid"
            )
        ]
    assert columns == QGIS_LAYER_STYLES
    assert [r[2] for r in rows] == feature_tables
    for catalog, schema, table, geometry, name, qml, sld, default, updated in rows:
        assert (catalog, schema, geometry, name, default, updated) == (
            "",
            "",
            "geom",
            table,
            1,
            FIXED_TIME,
        )
        assert ET.fromstring(qml.split("\n", 1)[1]).tag == "qgis"
        assert ET.fromstring(sld).tag.endswith("StyledLayerDescriptor")


def qml_of(result: BuildResult, table: str) -> ET.Element:
    with gpkg(result) as db:
        (qml,) = db.execute(
            "SELECT styleQML FROM layer_styles WHERE f_table_name = ?", (table,)
        ).fetchone()
    return ET.fromstring(qml.split("\n", 1)[1])


def test_qml_styles_follow_the_web_map(fixture_build: BuildResult):
    events = qml_of(fixture_build, "events")
    renderer = events.find("renderer-v2")
    assert (renderer.get("type"), renderer.get("attr")) == ("categorizedSymbol", "category")
    colours = {}
    for category in renderer.iter("category"):
        symbol = renderer.find(f"symbols/symbol[@name='{category.get('symbol')}']")
        colours[category.get("value")] = symbol.find(".//Option[@name='color']").get("value")
    # map.toml's colours, and the web map's first palette colour for 'withdrawal'
    from geo.kinds import PALETTE

    spare = next(c for c in PALETTE if c not in ("#b2182b", "#2166ac"))
    rgb = lambda h: ",".join(str(int(h[i : i + 2], 16)) for i in (1, 3, 5))  # noqa: E731
    assert colours == {
        "coup": rgb("#b2182b") + ",242",
        "diplomacy": rgb("#2166ac") + ",242",
        "withdrawal": rgb(spare) + ",242",
    }
    bases = qml_of(fixture_build, "bases")
    assert bases.find(".//Option[@name='name']").get("value") == "diamond"
    assert qml_of(fixture_build, "places").find(".//Option[@name='name']").get("value") == "circle"
    countries = qml_of(fixture_build, "countries").find("renderer-v2")
    assert (countries.get("type"), countries.get("attr")) == ("categorizedSymbol", "role")
    regions = qml_of(fixture_build, "niger_regions")
    dash = regions.find(".//layer[@class='SimpleLine']/Option/Option[@name='customdash']")
    assert dash.get("value") == "3;3"


@pytest.mark.qgis
def test_qgis_opens_the_geopackage_styled(any_build: BuildResult):
    python = require_tool(PYQGIS, "apt-get install python3-qgis")
    probe = subprocess.run([python, "-c", "import qgis.core"], capture_output=True, check=False)
    if probe.returncode != 0:
        require_tool("/nonexistent/python3-qgis", "apt-get install python3-qgis")
    path = data(any_build) / f"{story_name(any_build)}.gpkg"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(
        [python, str(QGIS_CHECK), str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "partially supported" not in run.stderr, run.stderr
    found = json.loads(run.stdout.strip().splitlines()[-1])["layers"]
    expected = {
        name: rows
        for layer in any_build.story.layers
        for name, rows in tables_of(layer, split=True).items()
    }
    assert set(found) == set(expected)
    for name, rows in expected.items():
        seen = found[name]
        assert seen["valid"] and seen["features"] == len(rows), (name, seen)
        assert seen["styles_in_database"] == [name], (name, seen)
        assert seen["default_style_loaded"], (name, seen)
    events = found["events"]
    # by category; rows standing for a whole country classed NULL (not drawn) where there are
    assert events["renderer"] == "categorizedSymbol" and "category" in events["field"]
    colours = dict(any_build.story.layer("events").config.categories)
    assert {k: v for k, v in events["categories"].items() if k in colours} == colours
    assert found["bases"]["marker_shape"] == "diamond"  # as on the web map
    # QGIS's temporal controller shows each event over the interval its date covers
    active, start, end = found["events"]["temporal"]
    assert active and '"date_start"' in start and '"date_end"' in end
    # a frame of one day shows each event on its first and its last day (QGIS 3.22 compares
    # dates with date-times as text: the style makes them date-times)
    assert found["events"]["missed"] == []
    assert found["countries"]["renderer"] == "categorizedSymbol"


# --- CSV ----------------------------------------------------------------------------------


def test_csv_has_lon_lat_first_one_row_per_point_and_iso_dates(any_build: BuildResult):
    for layer in any_build.story.layers:
        if not is_point_layer(layer):
            continue
        with (data(any_build) / f"{layer.name}.csv").open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        frame = exported(layer)
        columns = [c for c in frame.columns if c != "geometry"]
        assert list(rows[0]) == ["lon", "lat", *columns]
        assert len(rows) == len(frame)
        for row, (_, source) in zip(rows, frame.iterrows(), strict=True):
            assert (float(row["lon"]), float(row["lat"])) == (source.geometry.x, source.geometry.y)
            for field in [*layer.kind.date_fields, "date_start", "date_end"]:
                value = source.get(field)
                expected = value.isoformat() if hasattr(value, "isoformat") else value
                assert row.get(field, "") == (expected if present(expected) else ""), field


# --- KML ----------------------------------------------------------------------------------

KML = "{http://www.opengis.net/kml/2.2}"


def test_kml_folders_placemarks_escaped_descriptions_and_category_styles(
    fixture_build: BuildResult,
):
    root = ET.parse(data(fixture_build) / "export-story.kml").getroot()
    document = root.find(f"{KML}Document")
    folders = {f.get("id"): f for f in document.iter(f"{KML}Folder")}
    assert list(folders) == [
        "countries",
        "niger_regions",
        "water_lines",
        "water_polygons",
        "places",
        "bases",
        "events",
    ]
    events = folders["events"]
    placemarks = {
        p.find(f"{KML}ExtendedData/{KML}Data[@name='id']/{KML}value").text: p
        for p in events.iter(f"{KML}Placemark")
    }
    coup = placemarks["coup"]
    assert coup.find(f"{KML}name").text == "Coup in Niamey"
    description = coup.find(f"{KML}description").text  # HTML, after XML unescaping
    assert "<script>" not in description
    assert (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in description
    )
    assert '<a href="https://www.reuters.com/world/africa/?a=1&amp;b=2">Reuters</a>' in description
    styles = {s.get("id"): s for s in document.iter(f"{KML}Style")}
    coup_style = styles[coup.find(f"{KML}styleUrl").text.lstrip("#")]
    assert coup_style.find(f"{KML}IconStyle/{KML}color").text == "ff2b18b2"  # #b2182b as aabbggrr
    used = {p.find(f"{KML}styleUrl").text for p in placemarks.values()}
    assert len(used) == 3  # coup, diplomacy, withdrawal
    delegation = placemarks["delegation"].find(f"{KML}TimeSpan")
    assert (delegation.find(f"{KML}begin").text, delegation.find(f"{KML}end").text) == (
        "2024-03-12",
        "2024-03-14",
    )
    tillaberi = next(
        p
        for p in folders["places"].iter(f"{KML}Placemark")
        if p.find(f"{KML}name").text == "Tillabéri"
    )
    coordinates = tillaberi.find(f".//{KML}coordinates").text
    assert coordinates == "1.4531,14.2117"


# --- Shapefile ----------------------------------------------------------------------------


def test_shapefile_zips_hold_every_part_utf8_and_the_field_mapping(any_build: BuildResult):
    for layer in any_build.story.layers:
        with zipfile.ZipFile(data(any_build) / f"{layer.name}.shp.zip") as archive:
            names = set(archive.namelist())
            notes = archive.read(SHAPEFILE_NOTES).decode("utf-8")
            for table, rows in tables_of(layer, split=True).items():
                parts = {f"{table}{ext}" for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg")}
                assert parts <= names, layer.name
                assert archive.read(f"{table}.cpg") == b"UTF-8"
                columns = [c for c in rows.columns if c != "geometry"]
                for original, short in shapefile_field_names(columns).items():
                    assert len(short.encode("utf-8")) <= 10
                    if original != short:
                        assert f"  {original} -> {short}\n" in notes + "\n"


def test_shapefile_splits_a_layer_mixing_lines_and_polygons(fixture_build: BuildResult):
    with zipfile.ZipFile(data(fixture_build) / "water.shp.zip") as archive:
        names = set(archive.namelist())
        notes = archive.read(SHAPEFILE_NOTES).decode("utf-8")
    assert {"water_lines.shp", "water_polygons.shp"} <= names
    assert "water.shp" not in names
    assert "water_lines.shp (MultiLineString, 2 features)" in notes
    assert "water_polygons.shp (Polygon, 1 features)" in notes


def test_shapefile_field_names_are_short_and_unique():
    names = shapefile_field_names(
        ["location_precision", "location_precise", "Location_p", "précision_km", "id"]
    )
    assert names == {
        "location_precision": "location_p",
        "location_precise": "location_1",
        "Location_p": "Location_2",
        "précision_km": "précision",  # 10 bytes: é takes two
        "id": "id",
    }


def test_bases_mapping_is_documented(fixture_build: BuildResult):
    with zipfile.ZipFile(data(fixture_build) / "bases.shp.zip") as archive:
        notes = archive.read(SHAPEFILE_NOTES).decode("utf-8")
    assert "  location_precision -> location_p\n" in notes
    assert "  status_date -> status_dat\n" in notes


# --- GeoParquet ---------------------------------------------------------------------------


def test_geoparquet_metadata_and_types(fixture_build: BuildResult):
    schema = pq.read_schema(data(fixture_build) / "events.parquet")
    geo = json.loads(schema.metadata[b"geo"])
    assert geo["version"] == "1.0.0" and geo["primary_column"] == "geometry"
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB" and column["geometry_types"] == ["Point"]
    assert column["crs"]["id"] == {"authority": "EPSG", "code": 4326}
    assert str(schema.field("date").type) == "string"  # as precise as its source: "2017-11"
    assert str(schema.field("date_start").type) == "date32[day]"
    assert str(schema.field("precision_km").type) == "double"


# --- reproducibility ----------------------------------------------------------------------


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_two_builds_write_identical_bytes(fixture_build: BuildResult, tmp_path: Path):
    again = build(EXPORT_STORY, tmp_path / "dist", exports=EXTRA_FORMATS)
    assert digests(data(again)) == digests(data(fixture_build))


def test_gdal_date_option_is_restored(tmp_path: Path):
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2011-11-11T11:11:11Z"})
    try:
        build(EXPORT_STORY, tmp_path / "dist")
        assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") == "2011-11-11T11:11:11Z"
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
