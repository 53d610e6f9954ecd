"""The QGIS project stored inside the GeoPackage: open the file in QGIS (Project > Open From >
GeoPackage) and get the map, not a list of tables.

QGIS keeps projects in a GeoPackage's ``qgis_projects`` table (name, JSON metadata, and the
zipped ``.qgz`` as hexadecimal text, which is how QGIS's GeoPackage project storage reads and
writes it). The project holds every table of the GeoPackage in the map's drawing order (the
first drawn at the bottom of the layer tree), each drawn with the QML of its ``layer_styles``
row (:func:`geo.exports.qgis.to_qml`: the same scene, so no second style model) and labelled
where its scene has labels, with the web map's label styles. Layer sources are
``./<story>.gpkg|layername=<table>``, which QGIS resolves against the GeoPackage's own folder:
the file can be moved anywhere, but renaming it breaks the project's sources.

The .qgs is written here with ElementTree, without PyQGIS (the build runs on plain pip
packages), for QGIS 3.22 and later. It is deterministic: ids come from table names, the zip
entry has a fixed time, and no clock or user name is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import sqlite3
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from geo.combine import Story
from geo.exports.names import PROJECTS_TABLE
from geo.exports.qgis import rgba, to_qml
from geo.exports.tables import (
    ZIP_TIME,
    Table,
    field_names,
    layer_description,
    licence,
    scene_of,
    table_style,
)
from geo.scene import Label, LayerScene
from geo.view import SEA, view_bounds

QGIS_VERSION = "3.22.0"  # the oldest QGIS the project is written for (Debian 12's)
PROJECT_TIME = "2000-01-01T00:00:00"  # QGIS stamps its metadata with the clock; we do not
PROJECT_USER = "geo-story"
_DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
_NON_WORD = re.compile(r"\W")
_WKB_GEOMETRY = {"points": "Point", "lines": "Line", "polygons": "Polygon"}

# The label field of the kinds whose scene labels a fixed property (geo.kindmods.countries and
# .bases); the others label map.toml's ``label`` property (places, plain layers).
_LABEL_FIELDS = {"countries": "name", "bases": "site"}


@dataclass(frozen=True)
class LabelText:
    """How one kind of label is drawn: the web map's .gs-*-label rules in story.css."""

    px: float  # font size in pixels
    weight: int  # Qt 5 font weight: 50 normal, 57 medium, 63 semi-bold, 75 bold
    colour: str
    upper: bool = False  # letter-spaced capitals (country names)
    offset_px: float = 0.0  # from a point to its label


LABEL_TEXT = {
    "focus": LabelText(15, 75, "#6b3510", upper=True),
    "country": LabelText(12, 63, "#5b554a", upper=True),
    "site": LabelText(11.5, 75, "#1f1f1f", offset_px=11),
    "national capital": LabelText(11, 75, "#333333", offset_px=6),
    "place": LabelText(11, 57, "#333333", offset_px=6),
}
LETTER_SPACING_EM = 0.06  # of country names
HALO_PX = 1.5  # the white halo around every label (the web map's text-shadow)


# --- the qgis_projects table ----------------------------------------------------------------


def write_qgis_project(
    gpkg: Path, story: Story, tables: Sequence[Table], identifiers: Sequence[str]
) -> None:
    """Store the story's project in the GeoPackage, as QGIS's "Save To GeoPackage" does."""
    content = project_qgz(story, tables, identifiers, gpkg.name)
    metadata = json.dumps({"last_modified_time": PROJECT_TIME, "last_modified_user": PROJECT_USER})
    db = sqlite3.connect(gpkg)
    try:
        with db:
            db.execute(
                f"CREATE TABLE {PROJECTS_TABLE}(name TEXT PRIMARY KEY, metadata BLOB, content BLOB)"
            )
            db.execute(
                f"INSERT INTO {PROJECTS_TABLE} VALUES (?, ?, ?)",
                (story.config.name, metadata, content.hex()),
            )
    finally:
        db.close()


