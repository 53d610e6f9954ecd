"""The GIS package (issue #12): the QGIS project stored in the GeoPackage, opened and rendered
by QGIS itself, and data/datapackage.json, validated by Frictionless against the files.

The project is read twice: as the XML the build wrote (what it must say), and by Debian's
PyQGIS through tests/qgis_project_check.py (what QGIS makes of it).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import frictionless
import geopandas as gpd
import pytest
from shapely.geometry import Point

import geo
from geo.build import BuildResult
from geo.exports import EXTRA_FORMATS, write_exports
from geo.exports.datapackage import DATAPACKAGE
from geo.exports.qgis import classified_by
from geo.exports.qgis_project import layer_id
from geo.exports.tables import ZIP_TIME, all_tables, licence, scene_of, table_style
from geo.problems import StoryError
from geo.view import SEA, view_bounds
from tests.conftest import DEFAULT_STORY, FIXTURES, require_tool

CHECK = Path(__file__).resolve().parent / "qgis_project_check.py"
PYQGIS = "/usr/bin/python3"
EXPORT_STORY = FIXTURES / "export_story"


def data(result: BuildResult) -> Path:
    return result.out / "data"


def gpkg(result: BuildResult) -> Path:
    return data(result) / f"{result.story.config.name}.gpkg"


def gpkg_tables(result: BuildResult) -> list[str]:
    """The GeoPackage's feature tables, in the order the build wrote them (story order)."""
    with sqlite3.connect(f"file:{gpkg(result)}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT table_name FROM gpkg_contents WHERE data_type = 'features' ORDER BY rowid"
        )
        return [name for (name,) in rows]


def stored_project(result: BuildResult) -> tuple[str, dict, zipfile.ZipFile]:
    """The one row of qgis_projects: its name, metadata and the unzipped .qgz."""
    with sqlite3.connect(f"file:{gpkg(result)}?mode=ro", uri=True) as db:
        ((name, metadata, content),) = db.execute("SELECT * FROM qgis_projects").fetchall()
    # QGIS stores the .qgz as hexadecimal text, and reads it back with QByteArray::fromHex
    return name, json.loads(metadata), zipfile.ZipFile(io.BytesIO(bytes.fromhex(content)))


def project_xml(result: BuildResult) -> ET.Element:
    _, _, archive = stored_project(result)
    (entry,) = archive.namelist()
    return ET.fromstring(archive.read(entry).decode("utf-8").split("\n", 1)[1])


def labelled_tables(result: BuildResult) -> set[str]:
    """The tables whose layer the web map labels."""
    return {t.name for t in all_tables(result.story, split=True) if _scene(result, t).labels}


def _scene(result: BuildResult, table: Any) -> Any:
    return scene_of(result.story, table.layer)


# --- the project as written ------------------------------------------------------------------


def test_geopackage_stores_the_project_as_qgis_does(default_build: BuildResult):
    with sqlite3.connect(f"file:{gpkg(default_build)}?mode=ro", uri=True) as db:
        columns = [(r[1], r[2], r[5]) for r in db.execute("PRAGMA table_info(qgis_projects)")]
    # QgsGeoPackageProjectStorage: name TEXT PRIMARY KEY, metadata BLOB, content BLOB
    assert columns == [("name", "TEXT", 1), ("metadata", "BLOB", 0), ("content", "BLOB", 0)]
    name, metadata, archive = stored_project(default_build)
    assert name == default_build.story.config.name
    assert metadata == {
        "last_modified_time": "2000-01-01T00:00:00",
        "last_modified_user": "geo-story",
    }
    (entry,) = archive.infolist()
    assert entry.filename.endswith(".qgs") and entry.date_time == ZIP_TIME  # no clock


def test_project_has_every_table_in_drawing_order_from_the_same_file(default_build: BuildResult):
    root = project_xml(default_build)
    tables = gpkg_tables(default_build)
    order = tomllib.loads((DEFAULT_STORY / "map.toml").read_text(encoding="utf-8"))["order"]
    assert tables == order  # map.toml's drawing order, from the bottom
    tree = [node.get("id") for node in root.find("layer-tree-group").iter("layer-tree-layer")]
    assert tree == [layer_id(t) for t in reversed(tables)]  # the first drawn at the bottom
    sources = {m.findtext("id"): m.findtext("datasource") for m in root.iter("maplayer")}
    name = gpkg(default_build).name
    assert sources == {layer_id(t): f"./{name}|layername={t}" for t in tables}
    assert root.find("properties/Paths/Absolute").text == "false"  # resolved beside the file


