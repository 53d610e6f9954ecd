"""What every export writer shares: the layer as typed tables, its metadata, and GDAL calls.

Every writer reads ``layer.frame`` (never the simplified ``layer.web``) through
:func:`typed_frame`, so each format declares the same field types. The fixed times below keep
every file reproducible: the same story gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
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
from geo.styles import LayerStyle, layer_style

# GDAL stamps files with OGR_CURRENT_DATE instead of the clock.
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


def records(frame: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python values, missing values as None."""
    attributes = frame.drop(columns=frame.geometry.name)
    return [
        {k: (v if _present(v) else None) for k, v in row.items()}
        for row in attributes.to_dict("records")
    ]


def text(value: Any) -> str:
    """A value as text: ISO dates, shortest exact floats, empty when missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)


def table_style(table: Table) -> LayerStyle | None:
    """The table's symbology (None for a table that mixes geometry dimensions)."""
    if table.dimension is None:
        return None
    values = {c: table.frame[c].tolist() for c in table.frame.columns}
    return layer_style(table.layer.config, _STYLE_GEOMETRY[table.dimension], values)


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


def layer_description(layer: Layer) -> str:
    found = sources(layer)
    return (
        f"{layer.config.title}. Sources: {'; '.join(found) or 'not stated'}. "
        f"Licence: {licence(layer)}."
    )


def licence(layer: Layer) -> str:
    return layer.config.licence or LICENCE


def layer_metadata(story: Story, layer: Layer) -> dict[str, str]:
    """Title, sources and licence of a layer, with the story's title and credit.

    Kept per layer: GDAL (3.12) leaves a ``.gpkg.aux.xml`` beside any GeoPackage that has
    dataset-level metadata each time it reads it.
    """
    return {
        "TITLE": layer.config.title,
        "KIND": layer.config.kind,
        "SOURCES": "; ".join(sources(layer)) or "not stated",
        "LICENCE": licence(layer),
        "STORY": story.config.title,
        "CREDIT": story.config.credit,
    }


# --- GDAL ---------------------------------------------------------------------------------


@contextmanager
def gdal_config(**options: str) -> Iterator[None]:
    """Set GDAL configuration options for the block and restore the previous values after."""
    previous = {key: pyogrio.get_gdal_config_option(key) for key in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(previous)


def write(table: Table, path: Path, driver: str, **options: Any) -> None:
    pyogrio.write_dataframe(
        table.frame,
        path,
        layer=table.name,
        driver=driver,
        geometry_type=table.geometry_type,
        use_arrow=True,
        **options,
    )
