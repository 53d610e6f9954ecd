"""KML for Google Earth: styles per category, placemark balloons, and time for the slider.

Balloons link only http(s) URLs (:func:`geo.text.is_link`, the web map's rule): any other
source URL, ``javascript:`` included, is shown as text.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from geo.combine import Story
from geo.exports.qgis import LayerStyle, rgba
from geo.exports.tables import (
    STORY_FILES,
    Table,
    all_tables,
    field_names,
    layer_description,
    records,
    scene_of,
    table_style,
    text,
)
from geo.load import Layer
from geo.scene import LayerScene
from geo.text import is_link

_KML = "http://www.opengis.net/kml/2.2"
ET.register_namespace("", _KML)
KML_NAME_FIELDS = ("title", "name", "site", "id")  # placemark name when no label is set
KML_SOURCE_FIELDS = ("source_name", "source_url")


def write_kml(story: Story, folder: Path) -> list[Path]:
    """One KML for Google Earth: a Folder per layer, a Style per layer and category."""
    root = ET.Element(_kml_tag("kml"))
    document = _kml(root, "Document")
    _kml(document, "name").text = story.config.title
    _kml(document, "description").text = "\n".join(
        t for t in (story.config.description, story.config.credit) if t
    )
    for table in all_tables(story, split=True):
        scene = scene_of(story, table.layer)
        style = table_style(table, scene)
        _kml_styles(document, table, style)
        _kml_folder(document, table, style, scene)
    path = folder / f"{story.config.name}{STORY_FILES['kml']}"
    ET.indent(root)
    path.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")
    return [path]


def _kml_tag(tag: str) -> str:
    return f"{{{_KML}}}{tag}"


def _kml(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, _kml_tag(tag), attributes)


def _kml_style_id(table: Table, index: int | None) -> str:
    """``<table>~style`` or ``<table>~style~<n>``: layer names have no '~', so no style id can
    equal another or a Folder's id (the table name)."""
    return f"{table.name}~style" if index is None else f"{table.name}~style~{index}"


def _kml_styles(document: ET.Element, table: Table, style: LayerStyle | None) -> None:
    if style is None:
        return
    symbols = [(None, style.symbol), *enumerate(c.symbol for c in style.categories)]
    for index, symbol in symbols:
        element = _kml(document, "Style", id=_kml_style_id(table, index))
        if style.geometry == "point":
            icon_style = _kml(element, "IconStyle")
            _kml(icon_style, "color").text = _kml_colour(symbol.fill, 1.0)
            _kml(icon_style, "scale").text = f"{symbol.radius / 7:.2g}"
            # No <Icon>: the viewer's own marker, tinted; nothing is fetched from a server.
        line_style = _kml(element, "LineStyle")
        _kml(line_style, "color").text = _kml_colour(symbol.stroke, symbol.stroke_opacity)
        _kml(line_style, "width").text = f"{symbol.stroke_width:g}"
        if style.geometry == "polygon":
            poly_style = _kml(element, "PolyStyle")
            _kml(poly_style, "color").text = _kml_colour(symbol.fill, symbol.fill_opacity)
            _kml(poly_style, "fill").text = "1" if symbol.fill and symbol.fill_opacity else "0"


def _kml_colour(colour: str | None, opacity: float) -> str:
    """KML writes colours as aabbggrr."""
    red, green, blue, alpha = rgba(colour, opacity)
    return f"{alpha:02x}{blue:02x}{green:02x}{red:02x}"


def _kml_folder(
    document: ET.Element, table: Table, style: LayerStyle | None, scene: LayerScene
) -> None:
    config = table.layer.config
    label = field_names(table.layer).get(config.label, config.label)  # as the table names it
    folder = _kml(document, "Folder", id=table.name)
    _kml(folder, "name").text = table.title
    _kml(folder, "description").text = layer_description(table.layer)
    for geometry, record in zip(table.frame.geometry, records(table.frame), strict=True):
        placemark = _kml(folder, "Placemark")
        _kml(placemark, "name").text = _placemark_name(label, record)
        _kml(placemark, "description").text = _placemark_html(record, table.layer)
        _kml_time(placemark, record, (scene.time[0], scene.time[2]) if scene.time else None)
        if style is not None:
            index = next(
                (
                    i
                    for i, c in enumerate(style.categories)
                    if style.field and c.value == record.get(style.field)
                ),
                None,
            )
            _kml(placemark, "styleUrl").text = "#" + _kml_style_id(table, index)
        data = _kml(placemark, "ExtendedData")
        for key, value in record.items():
            _kml(_kml(data, "Data", name=key), "value").text = text(value)
        _kml_geometry(placemark, geometry)


def _placemark_name(label: str | None, record: dict[str, Any]) -> str:
    for field in (label, *KML_NAME_FIELDS):
        if field and record.get(field) is not None:
            return text(record[field])
    return ""


def _placemark_html(record: dict[str, Any], layer: Layer) -> str:
    """The balloon: a table of the attributes and the source, every value escaped; the source
    is a link only for an http(s) URL."""
    rows = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(text(value))}</td></tr>"
        for key, value in record.items()
        if value is not None and key not in KML_SOURCE_FIELDS
    )
    return f"<table>{rows}</table>{_source_html(record, layer)}"


def _source_html(record: dict[str, Any], layer: Layer) -> str:
    name = record.get("source_name") or layer.config.source_name
    url = record.get("source_url") or layer.config.source_url
    label = html.escape(text(name or url))
    if is_link(url):
        return f'<p>Source: <a href="{html.escape(url.strip(), quote=True)}">{label}</a></p>'
    return f"<p>Source: {label}</p>" if label else ""


def _kml_time(
    placemark: ET.Element, record: dict[str, Any], fields: tuple[str, str] | None
) -> None:
    """A TimeStamp or TimeSpan, so Google Earth's time slider can show the layer over time."""
    if fields is None or record.get(fields[0]) is None:
        return
    begin, end = (record.get(f) for f in fields)
    if end is None:
        _kml(_kml(placemark, "TimeStamp"), "when").text = text(begin)
        return
    span = _kml(placemark, "TimeSpan")
    _kml(span, "begin").text = text(begin)
    _kml(span, "end").text = text(end)


def _kml_geometry(parent: ET.Element, geometry: Any) -> None:
    kind = geometry.geom_type
    if kind.startswith("Multi") or kind == "GeometryCollection":
        multi = _kml(parent, "MultiGeometry")
        for part in geometry.geoms:
            _kml_geometry(multi, part)
    elif kind == "Point":
        _kml(_kml(parent, "Point"), "coordinates").text = _kml_coordinates(geometry.coords)
    elif kind == "LineString":
        _kml(_kml(parent, "LineString"), "coordinates").text = _kml_coordinates(geometry.coords)
    else:
        polygon = _kml(parent, "Polygon")
        for boundary, ring in [("outerBoundaryIs", geometry.exterior)] + [
            ("innerBoundaryIs", r) for r in geometry.interiors
        ]:
            ring_element = _kml(_kml(polygon, boundary), "LinearRing")
            _kml(ring_element, "coordinates").text = _kml_coordinates(ring.coords)


def _kml_coordinates(coords: Any) -> str:
    return " ".join(f"{x!r},{y!r}" for x, y, *_ in coords)
