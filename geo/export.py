"""Step 4: write every layer as data files GIS tools read (full-precision geometries).

Always: one GeoPackage with every layer (``<story>.gpkg``, styled for QGIS), one GeoJSON per
layer and one CSV per point layer. ``formats`` adds KML, zipped Shapefiles, FlatGeobuf and
GeoParquet. Every writer reads ``layer.frame`` (never the simplified ``layer.web``) through
:func:`typed_frame`, so each format declares the same field types, and every file is
reproducible: the same story gives the same bytes.

Formats whose layers hold one kind of geometry (GeoPackage, Shapefile) get a layer that mixes
points, lines and polygons as one table per kind, named ``<layer>_points``, ``<layer>_lines``
and ``<layer>_polygons``; a layer mixing single and multi parts of one kind is written as
multi parts there and in FlatGeobuf.
"""

from __future__ import annotations

import csv
import html
import io
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from geo.combine import Story
from geo.load import Layer
from geo.styles import LayerStyle, layer_style, rgba, to_qml, to_sld

DEFAULT_FORMATS = ("geopackage", "geojson", "csv")
EXTRA_FORMATS = ("kml", "shapefile", "flatgeobuf", "geoparquet")

# GeoPackage 1.2: GDAL 3.6 and QGIS 3.22 warn that pyogrio's default 1.4 "may only be
# partially supported". GDAL stamps files with OGR_CURRENT_DATE instead of the clock.
GPKG_VERSION = "1.2"
FIXED_TIME = "2000-01-01T00:00:00.000Z"
FIXED_DATE = "2000-01-01"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
LICENCE = "not stated by the story: each source's own terms apply (see the sources)"

_ARROW_TYPES = {"date": pa.date32(), "number": pa.float64(), "integer": pa.int64()}
_DIMENSIONS = {  # geometry type -> (dimension name, multi-part type)
    "Point": ("points", "MultiPoint"),
    "MultiPoint": ("points", "MultiPoint"),
    "LineString": ("lines", "MultiLineString"),
    "MultiLineString": ("lines", "MultiLineString"),
    "Polygon": ("polygons", "MultiPolygon"),
    "MultiPolygon": ("polygons", "MultiPolygon"),
}
_STYLE_GEOMETRY = {"points": "point", "lines": "line", "polygons": "polygon"}


def parse_formats(text: str) -> tuple[str, ...]:
    """Parse --export's comma list ('all' for every extra format)."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return EXTRA_FORMATS
    unknown = [n for n in names if n not in EXTRA_FORMATS]
    if unknown:
        raise ValueError(
            f"unknown export format(s): {', '.join(unknown)}; known formats: "
            f"{', '.join(EXTRA_FORMATS)} or all"
        )
    return tuple(n for n in EXTRA_FORMATS if n in names)


def write_exports(
    story: Story, folder: Path, formats: Sequence[str], log: Callable[[str], None]
) -> list[Path]:
    """Write the default formats and ``formats`` into ``folder``; return the files written."""
    unknown = [f for f in formats if f not in WRITERS]
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; known: {', '.join(EXTRA_FORMATS)}")
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with _gdal_config(OGR_CURRENT_DATE=FIXED_TIME):
        for name in (*DEFAULT_FORMATS, *(f for f in EXTRA_FORMATS if f in formats)):
            paths = WRITERS[name](story, folder)
            log(f"exported {name}: {', '.join(p.name for p in paths)}")
            written.extend(paths)
    return written


# --- the rows and columns every format writes ---------------------------------------------


@dataclass(frozen=True)
class Table:
    """What one file or table holds: a layer, or the part of it of one geometry dimension."""

    name: str
    layer: Layer
    frame: gpd.GeoDataFrame  # typed columns, see typed_frame
    geometry_type: str  # as GDAL names it: "Point", "MultiPolygon", ... or "Unknown" (mixed)

    @property
    def title(self) -> str:
        """The layer's title, with the dimension when the layer was split."""
        title = self.layer.config.title
        return title if self.name == self.layer.name else f"{title} ({self.dimension})"

    @property
    def dimension(self) -> str | None:
        """'points', 'lines' or 'polygons'; None when the table mixes them."""
        found = {_DIMENSIONS[t][0] for t in self.frame.geom_type}
        return found.pop() if len(found) == 1 else None


