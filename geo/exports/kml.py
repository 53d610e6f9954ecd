"""KML for Google Earth: styles per category, placemark balloons, and time for the slider.

Balloons link only http(s) URLs (:func:`geo.text.is_link`, the web map's rule): any other
source URL, ``javascript:`` included, is shown as text.

Placemarks are styled as the scene draws them: by category, or (a scene whose features have
coloured parts, a site's operators) by who each row is (geo.exports.qgis.layer_style). Rows
that stand for a whole area (an event placed only to its country, which the web page lists on
the country's name) keep their data but go in a folder of their own, "Niger (country-wide)",
their balloon says so, and their point (the country's reference point, not a place) is not
drawn.

The document is written as text, a column at a time (Arrow's string kernels escape and join
whole columns): an element tree of 100,000 placemarks took minutes to build and write.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from geo import statuses
from geo.combine import Story
from geo.exports.qgis import LayerStyle, rgba
from geo.exports.tables import (
    STORY_FILES,
    Table,
    all_tables,
    attribute_columns,
    column_values,
    field_names,
    layer_description,
    scene_of,
    table_style,
    text,
)
from geo.load import Layer
from geo.scene import LayerScene
from geo.text import is_link

_KML = "http://www.opengis.net/kml/2.2"
KML_NAME_FIELDS = ("title", "name", "site", "id")  # placemark name when no label is set
KML_SOURCE_FIELDS = ("source_name", "source_url")
AREA_FOLDER = "{area} (country-wide)"  # the folder of the rows that stand for a whole area
AREA_NOTE = (
    "Location: the whole of {area}. This is placed only to the country, not to a place in it: "
    "its point is the country's reference point, so it is not drawn on the map."
)


def write_kml(story: Story, folder: Path) -> list[Path]:
    """One KML for Google Earth: a Folder per layer, a Style per layer and category."""
    out: list[str | bytes] = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        f'<kml xmlns="{_KML}">\n<Document>\n',
        _tag("name", story.config.title, 1),
        _tag(
            "description",
            "\n".join(t for t in (story.config.description, story.config.credit) if t),
            1,
        ),
    ]
    for table in all_tables(story, split=True):
        scene = scene_of(story, table.layer)
        style = table_style(table, scene)
        out += _kml_styles(table, style)
        out += _kml_folder(table, style, scene)
    out.append("</Document>\n</kml>\n")
    path = folder / f"{story.config.name}{STORY_FILES['kml']}"
    with path.open("wb") as file:
        for part in out:
            file.write(part.encode("utf-8") if isinstance(part, str) else part)
    return [path]


def _escape(value: str) -> str:
    """Text as XML character data or an attribute value (in double quotes)."""
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _tag(tag: str, value: str, depth: int) -> str:
    """``<tag>value</tag>`` on a line of its own, indented; ``<tag />`` when empty."""
    indent = "  " * depth
    if not value:
        return f"{indent}<{tag} />\n"
    return f"{indent}<{tag}>{_escape(value)}</{tag}>\n"


def _kml_style_id(table: Table, index: int | str | None) -> str:
    """``<table>~style`` or ``<table>~style~<n>``: layer names have no '~', so no style id can
    equal another or a Folder's id (the table name)."""
    return f"{table.name}~style" if index is None else f"{table.name}~style~{index}"


HIDDEN_STYLE = "hidden"  # the style of rows not drawn: no icon, no label


def _kml_styles(table: Table, style: LayerStyle | None) -> list[str]:
    if style is None:
        return []
    out = []
    symbols = [(None, style.symbol), *enumerate(c.symbol for c in style.categories)]
    for index, symbol in symbols:
        out.append(f'  <Style id="{_escape(_kml_style_id(table, index))}">\n')
        if style.geometry == "point":
            out.append("    <IconStyle>\n")
            out.append(_tag("color", _kml_colour(symbol.fill, 1.0), 3))
            out.append(_tag("scale", f"{symbol.radius / 7:.2g}", 3))
            # No <Icon>: the viewer's own marker, tinted; nothing is fetched from a server.
            out.append("    </IconStyle>\n")
        out.append("    <LineStyle>\n")
        out.append(_tag("color", _kml_colour(symbol.stroke, symbol.stroke_opacity), 3))
        out.append(_tag("width", f"{symbol.stroke_width:g}", 3))
        out.append("    </LineStyle>\n")
        if style.geometry == "polygon":
            out.append("    <PolyStyle>\n")
            out.append(_tag("color", _kml_colour(symbol.fill, symbol.fill_opacity), 3))
            out.append(_tag("fill", "1" if symbol.fill and symbol.fill_opacity else "0", 3))
            out.append("    </PolyStyle>\n")
        out.append("  </Style>\n")
    if style.hide is not None:
        out.append(f'  <Style id="{_escape(_kml_style_id(table, HIDDEN_STYLE))}">\n')
        out.append("    <IconStyle>\n      <scale>0</scale>\n    </IconStyle>\n")
        out.append("    <LabelStyle>\n      <scale>0</scale>\n    </LabelStyle>\n")
        out.append("  </Style>\n")
    return out