def test_project_styles_are_the_layer_styles_qml(default_build: BuildResult):
    with sqlite3.connect(f"file:{gpkg(default_build)}?mode=ro", uri=True) as db:
        qml = dict(db.execute("SELECT f_table_name, styleQML FROM layer_styles").fetchall())
    root = project_xml(default_build)
    for table in gpkg_tables(default_build):
        layer = next(m for m in root.iter("maplayer") if m.findtext("id") == layer_id(table))
        style = ET.fromstring(qml[table].split("\n", 1)[1])
        for tag in ("renderer-v2", "temporal"):
            stored, projected = style.find(tag), layer.find(tag)
            assert (stored is None) == (projected is None), (table, tag)
            if stored is not None:
                assert canonical(projected) == canonical(stored), (table, tag)


def canonical(element: ET.Element) -> bytes:
    """An element as text, whatever the whitespace around and between its children."""
    for node in element.iter():
        node.tail = None
        node.text = node.text.strip() if node.text else None
    return ET.tostring(element)


def test_project_labels_what_the_web_map_labels(default_build: BuildResult):
    layers = {m.findtext("id"): m for m in project_xml(default_build).iter("maplayer")}
    tables = all_tables(default_build.story, split=True)
    labelled = {t.name for t in tables if layers[layer_id(t.name)].get("labelsEnabled") == "1"}
    assert labelled == labelled_tables(default_build) == {"countries", "places", "bases"}
    for table in tables:
        labeling = layers[layer_id(table.name)].find("labeling")
        assert (labeling is None) == (table.name not in labelled), table.name
        if labeling is None:
            continue
        # the field QGIS labels with holds every label the web map shows for the layer
        (field,) = {s.get("fieldName") for s in labeling.iter("text-style")}
        values = {str(v) for v in table.frame[field].dropna()}
        assert {label.text for label in _scene(default_build, table).labels} <= values
    countries = layers[layer_id("countries")].find("labeling")
    rules = {r.get("filter"): r for r in countries.iter("rule")}
    focus = rules["\"name\" IN ('Niger')"]
    others = next(r for f, r in rules.items() if "'Algeria'" in f)
    assert float(focus.find(".//text-style").get("fontSize")) > float(
        others.find(".//text-style").get("fontSize")
    )
    assert focus.find(".//placement").get("priority") == "10"  # wins every collision


def test_a_layer_cannot_take_the_project_tables_name():
    layer = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(2, 13)], crs="EPSG:4326")
    with pytest.raises(StoryError) as error:
        geo.story_from_frames({"QGIS_Projects": layer})
    assert "'qgis_projects' holds the QGIS project" in str(error.value.problems)