def typed_frame(layer: Layer) -> gpd.GeoDataFrame:
    """The layer's full-precision frame with Arrow-typed columns: date fields as dates, number
    fields as doubles, integer fields as 64-bit integers (missing values as nulls, never NaN).

    Declaring the types from the kind keeps a column that is empty in this story (say, no event
    has an ``end_date``) a Date field rather than whatever GDAL would guess.
    """
    frame = layer.frame
    fields = layer.kind.fields
    columns = {
        name: _typed_column(frame[name], fields[name].type if name in fields else None)
        for name in frame.columns
        if name != frame.geometry.name
    }
    return gpd.GeoDataFrame(columns, geometry=frame.geometry.values, crs=frame.crs)


def _typed_column(series: pd.Series, field_type: str | None) -> pd.Series:
    values = [v if _present(v) else None for v in series.tolist()]
    arrow_type = _ARROW_TYPES.get(field_type or "", pa.string() if field_type else None)
    if arrow_type == pa.int64():
        values = [None if v is None else int(v) for v in values]
    if arrow_type is None:  # a property the kind does not declare: use what the values are
        try:
            arrow_type = pa.array(values).type
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: keep them as text
            values, arrow_type = [None if v is None else str(v) for v in values], pa.string()
        if pa.types.is_null(arrow_type):
            arrow_type = pa.string()
    return pd.Series(pd.array(values, dtype=pd.ArrowDtype(arrow_type)), index=series.index)


def _present(value: Any) -> bool:
    return value is not None and value is not pd.NA and value == value  # NaN != NaN


def tables(layer: Layer, *, split: bool = False, promote: bool = False) -> list[Table]:
    """The layer as one table, or (``split``) one table per geometry dimension it mixes;
    ``promote`` writes a table mixing single and multi parts as multi parts only."""
    frame = typed_frame(layer)
    dimensions = frame.geom_type.map(lambda t: _DIMENSIONS[t][0])
    if not split or dimensions.nunique() == 1:
        return [_table(layer.name, layer, frame, promote)]
    return [
        _table(f"{layer.name}_{dimension}", layer, frame[dimensions == dimension], promote)
        for dimension in sorted(set(dimensions))
    ]


def _table(name: str, layer: Layer, frame: gpd.GeoDataFrame, promote: bool) -> Table:
    types = set(frame.geom_type)
    multi = {_DIMENSIONS[t][1] for t in types}
    if len(types) == 1:
        return Table(name, layer, frame, types.pop())
    if not promote or len(multi) > 1:
        return Table(name, layer, frame, "Unknown")
    multi_type = multi.pop()
    promoted = frame.copy()
    promoted.geometry = [_as_multi(g, multi_type) for g in frame.geometry]
    return Table(name, layer, promoted, multi_type)


def _as_multi(geometry: Any, multi_type: str) -> Any:
    if geometry.geom_type == multi_type:
        return geometry
    return getattr(shapely, multi_type)([geometry])


def all_tables(story: Story, *, split: bool = False, promote: bool = False) -> list[Table]:
    return [t for layer in story.layers for t in tables(layer, split=split, promote=promote)]


