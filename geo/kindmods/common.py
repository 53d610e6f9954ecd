"""What several kinds build their scenes from: symbols from a layer's style, categories,
labels, and the popup rows every sourced fact ends with."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from geo.kinds import PALETTE, kinds
from geo.load import Layer
from geo.scene import Categories, Family, Label, LegendEntry, Shape, Symbol
from geo.text import missing

FAMILY_SWATCH: dict[Family, str] = {"point": "dot", "line": "line", "polygon": "fill"}


def records(frame: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """The rows as dicts, without the geometry: the values ``to_dict("records")`` gives, a
    column at a time (row by row, it took seconds for 100,000 events)."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    values = [frame[c].tolist() for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def each_record(frame: gpd.GeoDataFrame) -> Iterator[dict[str, Any]]:
    """:func:`records` one row at a time: the dicts of every row are never all held at once."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    values = [frame[c].tolist() for c in columns]
    for row in zip(*values, strict=True):
        yield dict(zip(columns, row, strict=True))


def family(frame: gpd.GeoDataFrame) -> Family:
    """'point', 'line' or 'polygon' (the last also for a mix of dimensions)."""
    types = set(frame.geom_type.unique())
    if types <= {"Point", "MultiPoint"}:
        return "point"
    if types <= {"LineString", "MultiLineString"}:
        return "line"
    return "polygon"


def symbol(style: Mapping[str, Any], fam: Family, shape: Shape = "circle") -> Symbol:
    """A layer's symbol from its merged style (kinds.toml, then map.toml)."""
    stroke = style.get("color", "#000000")
    fill = style.get("fill_color")
    return Symbol(
        stroke=stroke,
        stroke_width=float(style.get("weight", 1.0)),
        stroke_opacity=float(style.get("opacity", 1.0)),
        fill=(fill or stroke) if fam == "point" else fill,
        fill_opacity=float(style.get("fill_opacity", 0.0 if fam == "line" else 0.2)),
        dash=tuple(float(d) for d in str(style.get("dash_array", "")).split()),
        shape=shape,
        radius=float(style.get("radius", 6.0)),
    )


def category_colours(configured: Mapping[str, str], values: Iterable[Any]) -> dict[str, str]:
    """Colour of each category value: map.toml's colour, else the next palette colour that
    map.toml does not use, values in sorted order."""
    spare = itertools.cycle([c for c in PALETTE if c not in configured.values()] or PALETTE)
    present = sorted({str(v) for v in values if not missing(v)})
    return {value: configured.get(value) or next(spare) for value in present}


def categories(layer: Layer, fam: Family, base: Symbol) -> Categories | None:
    """The layer's ``category_field`` colouring, for any kind that has one."""
    field = layer.config.category_field
    if not field or field not in layer.frame:
        return None
    column = layer.frame[field]
    # Text columns: each distinct value once (100,000 events have a few categories).
    values = column.unique() if isinstance(column.dtype, pd.StringDtype) else column
    colours = category_colours(layer.config.categories, values)
    return Categories(field, {v: base.coloured(c, fam) for v, c in colours.items()})


def category_legend(cats: Categories, swatch: str) -> list[LegendEntry]:
    return [
        LegendEntry(swatch, value, s.stroke if swatch == "line" else s.fill, s.stroke)
        for value, s in cats.symbols.items()
    ]


def point_labels(
    frame: gpd.GeoDataFrame,
    text_field: str | None,
    priority: Callable[[Mapping[str, Any]], int],
    role: str,
) -> tuple[Label, ...]:
    """A label at each feature (a point, or inside a line or polygon)."""
    if not text_field or text_field not in frame:
        return ()
    out = []
    for record, geom in zip(records(frame), frame.geometry, strict=True):
        text = record.get(text_field)
        if missing(text) or str(text) == "":
            continue
        at = geom if geom.geom_type == "Point" else shapely.point_on_surface(geom)
        rank = record.get("rank")
        out.append(
            Label(
                str(text),
                round(at.x, 5),
                round(at.y, 5),
                priority(record),
                role,
                "" if missing(rank) else str(rank),
            )
        )
    return tuple(out)


def source_row(name: str = "source_name", url: str = "source_url") -> dict[str, Any]:
    """The popup row that ends every sourced fact: 'Source: <a>name</a>'."""
    return {"as": "link", "field": name, "href": url, "label": "Source: ", "class": "gs-source"}


def table_rows(fields: Iterable[str], labels: Iterable[str] | None = None) -> dict[str, Any]:
    """A plain popup: the properties as a table, each under its ``labels`` name (default: the
    property's own), http(s) values as links."""
    fields = list(fields)
    row: dict[str, Any] = {"as": "table", "fields": fields}
    if labels is not None:
        row["labels"] = list(labels)
    return row


def popup_fields(layer: Layer, columns: Iterable[str]) -> list[str]:
    """The properties a plain popup lists: map.toml's ``popup``, else every column but the
    technical ones (those kinds.toml marks ``popup = false``, such as codes)."""
    if layer.config.popup:
        return list(layer.config.popup)
    specs = kinds()[layer.config.kind].fields
    return [c for c in columns if c not in specs or specs[c].popup]


def field_label(layer: Layer, name: str, language: str = "en") -> str:
    """A property's name in popups: map.toml's ``field_labels``, else the kind's ``label`` for
    it in kinds.toml, else the property's name made readable (:func:`readable`)."""
    if name in layer.config.field_labels:
        return layer.config.field_labels[name]
    spec = kinds()[layer.config.kind].fields.get(name)
    return spec.label if spec and spec.label else readable(name, language)


ACRONYMS = {"id": "ID", "iso": "ISO", "url": "URL", "gdp": "GDP", "utc": "UTC"}


def readable(name: str, language: str = "en") -> str:
    """'type_en' -> 'Type' on an English page (the page's language is implied), 'iso_a3' ->
    'ISO a3', 'population' -> 'Population'; a name with no letters or digits stays as it is."""
    words = [w for w in re.split(r"[_\s.\-]+", name) if w]
    if len(words) > 1 and words[-1].lower() == language.split("-")[0].lower():
        words = words[:-1]
    words = [ACRONYMS.get(w.lower(), w) for w in words]
    if not words:
        return name
    text = " ".join(words)
    return text[0].upper() + text[1:]