def _kml_colour(colour: str | None, opacity: float) -> str:
    """KML writes colours as aabbggrr."""
    red, green, blue, alpha = rgba(colour, opacity)
    return f"{alpha:02x}{blue:02x}{green:02x}{red:02x}"


def _kml_folder(table: Table, style: LayerStyle | None, scene: LayerScene) -> list[str | bytes]:
    """The layer's Folder: its placemarks, then a Folder per area for those standing for a
    whole area."""
    config = table.layer.config
    label = field_names(table.layer).get(config.label, config.label)  # as the table names it
    columns = _columns(table.frame)
    times = (scene.time[0], scene.time[2]) if scene.time else None
    areas = _areas(table, style, scene, columns)
    notes = [
        "" if area is None else f"<p><b>{html.escape(AREA_NOTE.format(area=area))}</b></p>"
        for area in areas
    ]
    hidden = "#" + _kml_style_id(table, HIDDEN_STYLE)
    styles = _style_urls(table, style, columns, len(areas))
    styles = [s if area is None else hidden for s, area in zip(styles, areas, strict=True)]
    placemarks = _placemarks(table, columns, label, times, styles, notes)
    out: list[str | bytes] = [
        f'  <Folder id="{_escape(table.name)}">\n',
        _tag("name", table.title, 2),
        _tag("description", layer_description(table.layer), 2),
        _utf8(placemarks, [area is None for area in areas]),
    ]
    for area in dict.fromkeys(a for a in areas if a is not None):
        out.append("    <Folder>\n")
        out.append(_tag("name", AREA_FOLDER.format(area=area), 3))
        out.append(_tag("description", AREA_NOTE.format(area=area), 3))
        out.append(_utf8(placemarks, [a == area for a in areas]))
        out.append("    </Folder>\n")
    out.append("  </Folder>\n")
    return out


class _Column:
    """A table column as the KML writes it: each value as Python (read when asked), and as
    text (:func:`geo.exports.tables.text`; None where the value is missing), in row order."""

    def __init__(self, series: pd.Series) -> None:
        self._series = series

    @functools.cached_property
    def values(self) -> list[Any]:
        return column_values(self._series)

    @functools.cached_property
    def texts(self) -> pa.Array:
        """Arrow strings and dates as they are (a date's text is its ISO form, as ``text``
        writes it); any other type through ``text``, a value at a time."""
        dtype = self._series.dtype
        if isinstance(dtype, (pd.ArrowDtype, pd.StringDtype)):
            array = pa.array(self._series)
            if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
                return array.cast(pa.string())
            if pa.types.is_date32(array.type):
                return array.cast(pa.string())
        return pa.array([None if v is None else text(v) for v in self.values], pa.string())


def _columns(frame: Any) -> dict[str, _Column]:
    return {c: _Column(frame[c]) for c in attribute_columns(frame)}


def _style_urls(
    table: Table, style: LayerStyle | None, columns: dict[str, _Column], count: int
) -> list[str]:
    """Each row's ``#style-id``: its category's, else the layer's ('' without a style)."""
    if style is None:
        return [""] * count
    field = style.field
    if field is None or field not in columns:
        return ["#" + _kml_style_id(table, None)] * count
    index = {c.value: i for i, c in enumerate(style.categories)}
    ids = {i: "#" + _kml_style_id(table, i) for i in (None, *index.values())}
    return [ids[index.get(v)] for v in columns[field].values]


def _areas(
    table: Table, style: LayerStyle | None, scene: LayerScene, columns: dict[str, _Column]
) -> list[str | None]:
    """The area each row stands for (the scene's, by the row's id), None for a point."""
    count = len(table.frame)
    if style is None or style.hide is None or style.hide.field not in columns:
        return [None] * count
    hidden = style.hide.matches(columns[style.hide.field].values)
    by_id: dict[Any, str] = {}
    id_field = scene.id_field
    if id_field is not None and id_field in scene.frame.columns:
        ids = scene.frame[id_field].tolist()
        by_id = {k: v for k, v in zip(ids, statuses.area_values(scene), strict=True) if v}
    exported = field_names(table.layer).get(id_field, id_field) if id_field else None
    row_ids = columns[exported].values if exported in columns else [None] * count
    return [
        (by_id.get(i) or "the area") if h else None for i, h in zip(row_ids, hidden, strict=True)
    ]