def test_the_same_story_gives_the_same_geopackage_and_datapackage(tmp_path: Path):
    story = geo.read_story(EXPORT_STORY)
    for folder in ("a", "b"):
        write_exports(story, tmp_path / folder, EXTRA_FORMATS, lambda _: None)
    for name in (f"{story.config.name}.gpkg", DATAPACKAGE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


# --- QGIS opens the project ----------------------------------------------------------------------


def open_in_qgis(path: Path, name: str, png: Path) -> dict:
    """What QGIS 3.22 makes of the project ``name`` in the GeoPackage at ``path``, with the map
    rendered to ``png`` (tests/qgis_project_check.py's JSON)."""
    python = require_tool(PYQGIS, "apt-get install python3-qgis")
    probe = subprocess.run([python, "-c", "import qgis.core"], capture_output=True, check=False)
    if probe.returncode != 0:
        require_tool("/nonexistent/python3-qgis", "apt-get install python3-qgis")
    run = subprocess.run(
        [python, str(CHECK), str(path), name, str(png)],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def opened(default_build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The default story's project as QGIS opens it from a copy of the GeoPackage in another
    folder (its sources must follow the file), with the map rendered to a PNG."""
    folder = tmp_path_factory.mktemp("moved")
    copy = folder / gpkg(default_build).name
    shutil.copyfile(gpkg(default_build), copy)
    found = open_in_qgis(copy, default_build.story.config.name, folder / "qgis-project.png")
    found["copy"] = str(copy)
    return found


@pytest.mark.qgis
def test_qgis_opens_every_layer_in_order_from_the_moved_file(
    opened: dict, default_build: BuildResult
):
    assert opened["read"], opened["error"]
    tables = all_tables(default_build.story, split=True)
    assert [n["id"] for n in opened["tree"]] == [layer_id(t.name) for t in reversed(tables)]
    assert [n["name"] for n in opened["tree"]] == [t.title for t in reversed(tables)]
    for table in tables:
        layer = opened["layers"][layer_id(table.name)]
        assert layer["valid"], (table.name, layer)
        assert layer["source"] == f"{opened['copy']}|layername={table.name}"
        assert layer["features"] == len(table.frame) and layer["crs"] == "EPSG:4326"
    assert opened["title"] == default_build.story.config.title and opened["crs"] == "EPSG:4326"


@pytest.mark.qgis
def test_qgis_opens_a_split_layer_as_one_layer_per_geometry(tmp_path: Path):
    """The fixture story's water mixes lines and polygons: two tables, two project layers."""
    story = geo.read_story(EXPORT_STORY)
    write_exports(story, tmp_path, (), lambda _: None)
    found = open_in_qgis(
        tmp_path / f"{story.config.name}.gpkg", story.config.name, tmp_path / "map.png"
    )
    tables = [t.name for t in all_tables(story, split=True)]
    assert "water_lines" in tables and "water_polygons" in tables
    assert [n["id"] for n in found["tree"]] == [layer_id(t) for t in reversed(tables)]
    assert all(found["layers"][layer_id(t)]["valid"] for t in tables), found["layers"]
    labelled = {t for t in tables if found["layers"][layer_id(t)]["labels"]["enabled"]}
    assert labelled == {"countries", "places", "bases"}
    assert found["render"]["colours"] >= 50 and found["render"]["label_pixels"] > 500


@pytest.mark.qgis
def test_qgis_draws_each_layer_in_the_web_maps_colours(opened: dict, default_build: BuildResult):
    for table in all_tables(default_build.story, split=True):
        style = table_style(table, _scene(default_build, table))
        layer = opened["layers"][layer_id(table.name)]

        def colour(symbol: Any, geometry: str = style.geometry) -> str:
            # QGIS gives a symbol's first colour: a line's stroke, else its fill
            return (symbol.stroke if geometry == "line" else symbol.fill or "#000000").lower()

        if style.field is None and style.hide is None:
            assert layer["renderer"] == "singleSymbol", table.name
            assert layer["colour"] == colour(style.symbol), table.name
        else:
            assert layer["renderer"] == "categorizedSymbol", table.name
            assert layer["field"] == classified_by(style)
            assert layer["categories"] == {c.value: colour(c.symbol) for c in style.categories}
    events = opened["layers"][layer_id("events")]
    assert events["categories"] == dict(default_build.story.layer("events").config.categories)
    assert opened["layers"][layer_id("bases")]["marker_shape"] == "diamond"


@pytest.mark.qgis
def test_qgis_colours_sites_by_operator(opened: dict, default_build: BuildResult):
    """Each row of the sites' data is one presence: drawn in its operator's colour from
    map.toml's operators, those without one (Italy, Germany) in the layer's neutral colour."""
    bases = opened["layers"][layer_id("bases")]
    config = default_build.story.layer("bases").config
    neutral = scene_of(default_build.story, default_build.story.layer("bases")).symbol.fill
    assert (bases["renderer"], bases["field"]) == ("categorizedSymbol", "operator")
    assert bases["categories"] == {
        **{name: colour for name, colour in config.operators.items()},
        "Germany": neutral.lower(),
        "Italy": neutral.lower(),
    }
    assert bases["not_drawn"] == []


@pytest.mark.qgis
def test_qgis_leaves_out_country_wide_events_but_keeps_their_rows(
    opened: dict, default_build: BuildResult
):
    """Events placed only to Niger are not drawn at its reference point (16°N 8°E), as on the
    web page; their rows stay in the data, and every other event is drawn."""
    events = opened["layers"][layer_id("events")]
    frame = default_build.story.layer("events").frame
    country_wide = sorted(frame.loc[frame["location_precision"] == "country", "id"])
    assert len(country_wide) == 3
    assert events["not_drawn"] == country_wide
    assert events["features"] == len(frame)


@pytest.mark.qgis
def test_qgis_labels_countries_places_and_sites(opened: dict, default_build: BuildResult):
    labelled = {
        table: layer["labels"]
        for table in gpkg_tables(default_build)
        if (layer := opened["layers"][layer_id(table)])["labels"]["enabled"]
    }
    assert set(labelled) == labelled_tables(default_build)
    assert {r["field"] for r in labelled["countries"]["rules"]} == {"name"}
    assert {r["field"] for r in labelled["places"]["rules"]} == {"name"}
    assert {r["field"] for r in labelled["bases"]["rules"]} == {"site"}
    focus = max(labelled["countries"]["rules"], key=lambda r: r["priority"])
    assert (focus["priority"], focus["size"], focus["bold"], focus["colour"]) == (
        10,
        15,
        True,
        "#6b3510",
    )  # as .gs-focus-label in story.css
    assert all(r["halo"] for rules in labelled.values() for r in rules["rules"])


@pytest.mark.qgis
def test_qgis_temporal_controller_spans_the_dated_features(
    opened: dict, default_build: BuildResult
):
    for name in ("events", "bases"):
        active, start, end = opened["layers"][layer_id(name)]["temporal"]
        assert active and '"date_start"' in start and '"date_end"' in end
    assert opened["layers"][layer_id("places")]["temporal"][0] is False
    days = [
        day
        for table in all_tables(default_build.story)
        if table.name in ("events", "bases")
        for column in ("date_start", "date_end")
        for day in table.frame[column].dropna()
    ]
    assert opened["time"]["start"] == f"{min(days).isoformat()}T00:00:00"
    after = max(days) + dt.timedelta(days=1)  # the range ends as the last day does
    assert opened["time"]["end"] == f"{after.isoformat()}T00:00:00"
    assert (opened["time"]["step"], opened["time"]["unit"]) == (1, 6)  # a month a step
    for name in ("events", "bases"):  # each shown on its first and last day
        assert opened["layers"][layer_id(name)]["missed"] == []


@pytest.mark.qgis
def test_qgis_renders_the_map_with_its_labels(opened: dict, default_build: BuildResult):
    """The PNG QGIS draws at the project's view: sea, land, Niger and its neighbours in the web
    map's colours, and labels (the same render without them differs)."""
    assert opened["view"] == pytest.approx(list(view_bounds(default_build.story)))
    assert opened["background"] == SEA
    render = opened["render"]
    assert Path(render["path"]).stat().st_size > 10_000, render["path"]
    assert render["colours"] >= 50  # not blank, not one flat colour
    countries = scene_of(default_build.story, default_build.story.layer("countries"))
    focus = countries.categories.symbols["focus"].fill
    pixels = render["size"][0] * render["size"][1]
    for colour in (SEA, focus, countries.symbol.fill):
        assert render["common"].get(colour.lower(), 0) > 0.01 * pixels, (colour, render)
    assert render["label_pixels"] > 2_000, render


# --- datapackage.json ----------------------------------------------------------------------------


def package(result: BuildResult) -> dict:
    return json.loads((data(result) / DATAPACKAGE).read_text(encoding="utf-8"))


def test_datapackage_lists_every_data_file_with_its_size_and_hash(default_build: BuildResult):
    resources = package(default_build)["resources"]
    files = sorted(p.name for p in data(default_build).iterdir() if p.name != DATAPACKAGE)
    assert sorted(r["path"] for r in resources) == files
    for resource in resources:
        content = (data(default_build) / resource["path"]).read_bytes()
        assert resource["bytes"] == len(content), resource["path"]
        assert resource["hash"] == f"sha256:{hashlib.sha256(content).hexdigest()}"
        assert resource["format"] and resource["mediatype"], resource["path"]
    formats = {Path(r["path"]).name.split(".", 1)[1]: r["mediatype"] for r in resources}
    assert formats["gpkg"] == "application/geopackage+sqlite3"
    assert formats["geojson"] == "application/geo+json"
    assert formats["shp.zip"] == "application/zip"


def test_datapackage_is_valid_and_every_csv_matches_its_schema(default_build: BuildResult):
    report = frictionless.validate(str(data(default_build) / DATAPACKAGE))
    assert report.valid, report.flatten(["taskNumber", "type", "message"])
    tabular = [r for r in package(default_build)["resources"] if "schema" in r]
    point_layers = {t.name for t in all_tables(default_build.story) if t.dimension == "points"}
    figures = {t.name for t in default_build.story.config.tables}
    assert {r["path"] for r in tabular} == {f"{name}.csv" for name in point_layers | figures}
    for resource in tabular:
        with (data(default_build) / resource["path"]).open(encoding="utf-8-sig") as f:
            header = next(csv.reader(f))
        fields = resource["schema"]["fields"]
        assert [f["name"] for f in fields] == header
        assert all(f["description"] for f in fields), resource["path"]
    events = {
        f["name"]: f
        for f in next(r for r in tabular if r["path"] == "events.csv")["schema"]["fields"]
    }
    assert events["date_start"]["type"] == events["date_end"]["type"] == "date"
    assert events["date"]["type"] == "string"  # '2017-11' stays as precise as its source
    assert events["precision_km"]["type"] == "number"
    assert events["source_url"]["format"] == "uri"
    assert events["date_precision"]["constraints"]["enum"] == ["day", "month", "year"]
    assert events["title"]["description"] == "Short title of the event"  # from kinds.toml
    places = next(r for r in tabular if r["path"] == "places.csv")["schema"]["fields"]
    assert next(f for f in places if f["name"] == "population")["type"] == "integer"


def test_datapackage_validation_finds_a_cell_that_breaks_the_schema(
    default_build: BuildResult, tmp_path: Path
):
    """The schema check is real: a population that is not a whole number fails it, even with
    the file's hash and size updated to match."""
    shutil.copytree(data(default_build), tmp_path / "data")
    places = tmp_path / "data" / "places.csv"
    text = places.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    column = rows[0].index("population")
    rows[1][column] = "about 900,000"
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    places.write_text(out.getvalue(), encoding="utf-8-sig", newline="")
    descriptor = json.loads((tmp_path / "data" / DATAPACKAGE).read_text(encoding="utf-8"))
    resource = next(r for r in descriptor["resources"] if r["path"] == "places.csv")
    content = places.read_bytes()
    resource.update(bytes=len(content), hash=f"sha256:{hashlib.sha256(content).hexdigest()}")
    (tmp_path / "data" / DATAPACKAGE).write_text(json.dumps(descriptor), encoding="utf-8")
    report = frictionless.validate(str(tmp_path / "data" / DATAPACKAGE))
    assert not report.valid
    assert {e[0] for e in report.flatten(["type"])} == {"type-error"}


def test_datapackage_gives_each_file_its_licences_and_sources(default_build: BuildResult):
    descriptor = package(default_build)
    resources = {r["path"]: r for r in descriptor["resources"]}
    natural_earth = resources["countries.geojson"]
    assert natural_earth["licenses"] == [
        {"name": "other-pd", "title": "Public domain (Natural Earth)"}
    ]
    assert {
        "title": "Natural Earth 1:10m admin-0 (public domain)",
        "path": "https://www.naturalearthdata.com/",
    } in natural_earth["sources"]
    events = default_build.story.layer("events").frame
    cited = {(n, u) for n, u in zip(events["source_name"], events["source_url"], strict=True)}
    for path in ("events.csv", "events.geojson", "events.parquet"):
        resource = resources[path]
        assert "names its own source" in resource["description"], path
        assert {(s["title"], s.get("path")) for s in resource["sources"]} == cited, path
        assert [lic["title"] for lic in resource["licenses"]] == [
            licence(default_build.story.layer("events"))
        ]
    story_file = resources[gpkg(default_build).name]
    assert "Project > Open From > GeoPackage" in story_file["description"]
    assert {(s["title"], s.get("path")) for s in story_file["sources"]} >= cited
    assert descriptor["sources"] == story_file["sources"]
    assert {lic["name"] for lic in descriptor["licenses"]} == {"other-pd", "notspecified"}


def test_datapackage_types_a_figures_table_and_cites_its_rows_sources(
    default_build: BuildResult,
):
    package = json.loads((data(default_build) / "datapackage.json").read_text("utf-8"))
    troops = next(r for r in package["resources"] if r["path"] == "troops.csv")
    types = {f["name"]: f["type"] for f in troops["schema"]["fields"]}
    assert types["count"] == "integer" and types["date"] == "string"  # "2017-06" as written
    assert (types["date_start"], types["date_end"]) == ("date", "date")
    table = default_build.story.config.tables[0]
    assert {s["path"] for s in troops["sources"]} == {f.source_url for f in table.figures}
    assert troops["licenses"]