def _records(frame: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python values, missing values as None."""
    attributes = frame.drop(columns=frame.geometry.name)
    return [
        {k: (v if _present(v) else None) for k, v in row.items()}
        for row in attributes.to_dict("records")
    ]


# --- metadata -----------------------------------------------------------------------------


def sources(layer: Layer) -> list[str]:
    """Where a layer comes from: its own source and every source its features cite."""
    pairs = {(layer.config.source_name, layer.config.source_url)}
    frame = layer.frame
    for name_field, url_field in (
        ("source_name", "source_url"),
        ("note_source_name", "note_source_url"),
    ):
        if name_field in frame:
            names = frame[name_field].tolist()
            urls = frame[url_field].tolist() if url_field in frame else [None] * len(names)
            pairs.update(zip(names, urls, strict=True))
    described = {_source_text(n, u) for n, u in pairs if _present(n) or _present(u)}
    return sorted(described)


def _source_text(name: Any, url: Any) -> str:
    return " ".join(str(v) for v in (name, f"<{url}>" if _present(url) else None) if _present(v))


def _layer_description(layer: Layer) -> str:
    found = sources(layer)
    return (
        f"{layer.config.title}. Sources: {'; '.join(found) or 'not stated'}. "
        f"Licence: {_licence(layer)}."
    )


def _licence(layer: Layer) -> str:
    return layer.config.licence or LICENCE


def _layer_metadata(story: Story, layer: Layer) -> dict[str, str]:
    """Title, sources and licence of a layer, with the story's title and credit.

    Kept per layer: GDAL (3.12) leaves a ``.gpkg.aux.xml`` beside any GeoPackage that has
    dataset-level metadata each time it reads it.
    """
    return {
        "TITLE": layer.config.title,
        "KIND": layer.config.kind,
        "SOURCES": "; ".join(sources(layer)) or "not stated",
        "LICENCE": _licence(layer),
        "STORY": story.config.title,
        "CREDIT": story.config.credit,
    }


@contextmanager
def _gdal_config(**options: str) -> Iterator[None]:
    """Set GDAL configuration options for the block and restore the previous values after."""
    previous = {key: pyogrio.get_gdal_config_option(key) for key in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(previous)


def _write(table: Table, path: Path, driver: str, **options: Any) -> None:
    pyogrio.write_dataframe(
        table.frame,
        path,
        layer=table.name,
        driver=driver,
        geometry_type=table.geometry_type,
        use_arrow=True,
        **options,
    )


# --- GeoPackage ---------------------------------------------------------------------------


def write_geopackage(story: Story, folder: Path) -> list[Path]:
    """All layers in one GeoPackage, with metadata and each layer's QGIS style."""
    path = folder / f"{story.config.name}.gpkg"
    path.unlink(missing_ok=True)
    written = all_tables(story, split=True, promote=True)
    for i, table in enumerate(written):
        creating = i == 0
        _write(
            table,
            path,
            "GPKG",
            append=not creating,
            dataset_options={"VERSION": GPKG_VERSION} if creating else None,
            layer_options={
                "IDENTIFIER": table.title,
                "DESCRIPTION": _layer_description(table.layer),
            },
            layer_metadata=_layer_metadata(story, table.layer),
        )
    _write_layer_styles(path, written)
    return [path]


def table_style(table: Table) -> LayerStyle | None:
    """The table's symbology (None for a table that mixes geometry dimensions)."""
    if table.dimension is None:
        return None
    values = {c: table.frame[c].tolist() for c in table.frame.columns}
    return layer_style(table.layer.config, _STYLE_GEOMETRY[table.dimension], values)


def _write_layer_styles(path: Path, written: list[Table]) -> None:
    """The ``layer_styles`` table as QGIS creates it, one default style per table."""
    rows = []
    for table in written:
        style = table_style(table)
        if style is None:
            continue
        rows.append(
            {
                "f_table_catalog": "",
                "f_table_schema": "",
                "f_table_name": table.name,
                "f_geometry_column": "geom",
                "styleName": table.name,
                "styleQML": to_qml(style),
                "styleSLD": to_sld(style),
                "useAsDefault": True,
                "description": f"{table.layer.config.title}: the style of the web map",
                "owner": "",
                "ui": None,
                "update_time": pd.Timestamp(FIXED_TIME),
            }
        )
    types = {"useAsDefault": pa.bool_(), "update_time": pa.timestamp("ms", tz="UTC")}
    frame = pd.DataFrame(
        {
            column: pd.array(
                [row[column] for row in rows], dtype=pd.ArrowDtype(types.get(column, pa.string()))
            )
            for column in rows[0]
        }
    )
    pyogrio.write_dataframe(
        frame,
        path,
        layer="layer_styles",
        driver="GPKG",
        append=True,
        use_arrow=True,
        layer_options={"FID": "id"},
    )


# --- GeoJSON, FlatGeobuf, GeoParquet ------------------------------------------------------


def write_geojson(story: Story, folder: Path) -> list[Path]:
    """RFC 7946 GeoJSON: lon/lat, no crs member, counter-clockwise exterior rings.

    RFC7946=YES would round coordinates to 7 decimals; 15 keeps them within 1e-15 degrees.
    """
    return [
        _write_each(
            table,
            folder / f"{table.name}.geojson",
            "GeoJSON",
            RFC7946="YES",
            COORDINATE_PRECISION=15,
        )
        for table in all_tables(story)
    ]


def write_flatgeobuf(story: Story, folder: Path) -> list[Path]:
    """FlatGeobuf with a spatial index (it has no Date type: dates become midnight DateTimes)."""
    return [
        _write_each(
            table,
            folder / f"{table.name}.fgb",
            "FlatGeobuf",
            TITLE=table.layer.config.title,
            DESCRIPTION=_layer_description(table.layer),
        )
        for table in all_tables(story, promote=True)
    ]


def _write_each(table: Table, path: Path, driver: str, **layer_options: Any) -> Path:
    path.unlink(missing_ok=True)
    _write(table, path, driver, layer_options=layer_options)
    return path


def write_geoparquet(story: Story, folder: Path) -> list[Path]:
    """GeoParquet 1.0 (WKB geometries, the CRS in the ``geo`` metadata)."""
    written = []
    for table in all_tables(story):
        path = folder / f"{table.name}.parquet"
        table.frame.to_parquet(path, index=False, schema_version="1.0.0")
        written.append(path)
    return written


# --- CSV ----------------------------------------------------------------------------------


def write_csv(story: Story, folder: Path) -> list[Path]:
    """One CSV per point layer: lon, lat, then the attributes; one row per point."""
    written = []
    for table in all_tables(story):
        if table.dimension != "points":
            continue
        path = folder / f"{table.name}.csv"
        path.write_text(_csv_text(table.frame), encoding="utf-8", newline="")
        written.append(path)
    return written


def _csv_text(frame: gpd.GeoDataFrame) -> str:
    points = frame.explode(index_parts=False)  # a MultiPoint gives one row per point
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["lon", "lat", *(c for c in frame.columns if c != frame.geometry.name)])
    for point, record in zip(points.geometry, _records(points), strict=True):
        writer.writerow([_text(point.x), _text(point.y), *map(_text, record.values())])
    return out.getvalue()


