"""What every export writer shares: the layer as typed tables, its metadata, and GDAL calls.

Every writer reads ``layer.frame`` (never the simplified ``layer.web``) through
:func:`typed_frame`, so each format declares the same field types and the same field names.
The fixed times below keep every file reproducible: the same story gives the same bytes.

Field names. GeoPackage, Shapefile and most GIS tools ignore the case of field names, and some
names are taken by the formats themselves, so every format gets the same set of names, unique
ignoring case (:func:`field_names`):

- a property keeps its name, unless it is blank (``""``, ``" "``: it becomes ``unnamed``), is
  ``geometry`` in any case (geopandas and GeoParquet readers name the geometry column so and
  would drop it; GDAL crashes writing a field named like the geometry column ignoring case),
  is ``OGC_FID`` (GDAL writes a field of that name as the feature id, losing it), or equals
  another property's name ignoring case (``name`` beside ``Name``: the first in the layer's
  column order keeps it);
- such a property gets ``_`` in front of its name, repeated until the name is free
  (``_geometry``, ``_OGC_FID``, ``_name``, ``_unnamed``);
- the columns a format adds follow the same rule: the GeoPackage's ``fid`` and ``geom``, the
  CSV's ``lon`` and ``lat`` become ``_fid``, ``_geom``, ``_lon`` and ``_lat`` when a property
  takes the name. A property ``fid`` is an ordinary field, whatever its values.

Every renamed property is listed in the layer's description (GeoPackage, FlatGeobuf, KML) and
in the Shapefile's ``fields.txt``. Geometries are written 2D (x, y), as the map draws them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import shapely

from geo.combine import Story
from geo.dates import as_written, span
from geo.exports.qgis import LayerStyle, layer_style
from geo.kinds import FieldSpec
from geo.load import Layer
from geo.scene import LayerScene

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
_DIMENSION_NAMES = {t: names[0] for t, names in _DIMENSIONS.items()}
_STYLE_GEOMETRY = {"points": "point", "lines": "line", "polygons": "polygon"}

# The file each format writes per layer (named after the layer) or per story (after the story).
LAYER_FILES = {
    "geojson": ".geojson",
    "csv": ".csv",
    "shapefile": ".shp.zip",
    "flatgeobuf": ".fgb",
    "geoparquet": ".parquet",
}
STORY_FILES = {"geopackage": ".gpkg", "kml": ".kml"}

BLANK_FIELD = "unnamed"  # the exported name of a property whose name is blank


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

    @cached_property
    def dimension(self) -> str | None:
        """'points', 'lines' or 'polygons'; None when the table mixes them."""
        found = {_DIMENSIONS[t][0] for t in self.frame.geom_type.unique()}
        return found.pop() if len(found) == 1 else None


# Inside shared_typed_frames(): (what, id(object)...) -> (the objects, the value); the objects
# are kept so that their ids cannot be reused while the block runs.
_SHARED_FRAMES: ContextVar[dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] | None] = ContextVar(
    "shared_typed_frames", default=None
)
T = TypeVar("T")


def shared(what: str, objects: tuple[Any, ...], make: Callable[[], T]) -> T:
    """``make()``, made once per ``objects`` inside :func:`shared_typed_frames`."""
    shared = _SHARED_FRAMES.get()
    if shared is None:
        return make()
    key = (what, *map(id, objects))
    if key not in shared:
        shared[key] = (objects, make())
    return shared[key][1]


@contextmanager
def shared_typed_frames() -> Iterator[None]:
    """Inside the block, :func:`typed_frame` types each layer once and gives every writer that
    same frame (a write of every format typed a 100,000-feature layer once per format); so
    are a table's style (:func:`table_style`) and a layer's sources (:func:`sources`) made once.

    Writers must treat the shared frame as read-only: a change goes to a copy
    (``frame.copy()``, ``frame.rename(...)``, ``frame[mask]``), never to the frame itself.
    """
    token = _SHARED_FRAMES.set({})
    try:
        yield
    finally:
        _SHARED_FRAMES.reset(token)


def typed_frame(layer: Layer, scene: LayerScene | None = None) -> gpd.GeoDataFrame:
    """The layer's full-precision frame with Arrow-typed columns: number fields as doubles,
    integer fields as 64-bit integers (missing values as nulls, never NaN).

    A date is as precise as its source: a date field keeps its value as written ("2017-11",
    "2018") beside its precision field, and a dated layer (its scene's ``time``) gets typed
    ``date_start`` and ``date_end`` columns for the interval it covers (2017-11-01 to
    2017-11-30), the form time-aware GIS tools filter on.

    Declaring the types from the kind keeps a column that is empty in this story (say, no event
    has an ``end_date``) of its type rather than whatever GDAL would guess.

    Columns take their exported names (:func:`field_names`) and geometries lose any z: GeoPackage
    and FlatGeobuf refuse a 3D geometry in a layer declared 2D.

    Computed once per layer and scene inside :func:`shared_typed_frames`.
    """
    return shared("frame", (layer, scene), lambda: _typed_frame(layer, scene))


def _typed_frame(layer: Layer, scene: LayerScene | None) -> gpd.GeoDataFrame:
    frame = layer.frame
    fields = layer.kind.fields
    columns = {
        exported: _typed_column(_as_written(frame, name, fields.get(name)), _type(fields.get(name)))
        for name, exported in field_names(layer).items()
    }
    if scene is not None and scene.time is not None:
        columns.update(zip(interval_names(layer), _interval(frame, scene.time), strict=True))
    geometry = shapely.force_2d(np.asarray(frame.geometry.values))
    return gpd.GeoDataFrame(columns, geometry=geometry, crs=frame.crs)


def _type(spec: FieldSpec | None) -> str | None:
    """The column's type: a date with a precision is text as written, not a padded day."""
    if spec is None:
        return None
    return "text" if spec.type == "date" and spec.precision else spec.type


def _as_written(frame: gpd.GeoDataFrame, name: str, spec: FieldSpec | None) -> pd.Series:
    column = frame[name]
    if spec is None or spec.type != "date" or not spec.precision:
        return column
    precisions = _values(frame, spec.precision)
    return pd.Series(
        _each_once(as_written, zip(column.tolist(), precisions, strict=True)), index=frame.index
    )


def _each_once(function: Callable[..., T], arguments: Iterable[tuple[Any, ...]]) -> list[T]:
    """``function(*a)`` for each tuple ``a`` (of dates, precisions and missing values): called
    once per distinct tuple, as a layer's dates repeat."""
    every = list(arguments)
    try:
        known: dict[tuple[Any, ...], Any] = dict.fromkeys(every)
    except TypeError:  # unhashable: one call each
        return [function(*args) for args in every]
    for args in known:
        known[args] = function(*args)
    return list(map(known.__getitem__, every))  # a column at a time, not a loop in Python


def interval_names(layer: Layer) -> tuple[str, str]:
    """The names of a dated layer's interval columns: date_start and date_end, or with a
    leading '_' where a property already takes the name."""
    taken = {name.lower() for name in field_names(layer).values()}
    return free_name("date_start", taken), free_name("date_end", taken)


def _interval(
    frame: gpd.GeoDataFrame, time: tuple[str, str, str | None, str | None]
) -> tuple[pd.Series, pd.Series]:
    """The first and last day each feature's dates cover, as typed date columns."""
    start, start_precision, end, end_precision = time
    spans = _each_once(
        span,
        zip(
            _values(frame, start),
            _values(frame, start_precision),
            _values(frame, end),
            _values(frame, end_precision),
            strict=True,
        ),
    )
    return tuple(
        _typed_column(pd.Series([s[i] for s in spans], index=frame.index, dtype=object), "date")
        for i in (0, 1)
    )


def _values(frame: gpd.GeoDataFrame, name: str | None) -> list[Any]:
    """A column's values as a list (one column, not the row-wise ``to_dict``); None for every
    row when the name is None or the frame has no such column."""
    return frame[name].tolist() if name is not None and name in frame else [None] * len(frame)


def attribute_columns(frame: gpd.GeoDataFrame) -> list[str]:
    """The frame's columns but its geometry."""
    return [c for c in frame.columns if c != frame.geometry.name]


def field_names(layer: Layer) -> dict[str, str]:
    """Each property's name -> its name in every export (see the module docstring).

    Names that need no change are claimed first, so a property ``_name`` keeps its name and
    the ``name`` that must move becomes ``__name``.
    """
    columns = attribute_columns(layer.frame)
    kept: dict[str, str] = {}
    for name in columns:
        if name.strip() and not reserved_field(name):
            kept.setdefault(name.lower(), name)
    taken = set(kept)
    names = {}
    for name in columns:
        if kept.get(name.lower()) == name:
            names[name] = name
            continue
        wanted = "_" + name if reserved_field(name) else (name if name.strip() else BLANK_FIELD)
        names[name] = free_name(wanted, taken)
        taken.add(names[name].lower())
    return names


def reserved_field(name: str) -> bool:
    """A property no format keeps under its name: ``geometry`` in any case, or ``OGC_FID``
    (GDAL's Arrow writer takes exactly that name, not ``ogc_fid``, for the feature id)."""
    return name.lower() == "geometry" or name == "OGC_FID"


def free_name(name: str, taken: Collection[str]) -> str:
    """``name``, or ``_name``, ``__name``...: the first not in ``taken`` (lower-case names)."""
    while name.lower() in taken:
        name = "_" + name
    return name


def renamed_fields(layer: Layer) -> dict[str, str]:
    """The properties exported under another name."""
    return {k: v for k, v in field_names(layer).items() if k != v}


def _typed_column(series: pd.Series, field_type: str | None) -> pd.Series:
    arrow_type = _ARROW_TYPES.get(field_type or "", pa.string() if field_type else None)
    direct = _direct_arrow(series, arrow_type)
    if direct is not None:
        return pd.Series(pd.arrays.ArrowExtensionArray(direct), index=series.index)
    values = column_values(series)
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


def _direct_arrow(series: pd.Series, arrow_type: Any) -> pa.Array | None:
    """The column as ``arrow_type`` without a Python object per cell, when it is text typed as
    text or numbers as numbers (missing values as nulls, as :func:`column_values` gives them);
    else None."""
    dtype = series.dtype
    if (
        arrow_type == pa.string()
        and isinstance(dtype, pd.StringDtype)
        and dtype.storage == "pyarrow"
    ):
        return pa.array(series.array).cast(pa.string())
    if arrow_type == pa.float64() and dtype == np.float64:
        return pa.array(series.to_numpy(), type=pa.float64(), from_pandas=True)
    if arrow_type == pa.int64() and dtype == np.int64:
        return pa.array(series.to_numpy(), type=pa.int64())
    return None


def _present(value: Any) -> bool:
    return value is not None and value is not pd.NA and value == value  # NaN != NaN


def tables(
    layer: Layer, scene: LayerScene, *, split: bool = False, promote: bool = False
) -> list[Table]:
    """The layer as one table, or (``split``) one table per geometry dimension it mixes;
    ``promote`` writes a table mixing single and multi parts as multi parts only."""
    frame = typed_frame(layer, scene)
    dimensions = _dimensions(frame)
    if not split or dimensions.nunique() == 1:
        return [_table(layer.name, layer, frame, promote)]
    return [
        _table(split_name(layer, dimension), layer, frame[dimensions == dimension], promote)
        for dimension in sorted(set(dimensions.unique()))
    ]


def table_names(layer: Layer) -> list[str]:
    """The names of the layer's tables where each holds one dimension (GeoPackage, KML,
    Shapefile), as :func:`tables` names them with ``split``."""
    dimensions = set(_dimensions(layer.frame).unique())
    if len(dimensions) == 1:
        return [layer.name]
    return [split_name(layer, d) for d in sorted(dimensions)]


def split_name(layer: Layer, dimension: str) -> str:
    return f"{layer.name}_{dimension}"


def _dimensions(frame: gpd.GeoDataFrame) -> pd.Series:
    return frame.geom_type.map(_DIMENSION_NAMES)


def _table(name: str, layer: Layer, frame: gpd.GeoDataFrame, promote: bool) -> Table:
    types = set(frame.geom_type.unique())
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
    """Every layer's tables (see :func:`tables`), in story order."""
    return [
        t
        for layer in story.layers
        for t in tables(layer, scene_of(story, layer), split=split, promote=promote)
    ]


def csv_tables(story: Story) -> list[Table]:
    """The layers written as CSV, one row a point: those of points only."""
    return [t for t in all_tables(story) if t.dimension == "points"]


def records(frame: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python values, missing values as None."""
    columns = attribute_columns(frame)
    if not columns:
        return [{} for _ in range(len(frame))]
    values = [column_values(frame[c]) for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def column_values(series: pd.Series) -> list[Any]:
    """A column as plain Python values, missing values as None (a column at a time: a
    row-wise ``to_dict`` of a 100,000-row frame took seconds)."""
    if _plain_arrow(series.dtype):  # Arrow holds its gaps as nulls: None in one call
        array = pa.array(series.array)
        if not pa.types.is_floating(array.type) or not pc.any(pc.is_nan(array)).as_py():
            return array.to_pylist()
    values = series.tolist()
    if series.dtype == object:  # any Python object: test each value as _present does
        if set(map(type, values)) <= _NEVER_MISSING:  # such a value is missing only as None
            return values
        return [v if _present(v) else None for v in values]
    missing = series.isna().to_numpy(dtype=bool).tolist()  # one dtype: isna finds its gaps
    return [None if m else v for v, m in zip(values, missing, strict=True)]


# Types whose every value but None is present to _present (never NaN nor pd.NA).
_NEVER_MISSING = frozenset({str, int, bool, type(None)})


def _plain_arrow(dtype: Any) -> bool:
    """Whether a column is Arrow text, numbers, booleans or days: what ``to_pylist`` gives
    as :func:`column_values` does, nulls as None (floats: when they hold no NaN)."""
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage == "pyarrow"
    if not isinstance(dtype, pd.ArrowDtype):
        return False
    kind = dtype.pyarrow_dtype
    return kind in _PLAIN_ARROW


_PLAIN_ARROW = (pa.string(), pa.large_string(), pa.int64(), pa.bool_(), pa.date32(), pa.float64())


def text(value: Any) -> str:
    """A value as text: ISO dates, shortest exact floats, empty when missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)


def scene_of(story: Story, layer: Layer) -> LayerScene:
    """The layer as its kind draws it: what its styles in every format follow."""
    return next(s for s in story.scenes if s.name == layer.name)


def table_style(table: Table, scene: LayerScene) -> LayerStyle | None:
    """The table's symbology from its layer's scene (None for a table that mixes geometry
    dimensions), naming the category field as the table does (a renamed property keeps its
    colours). Made once per table and scene inside :func:`shared_typed_frames`."""
    return shared("style", (table, scene), lambda: _table_style(table, scene))


def _table_style(table: Table, scene: LayerScene) -> LayerStyle | None:
    if table.dimension is None:
        return None
    field = scene.categories.field if scene.categories else None
    exported = field_names(table.layer).get(field, field) if field else None
    values = table.frame[exported].tolist() if exported in table.frame else []
    time = interval_names(table.layer) if scene.time is not None else None
    return layer_style(scene, _STYLE_GEOMETRY[table.dimension], exported, values, time)


# --- metadata -----------------------------------------------------------------------------


def sources(layer: Layer) -> list[str]:
    """Where a layer comes from: its own source and every source its features cite (made once
    per layer inside :func:`shared_typed_frames`)."""
    return list(shared("sources", (layer,), lambda: _sources(layer)))


def _sources(layer: Layer) -> list[str]:
    described = _arrow_sources(layer)
    if described is not None:
        return described
    pairs = source_pairs(layer)
    described = {_source_text(n, u) for n, u in pairs if _present(n) or _present(u)}
    return sorted(described)


def _arrow_sources(layer: Layer) -> list[str] | None:
    """:func:`_sources` in Arrow's compute functions when the source fields are Arrow text
    (their missing values nulls: _present is not null); else None."""
    frame = layer.frame
    fields = [
        (name, url)
        for name, url in (("source_name", "source_url"), ("note_source_name", "note_source_url"))
        if name in frame
    ]
    if not all(_arrow_text(frame, f) for pair in fields for f in pair):
        return None
    own = (layer.config.source_name, layer.config.source_url)
    described = {_source_text(*own)} if _present(own[0]) or _present(own[1]) else set()
    for name_field, url_field in fields:
        names = pa.array(frame[name_field].array).cast(pa.string())
        urls = pa.array(frame[url_field].array).cast(pa.string())
        bracketed = pc.binary_join_element_wise("<", urls, ">", "")  # null where the url is
        texts = pc.coalesce(pc.binary_join_element_wise(names, bracketed, " "), names, bracketed)
        described.update(pc.unique(texts.drop_null()).to_pylist())
    return sorted(described)


def _arrow_text(frame: gpd.GeoDataFrame, name: str) -> bool:
    dtype = frame[name].dtype if name in frame else None
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def source_pairs(layer: Layer) -> frozenset[tuple[Any, Any]]:
    """Each distinct (name, url) the layer cites, as its columns hold them (missing values
    as they are), its own (map.toml) among them; found once per layer inside
    :func:`shared_typed_frames`."""
    return shared("raw source pairs", (layer,), lambda: _source_pairs(layer))


def _source_pairs(layer: Layer) -> frozenset[tuple[Any, Any]]:
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
    return frozenset(pairs)


def _source_text(name: Any, url: Any) -> str:
    return " ".join(str(v) for v in (name, f"<{url}>" if _present(url) else None) if _present(v))


def layer_description(layer: Layer) -> str:
    """Title, sources, licence, and the properties exported under another name."""
    found = sources(layer)
    renamed = renamed_fields(layer)
    note = f" Renamed fields: {_renamed_text(renamed)}." if renamed else ""
    return (
        f"{layer.config.title}. Sources: {'; '.join(found) or 'not stated'}. "
        f"Licence: {licence(layer)}.{note}"
    )


def _renamed_text(renamed: dict[str, str]) -> str:
    """'name' -> '_name', ... (quoted: a blank name must stay visible)."""
    return ", ".join(f"{old!r} -> {new!r}" for old, new in renamed.items())


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


@contextmanager
def gdal_warnings_to(log: Callable[[str], None]) -> Iterator[None]:
    """Send the block's Python warnings to ``log`` instead of stderr.

    pyogrio turns every GDAL warning into a Python ``RuntimeWarning`` (GDAL's own handler, which
    prints to stderr, only sees fatal errors), so this is the one place they surface; ``log``
    decides whether they are shown (``-q`` drops them).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda message, *_: log(f"warning: GDAL: {message}")
        yield


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