def _placemarks(
    table: Table,
    columns: dict[str, _Column],
    label: str | None,
    times: tuple[str, str | None] | None,
    styles: list[str],
    notes: list[str],
) -> pa.Array:
    """Every row's Placemark, built a column at a time (Arrow's string kernels escape and
    join whole columns at once)."""
    count = len(table.frame)
    if count == 0:
        return pa.array([], pa.string())
    names = [columns[f].texts for f in (label, *KML_NAME_FIELDS) if f and f in columns]
    name = pc.coalesce(*names, "") if names else pa.array([""] * count, pa.string())
    parts: list[Any] = [
        "    <Placemark>\n      <name>",
        _xml(name),
        "</name>\n      <description>",
        _xml(_balloons(columns, table.layer, notes)),
        "</description>\n",
        pa.array(_times(columns, times, count), pa.string()),
        pa.array(
            [f"      <styleUrl>{_escape(s)}</styleUrl>\n" if s else "" for s in styles],
            pa.string(),
        ),
        "      <ExtendedData>\n",
    ]
    for key, column in columns.items():
        head = f'        <Data name="{_escape(key)}">\n'
        value = pc.binary_join_element_wise(
            "          <value>", _xml(column.texts), "</value>\n", ""
        )
        empty = pc.equal(pc.fill_null(column.texts, ""), "")
        parts += [head, pc.if_else(empty, "          <value />\n", value), "        </Data>\n"]
    parts.append("      </ExtendedData>\n")
    parts.append(pa.array(_geometries(table.frame.geometry.values), pa.string()))
    parts.append("    </Placemark>\n")
    # an empty name is written <name></name>, which reads back the same as <name />
    return pc.binary_join_element_wise(*parts, "")


def _utf8(strings: pa.Array, keep: list[bool]) -> bytes:
    """The strings kept, one after another, as UTF-8: Arrow's buffer of them as it is."""
    if not len(strings):
        return b""
    kept = pc.filter(strings, pa.array(keep, pa.bool_())).cast(pa.large_string())
    if not len(kept):
        return b""
    offsets = np.frombuffer(kept.buffers()[1], dtype=np.int64)
    first, last = int(offsets[kept.offset]), int(offsets[kept.offset + len(kept)])
    return kept.buffers()[2][first:last].to_pybytes()


def _xml(values: pa.Array) -> pa.Array:
    """Text as XML character data, missing as empty."""
    values = pc.fill_null(values, "")
    for plain, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        values = pc.replace_substring(values, plain, escaped)
    return values


def _html(values: pa.Array) -> pa.Array:
    """Text as HTML, as :func:`html.escape` writes it (quotes too), missing as empty."""
    values = pc.fill_null(values, "")
    for plain, escaped in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ('"', "&quot;"),
        ("'", "&#x27;"),
    ):
        values = pc.replace_substring(values, plain, escaped)
    return values


def _balloons(columns: dict[str, _Column], layer: Layer, notes: list[str]) -> pa.Array:
    """The balloons: a table of the attributes and the source, every value escaped; the
    source is a link only for an http(s) URL."""
    cells: list[Any] = [pa.array(notes, pa.string()), "<table>"]
    for key, column in columns.items():
        if key in KML_SOURCE_FIELDS:
            continue
        cell = pc.binary_join_element_wise(
            f"<tr><th>{html.escape(key)}</th><td>", _html(column.texts), "</td></tr>", ""
        )
        cells.append(pc.if_else(pc.is_null(column.texts), "", cell))
    cells.append("</table>")
    cells.append(_sources(columns, layer, len(notes)))
    return pc.binary_join_element_wise(*cells, "")


# A URL that is certainly an http(s) link (geo.text.is_link): scheme, '//', a host, and no
# space or control character anywhere; any other URL is checked by is_link itself.
PLAIN_LINK = r"^[hH][tT][tT][pP][sS]?://[A-Za-z0-9.-]+([/?#:][^\x00-\x20\x7f]*)?$"