def _text(value: Any) -> str:
    """A value as text: ISO dates, shortest exact floats, empty when missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)


# --- KML ----------------------------------------------------------------------------------

_KML = "http://www.opengis.net/kml/2.2"
ET.register_namespace("", _KML)
KML_ICON = "https://maps.google.com/mapfiles/kml/shapes/placemark_circle.png"
KML_NAME_FIELDS = ("title", "name", "site", "id")  # placemark name when no label is set
KML_TIME_FIELDS = {"events": ("date", "end_date"), "bases": ("start_date", "end_date")}
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
        style = table_style(table)
        _kml_styles(document, table, style)
        _kml_folder(document, table, style)
    path = folder / f"{story.config.name}.kml"
    ET.indent(root)
    path.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")
    return [path]


def _kml_tag(tag: str) -> str:
    return f"{{{_KML}}}{tag}"


def _kml(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, _kml_tag(tag), attributes)


def _kml_style_id(table: Table, index: int | None) -> str:
    return table.name if index is None else f"{table.name}-{index}"


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
            _kml(_kml(icon_style, "Icon"), "href").text = KML_ICON
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


def _kml_folder(document: ET.Element, table: Table, style: LayerStyle | None) -> None:
    config = table.layer.config
    folder = _kml(document, "Folder", id=table.name)
    _kml(folder, "name").text = table.title
    _kml(folder, "description").text = _layer_description(table.layer)
    for geometry, record in zip(table.frame.geometry, _records(table.frame), strict=True):
        placemark = _kml(folder, "Placemark")
        _kml(placemark, "name").text = _placemark_name(config.label, record)
        _kml(placemark, "description").text = _placemark_html(record, table.layer)
        _kml_time(placemark, record, KML_TIME_FIELDS.get(config.kind))
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
            _kml(_kml(data, "Data", name=key), "value").text = _text(value)
        _kml_geometry(placemark, geometry)


def _placemark_name(label: str | None, record: dict[str, Any]) -> str:
    for field in (label, *KML_NAME_FIELDS):
        if field and record.get(field) is not None:
            return _text(record[field])
    return ""


def _placemark_html(record: dict[str, Any], layer: Layer) -> str:
    """The balloon: a table of the attributes and a link to the source, every value escaped."""
    rows = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(_text(value))}</td></tr>"
        for key, value in record.items()
        if value is not None and key not in KML_SOURCE_FIELDS
    )
    name = record.get("source_name") or layer.config.source_name
    url = record.get("source_url") or layer.config.source_url
    link = ""
    if url:
        link = (
            f'<p>Source: <a href="{html.escape(url, quote=True)}">'
            f"{html.escape(name or url)}</a></p>"
        )
    elif name:
        link = f"<p>Source: {html.escape(name)}</p>"
    return f"<table>{rows}</table>{link}"


def _kml_time(
    placemark: ET.Element, record: dict[str, Any], fields: tuple[str, str] | None
) -> None:
    """A TimeStamp or TimeSpan, so Google Earth's time slider can show the layer over time."""
    if fields is None or record.get(fields[0]) is None:
        return
    begin, end = (record.get(f) for f in fields)
    if end is None:
        _kml(_kml(placemark, "TimeStamp"), "when").text = _text(begin)
        return
    span = _kml(placemark, "TimeSpan")
    _kml(span, "begin").text = _text(begin)
    _kml(span, "end").text = _text(end)


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


# --- Shapefile ----------------------------------------------------------------------------

SHAPEFILE_NAME_BYTES = 10  # dBase field names
SHAPEFILE_TEXT_BYTES = 254  # dBase text values
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
SHAPEFILE_NOTES = "fields.txt"