def project_qgz(
    story: Story, tables: Sequence[Table], identifiers: Sequence[str], gpkg_name: str
) -> bytes:
    """The project as QGIS zips it (a .qgz holding one .qgs), with a fixed entry time."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(f"{story.config.name}.qgs", date_time=ZIP_TIME)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, project_qgs(story, tables, identifiers, gpkg_name))
    return buffer.getvalue()


# --- the .qgs document ----------------------------------------------------------------------


def project_qgs(
    story: Story, tables: Sequence[Table], identifiers: Sequence[str], gpkg_name: str
) -> bytes:
    """The .qgs XML: the tables in drawing order (``tables`` is story order), styled and
    labelled; the view the web map opens on; the temporal controller's range."""
    config = story.config
    root = ET.Element("qgis", version=QGIS_VERSION, projectname=config.title)
    _text(root, "title", config.title)
    _srs(_sub(root, "projectCrs"))
    sources = [f"./{gpkg_name}|layername={t.name}" for t in tables]
    ids = [layer_id(t.name) for t in tables]
    tree = _sub(root, "layer-tree-group")
    for table, identifier, source in reversed(list(zip(tables, identifiers, sources, strict=True))):
        _sub(
            tree,
            "layer-tree-layer",
            id=layer_id(table.name),
            name=identifier,
            source=source,
            providerKey="ogr",
            checked="Qt::Checked" if scene_of(story, table.layer).show else "Qt::Unchecked",
            expanded="1",
        )
    order = _sub(tree, "custom-order", enabled="0")
    for each in ids:
        _text(order, "item", each)
    _map_canvas(root, story)
    layers = _sub(root, "projectlayers")
    for table, identifier, source in zip(tables, identifiers, sources, strict=True):
        _map_layer(layers, story, table, identifier, source)
    layer_order = _sub(root, "layerorder")
    for each in ids:
        _sub(layer_order, "layer", id=each)
    _properties(root)
    metadata = _sub(root, "projectMetadata")
    _text(metadata, "language", config.language)
    _text(metadata, "title", config.title)
    _text(metadata, "abstract", config.description)
    _view_settings(root, story)
    _time_settings(root, story, tables)
    ET.indent(root)
    return (_DOCTYPE + ET.tostring(root, encoding="unicode") + "\n").encode("utf-8")