def _sources(columns: dict[str, _Column], layer: Layer, count: int) -> pa.Array:
    """Each row's 'Source: name', a link only for an http(s) URL; the layer's source where
    the row names none. Plain links are written a column at a time, the rest one by one."""
    blank = pa.nulls(count, pa.string())

    def given(name: str, default: str | None) -> pa.Array:
        values = columns[name].texts if name in columns else blank
        values = pc.if_else(pc.equal(pc.fill_null(values, ""), ""), None, values)
        return pc.fill_null(values, default) if default else values

    names = given("source_name", layer.config.source_name)
    urls = given("source_url", layer.config.source_url)
    plain = pc.fill_null(pc.match_substring_regex(urls, PLAIN_LINK), False)
    label = _html(pc.coalesce(names, urls, ""))
    links = pc.binary_join_element_wise(
        '<p>Source: <a href="', _html(urls), '">', label, "</a></p>", ""
    )
    out = pc.if_else(plain, links, "").to_pylist()
    name_values, url_values = names.to_pylist(), urls.to_pylist()
    for i in np.flatnonzero(~plain.to_numpy(zero_copy_only=False)).tolist():
        out[i] = _source_html(name_values[i], url_values[i], layer)
    return pa.array(out, pa.string())


@functools.lru_cache(maxsize=4096)
def _source_link(url: str, label: str) -> str:
    if is_link(url):
        return f'<p>Source: <a href="{html.escape(url.strip(), quote=True)}">{label}</a></p>'
    return ""


def _source_html(name: Any, url: Any, layer: Layer) -> str:
    """'Source: name', a link only for an http(s) URL (the layer's source when the row has
    none)."""
    name = name or layer.config.source_name
    url = url or layer.config.source_url
    label = html.escape(text(name or url))
    if isinstance(url, str):
        link = _source_link(url, label)
        if link:
            return link
    return f"<p>Source: {label}</p>" if label else ""


def _times(
    columns: dict[str, _Column], fields: tuple[str, str | None] | None, count: int
) -> list[str]:
    """A TimeStamp or TimeSpan per row, so Google Earth's time slider can show the layer over
    time ('' for a row without a start)."""
    if fields is None or fields[0] not in columns:
        return [""] * count
    begins = columns[fields[0]].values
    ends = columns[fields[1]].values if fields[1] in columns else [None] * count
    return [
        ""
        if begin is None
        else f"      <TimeStamp>\n{_tag('when', text(begin), 4)}      </TimeStamp>\n"
        if end is None
        else (
            f"      <TimeSpan>\n{_tag('begin', text(begin), 4)}{_tag('end', text(end), 4)}"
            "      </TimeSpan>\n"
        )
        for begin, end in zip(begins, ends, strict=True)
    ]


# --- geometry ---------------------------------------------------------------------------------


def _geometries(geoms: np.ndarray) -> list[str]:
    """Each geometry as KML, the points of a layer all at once (one coordinate array)."""
    out = [""] * len(geoms)
    kinds = shapely.get_type_id(geoms)
    points = np.flatnonzero(kinds == 0)
    if len(points):
        xy = shapely.get_coordinates(geoms[points])  # an empty point has no coordinates
        has = ~shapely.is_empty(geoms[points])
        for i, (x, y) in zip(points[has], xy.tolist(), strict=True):
            out[i] = (
                f"      <Point>\n        <coordinates>{x!r},{y!r}</coordinates>\n      </Point>\n"
            )
    for i in np.flatnonzero(kinds != 0):
        out[i] = "".join(_geometry(geoms[i], 3))
    return out


def _geometry(geometry: Any, depth: int) -> Iterator[str]:
    if geometry is None:
        return
    indent = "  " * depth
    kind = geometry.geom_type
    if kind.startswith("Multi") or kind == "GeometryCollection":
        yield f"{indent}<MultiGeometry>\n"
        for part in geometry.geoms:
            yield from _geometry(part, depth + 1)
        yield f"{indent}</MultiGeometry>\n"
    elif kind in ("Point", "LineString"):
        yield f"{indent}<{kind}>\n"
        yield _tag("coordinates", _kml_coordinates(geometry.coords), depth + 1)
        yield f"{indent}</{kind}>\n"
    else:
        yield f"{indent}<Polygon>\n"
        for boundary, ring in [("outerBoundaryIs", geometry.exterior)] + [
            ("innerBoundaryIs", r) for r in geometry.interiors
        ]:
            yield f"{indent}  <{boundary}>\n{indent}    <LinearRing>\n"
            yield _tag("coordinates", _kml_coordinates(ring.coords), depth + 3)
            yield f"{indent}    </LinearRing>\n{indent}  </{boundary}>\n"
        yield f"{indent}</Polygon>\n"


def _kml_coordinates(coords: Any) -> str:
    return " ".join(f"{x!r},{y!r}" for x, y, *_ in coords)