def write_shapefile(story: Story, folder: Path) -> list[Path]:
    """One zip per layer: the shapefile(s), and fields.txt mapping long names to short ones."""
    written = []
    for layer in story.layers:
        path = folder / f"{layer.name}.shp.zip"
        with tempfile.TemporaryDirectory() as tmp:
            files: dict[str, bytes] = {}
            notes = []
            for table in tables(layer, split=True, promote=True):
                files.update(_shapefile_files(table, Path(tmp)))
                notes.append(_shapefile_notes(table))
            files[SHAPEFILE_NOTES] = _shapefile_readme(layer, notes).encode("utf-8")
        _write_zip(path, files)
        written.append(path)
    return written


def shapefile_field_names(columns: Sequence[str]) -> dict[str, str]:
    """Original name -> a unique dBase name of at most 10 bytes (case-insensitively unique)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        name = _fit_bytes(column, SHAPEFILE_NAME_BYTES)
        counter = 1
        while name.lower() in taken:
            suffix = f"_{counter}"
            name = _fit_bytes(column, SHAPEFILE_NAME_BYTES - len(suffix)) + suffix
            counter += 1
        names[column] = name
        taken.add(name.lower())
    return names


def _fit_bytes(text: str, limit: int) -> str:
    """The longest start of ``text`` whose UTF-8 form fits ``limit`` bytes."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _shapefile_files(table: Table, folder: Path) -> dict[str, bytes]:
    frame = table.frame.rename(columns=shapefile_field_names(_attribute_columns(table.frame)))
    for column in frame.columns:
        if frame[column].dtype == pd.ArrowDtype(pa.string()):
            frame[column] = (
                frame[column].map(_shapefile_text, na_action="ignore").astype(frame[column].dtype)
            )
    _write(
        Table(table.name, table.layer, frame, table.geometry_type),
        folder / f"{table.name}.shp",
        "ESRI Shapefile",
        layer_options={"ENCODING": "UTF-8", "DBF_DATE_LAST_UPDATE": FIXED_DATE, "RESIZE": "YES"},
    )
    return {
        f"{table.name}{ext}": (folder / f"{table.name}{ext}").read_bytes()
        for ext in SHAPEFILE_PARTS
    }


def _shapefile_text(value: str) -> str:
    return _fit_bytes(value, SHAPEFILE_TEXT_BYTES)


def _attribute_columns(frame: gpd.GeoDataFrame) -> list[str]:
    return [c for c in frame.columns if c != frame.geometry.name]


def _shapefile_notes(table: Table) -> str:
    columns = _attribute_columns(table.frame)
    lines = [f"{table.name}.shp ({table.geometry_type}, {len(table.frame)} features)"]
    for original, short in shapefile_field_names(columns).items():
        lines.append(f"  {original} -> {short}" if original != short else f"  {original}")
    cut = [
        c
        for c in columns
        if any(len(str(v).encode("utf-8")) > SHAPEFILE_TEXT_BYTES for v in table.frame[c].dropna())
    ]
    if cut:
        lines.append(f"  cut to {SHAPEFILE_TEXT_BYTES} bytes (dBase limit): {', '.join(cut)}")
    return "\n".join(lines)


def _shapefile_readme(layer: Layer, notes: list[str]) -> str:
    return (
        f"{layer.config.title} ({layer.name}) as ESRI Shapefile\n\n"
        "Text is UTF-8 (see the .cpg file); coordinates are lon/lat WGS 84 (EPSG:4326).\n"
        f"dBase field names hold at most {SHAPEFILE_NAME_BYTES} bytes: each field is listed as\n"
        "original name -> shapefile name where the two differ.\n"
        "A shapefile holds one kind of geometry: a layer that mixes points, lines and polygons\n"
        f"is split into {layer.name}_points, {layer.name}_lines and {layer.name}_polygons.\n\n"
        f"Sources: {'; '.join(sources(layer)) or 'not stated'}\nLicence: {_licence(layer)}\n\n"
        + "\n\n".join(notes)
        + "\n"
    )


def _write_zip(path: Path, files: dict[str, bytes]) -> None:
    """A zip whose bytes depend only on its contents (fixed times and permissions, sorted)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])


Writer = Callable[[Story, Path], list[Path]]
WRITERS: dict[str, Writer] = {
    "geopackage": write_geopackage,
    "geojson": write_geojson,
    "csv": write_csv,
    "kml": write_kml,
    "shapefile": write_shapefile,
    "flatgeobuf": write_flatgeobuf,
    "geoparquet": write_geoparquet,
}