def _map_canvas(root: ET.Element, story: Story) -> None:
    """The view QGIS opens on: the web map's opening view (the countries)."""
    canvas = _sub(root, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    _text(canvas, "units", "degrees")
    _extent(_sub(canvas, "extent"), view_bounds(story))
    _text(canvas, "rotation", "0")
    _srs(_sub(canvas, "destinationsrs"))
    _text(canvas, "rendermaptile", "0")


def _view_settings(root: ET.Element, story: Story) -> None:
    west, south, east, north = (_number(v) for v in view_bounds(story))
    view = _sub(root, "ProjectViewSettings", UseProjectScales="0", rotation="0")
    _sub(view, "Scales")
    extent = _sub(view, "DefaultViewExtent", xmin=west, ymin=south, xmax=east, ymax=north)
    _srs(extent)


def _time_settings(root: ET.Element, story: Story, tables: Sequence[Table]) -> None:
    """QGIS's temporal controller spans every dated feature (the tables whose style sets up
    its start and end fields), a month a step, as ▶ Play does on the web map's timeline."""
    days = []
    for table in tables:
        style = table_style(table, scene_of(story, table.layer))
        for column in style.time if style is not None and style.time else ():
            present = table.frame[column].dropna()
            if len(present):  # the column's first and last days: all min and max need
                days += [present.min(), present.max()]
    if not days:
        return
    settings = _sub(
        root,
        "ProjectTimeSettings",
        timeStep="1",
        timeStepUnit="mon",
        frameRate="1",
        cumulativeTemporalRange="0",
    )
    span = _sub(settings, "TemporalRange")
    _text(span, "start", f"{min(days).isoformat()}T00:00:00Z")
    _text(span, "end", f"{(max(days) + dt.timedelta(days=1)).isoformat()}T00:00:00Z")


def _properties(root: ET.Element) -> None:
    """Relative paths (the layers are in the same file), and the sea's colour behind the land."""
    properties = _sub(root, "properties")
    gui = _sub(properties, "Gui")
    red, green, blue, _ = rgba(SEA, 1.0)
    for part, value in (("Blue", blue), ("Green", green), ("Red", red)):
        _text(gui, f"CanvasColor{part}Part", str(value), type="int")
    _text(_sub(properties, "Paths"), "Absolute", "false", type="bool")
    _text(_sub(properties, "SpatialRefSys"), "ProjectionsEnabled", "1", type="int")


def _map_layer(
    parent: ET.Element, story: Story, table: Table, identifier: str, source: str
) -> None:
    """One table: its source in the GeoPackage, metadata, and the QML of its layer_styles row
    (renderer and temporal settings), plus labels where the web map has them."""
    scene = scene_of(story, table.layer)
    labeling = _labeling(table, scene)
    layer = _sub(
        parent,
        "maplayer",
        type="vector",
        geometry=_WKB_GEOMETRY.get(table.dimension or "", "Unknown"),
        wkbType=table.geometry_type,
        labelsEnabled="1" if labeling is not None else "0",
    )
    _text(layer, "id", layer_id(table.name))
    _text(layer, "datasource", source)
    _text(layer, "layername", identifier)
    _srs(_sub(layer, "srs"))
    metadata = _sub(layer, "resourceMetadata")
    _text(metadata, "type", "dataset")
    _text(metadata, "title", identifier)
    _text(metadata, "abstract", layer_description(table.layer))
    _text(metadata, "license", licence(table.layer))
    _text(layer, "provider", "ogr", encoding="UTF-8")
    style = table_style(table, scene)
    if style is not None:
        qml = ET.fromstring(to_qml(style).removeprefix(_DOCTYPE))
        layer.extend(child for child in qml if child.tag != "layerGeometryType")
    if labeling is not None:
        layer.append(labeling)
    _text(layer, "blendMode", "0")
    _text(layer, "featureBlendMode", "0")
    _text(layer, "layerOpacity", "1")


def layer_id(table: str) -> str:
    """The table's id in the project, stable from build to build: its name (word characters
    only, as QGIS makes them) and a digest of it. QGIS replaces an id of 10 characters or
    fewer with a random one, and the layer tree would then point at nothing."""
    digest = hashlib.sha256(table.encode("utf-8")).hexdigest()[:12]
    return f"{_NON_WORD.sub('_', table)}_{digest}"


# --- labels ---------------------------------------------------------------------------------


def label_field(table: Table, scene: LayerScene) -> str | None:
    """The table's field that the scene's labels show, as the table names it (None: no labels)."""
    if not scene.labels:
        return None
    field = _LABEL_FIELDS.get(scene.kind) or table.layer.config.label
    if field is None:
        return None
    exported = field_names(table.layer).get(field, field)
    return exported if exported in table.frame else None


def _labeling(table: Table, scene: LayerScene) -> ET.Element | None:
    """Simple labels when every label of the table looks alike; otherwise one rule per look
    (the focus country, national capitals...), each picking its features by their text."""
    field = label_field(table, scene)
    if field is None:
        return None
    present = {str(v) for v in table.frame[field].dropna().tolist()}
    groups: dict[tuple[str, int], list[str]] = {}
    for label in scene.labels:
        if label.text in present:
            groups.setdefault((_look(label), _priority(label)), []).append(label.text)
    if not groups:
        return None
    geometry = table.dimension or "points"
    if len(groups) == 1:
        ((look, priority),) = groups
        labeling = ET.Element("labeling", type="simple")
        labeling.append(_settings(field, LABEL_TEXT[look], priority, geometry))
        return labeling
    labeling = ET.Element("labeling", type="rule-based")
    rules = _sub(labeling, "rules", key=f"labels-{table.name}")
    ranked = sorted(groups.items(), key=lambda item: -item[0][1])  # highest priority first
    for i, ((look, priority), texts) in enumerate(ranked):
        rule = _sub(
            rules,
            "rule",
            key=f"labels-{table.name}-{i}",
            description=look,
            filter=f"{_column(field)} IN ({', '.join(_string(t) for t in sorted(set(texts)))})",
        )
        rule.append(_settings(field, LABEL_TEXT[look], priority, geometry))
    return labeling


def _look(label: Label) -> str:
    """The label's entry in LABEL_TEXT, as the web map styles it."""
    if label.role in ("focus", "country", "site"):
        return label.role
    return "national capital" if label.rank == "national capital" else "place"


def _priority(label: Label) -> int:
    """QGIS's label priority (0 to 10) from the scene's (the focus 100, countries 50, sites 40,
    capitals 30...): the higher wins a collision, as on the web map."""
    return max(0, min(10, round(label.priority / 10)))


def _settings(field: str, look: LabelText, priority: int, geometry: str) -> ET.Element:
    """A QgsPalLayerSettings element: the text, its halo, where it goes and its priority."""
    settings = ET.Element("settings", calloutType="simple")
    style = _sub(
        settings,
        "text-style",
        fieldName=field,
        isExpression="0",
        fontSize=_number(look.px),
        fontSizeUnit="Pixel",
        fontWeight=str(look.weight),
        fontItalic="0",
        fontLetterSpacing=_number(round(LETTER_SPACING_EM * look.px, 2) if look.upper else 0),
        capitalization="1" if look.upper else "0",  # QgsStringUtils::AllUppercase
        textColor=",".join(map(str, rgba(look.colour, 1.0))),
        textOpacity="1",
        multilineHeight="1",
        blendMode="0",
    )
    _sub(
        style,
        "text-buffer",
        bufferDraw="1",
        bufferSize=_number(HALO_PX),
        bufferSizeUnits="Pixel",
        bufferColor="255,255,255,255",
        bufferOpacity="0.9",
        bufferNoFill="1",
        bufferJoinStyle="128",
        bufferBlendMode="0",
    )
    _sub(settings, "text-format", wrapChar="", multilineAlign="3", autoWrapLength="0")
    if geometry == "points":  # beside the point: right first, as on the web map
        placement = {
            "placement": "6",  # QgsPalLayerSettings::OrderedPositionsAroundPoint
            "predefinedPositionOrder": "R,L,T,B,TR,BR,TL,BL",
            "offsetType": "0",  # the distance is from the point
            "dist": _number(look.offset_px),
        }
    elif geometry == "lines":
        placement = {"placement": "2", "placementFlags": "10", "dist": "0"}  # along the line
    else:
        placement = {
            "placement": "1",  # OverPoint: at the centroid of the part in view
            "centroidInside": "1",
            "centroidWhole": "0",
            "quadOffset": "4",  # centred on it
            "fitInPolygonOnly": "0",
            "dist": "0",
        }
    _sub(settings, "placement", **placement, distUnits="Pixel", priority=str(priority))
    _sub(
        settings,
        "rendering",
        drawLabels="1",
        # a point's marker keeps other labels off it, as on the web map; a country's outline
        # does not (as an obstacle it hid the label of every site near a border)
        obstacle="1" if geometry == "points" else "0",
        obstacleFactor="1",
        obstacleType="0",
        displayAll="0",
        upsidedownLabels="0",
        labelPerPart="0",
        mergeLines="0",
        limitNumLabels="0",
        maxNumLabels="2000",
        scaleVisibility="0",
        fontLimitPixelSize="0",
        minFeatureSize="0",
        zIndex="0",
        unplacedVisibility="0",
    )
    return settings


def _column(name: str) -> str:
    """A field in a QGIS expression (QgsExpression::quotedColumnRef)."""
    return '"' + name.replace('"', '""') + '"'


def _string(text: str) -> str:
    """A text literal in a QGIS expression (QgsExpression::quotedString)."""
    escaped = text.replace("'", "''").replace("\\", "\\\\").replace("\n", "\\n")
    return "'" + escaped.replace("\t", "\\t") + "'"


# --- XML helpers ----------------------------------------------------------------------------


def _srs(parent: ET.Element) -> None:
    """WGS 84 as QGIS reads it: by its authority id (every table is EPSG:4326)."""
    srs = _sub(parent, "spatialrefsys")
    _text(srs, "proj4", "+proj=longlat +datum=WGS84 +no_defs")
    _text(srs, "srid", "4326")
    _text(srs, "authid", "EPSG:4326")
    _text(srs, "description", "WGS 84")
    _text(srs, "projectionacronym", "longlat")
    _text(srs, "ellipsoidacronym", "EPSG:7030")
    _text(srs, "geographicflag", "true")


def _extent(parent: ET.Element, bounds: Iterable[float]) -> None:
    for name, value in zip(("xmin", "ymin", "xmax", "ymax"), bounds, strict=True):
        _text(parent, name, _number(value))


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


def _sub(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, tag, attributes)


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    element.text = text
    return element
