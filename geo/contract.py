"""The page contract: the one JSON document Python hands to ``story.js``.

It is described here once, as TypedDicts, and in ``templates/story.js`` as the matching JSDoc
typedefs. It is columnar: each layer's properties are one array per property, and popups are
built in the browser from those columns and the layer's one popup template, with
``textContent`` and http(s)-only links, never as an HTML string per feature. The page
template writes it in a ``<script type="application/json">``, out of reach of branca's second
Jinja pass.

A large clustered point layer (more than :data:`LARGE_LAYER` features) is written packed
(:class:`PackedDoc`): its coordinates, days and columns each as one gzip-compressed, base64
binary string (integers on a grid, dictionary codes, or JSON text), which ``story.js`` unpacks
with the browser's ``DecompressionStream`` and draws on a canvas with supercluster.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import shapely
from typing_extensions import NotRequired, TypedDict  # pydantic validates these on 3.10-3.11

from geo.scene import LayerScene, Symbol
from geo.shapes import Arcs, quantum
from geo.text import missing

VERSION = 2  # 2: lines and polygons as shared arcs
COORDINATE_GRID = 1e-5  # degrees, about 1 m: finer than the map ever shows
POINT_TYPE = 0  # shapely's type id of a Point

# A clustered point layer (the events kind) with more features than this is packed and drawn
# by the page's large path: supercluster on a canvas, only what is in view. Below it, every
# feature is a Leaflet marker in leaflet.markercluster, as before.
LARGE_LAYER = 2_000
PACKED_GRID = 1e-4  # degrees a unit of a packed layer's lon and lat, about 11 m
INT_NULL = -(2**31)  # a missing value in a packed integer column
DICTIONARY_SHARE = 4  # a column with at most 1/4 as many distinct values as rows: dictionary


# One line of a popup, read from the layer's columns (see story.js, popupRow): ``as`` is
# heading, text, time (``datetime`` names the ISO column), link (``href`` names the URL column,
# a link only when http(s)), table (``fields``, each shown under its ``labels`` name), list
# (``rows`` for each item of the column) or present (the items of the column whose
# start_day..end_day hold the timeline's date, by their ``name`` key: who was at a site then)
# or details (long text behind a "Details" disclosure).
PopupRow = TypedDict(
    "PopupRow",
    {
        "as": Literal["heading", "text", "time", "link", "table", "list", "present", "details"],
        "name": NotRequired[str],
        "field": NotRequired[str],
        "fields": NotRequired[list[str]],
        "labels": NotRequired[list[str]],
        "href": NotRequired[str],
        "datetime": NotRequired[str],
        "label": NotRequired[str],
        "lang": NotRequired[str],
        "class": NotRequired[str],
        "rows": NotRequired[list["PopupRow"]],
    },
)


class LeafletStyle(TypedDict, total=False):
    color: str
    weight: float
    opacity: float
    fill: bool
    fillColor: str
    fillOpacity: float
    dashArray: str
    radius: float


class Labels(TypedDict):
    text: list[str]
    lon: list[float]
    lat: list[float]
    priority: list[int]
    role: list[str]
    rank: list[str]


class ArcsDoc(TypedDict):
    """Every polygon's and line's vertices on the page, cut into arcs that layers share (see
    geo/shapes.py)."""

    quantum: float  # degrees a unit of the grid
    coords: str  # base64 of zigzag varints: the x, y differences along the arcs' vertices
    lengths: str  # base64 of zigzag varints: each arc's number of vertices


class ShapesDoc(TypedDict):
    """A layer's lines or polygons: shapely's ragged array, its rings or lines as arcs."""

    type: Literal["MultiPolygon", "MultiLineString", "Polygon", "LineString"]
    refs: str  # base64 of zigzag varints: arc i, or ~i for arc i backwards
    offsets: list[list[int]]  # into the refs, then rings or lines, then parts


class PackedColumn(TypedDict):
    """One column of a packed layer: ``data`` is base64 of gzip-compressed bytes. ``int``:
    little-endian int32 (INT_NULL for missing), running sums of the values when ``delta``;
    ``dict``: unsigned codes of ``width`` bytes, each an index into ``values``; ``json``: the
    column as UTF-8 JSON text (a list)."""

    encoding: Literal["int", "dict", "json"]
    data: str
    delta: NotRequired[bool]
    width: NotRequired[int]
    values: NotRequired[list[Any]]


class PackedDoc(TypedDict):
    """A large clustered point layer (more than ``threshold`` features), packed: its lon and
    lat as integers on ``grid`` degrees, delta-coded; its first and last days; its columns.
    The layer's own ``columns`` is then empty and its ``start`` and ``end`` None: the page
    fills them in from these."""

    threshold: int
    grid: float
    lon: PackedColumn
    lat: PackedColumn
    start: PackedColumn | None
    end: PackedColumn | None
    columns: dict[str, PackedColumn]


class LayerDoc(TypedDict):
    name: str
    kind: str
    title: str
    symbol: Literal["area", "line", "dot", "site", "event"]
    shape: str
    style: LeafletStyle
    categoryField: str | None
    categoryStyles: dict[str, LeafletStyle]
    show: bool
    control: bool
    interactive: bool
    cluster: bool
    count: int
    lon: NotRequired[list[float]]  # point layers
    lat: NotRequired[list[float]]
    shapes: NotRequired[ShapesDoc]  # line and polygon layers
    geometry: NotRequired[list[dict[str, Any]]]  # mixed or empty geometries: GeoJSON
    columns: dict[str, list[Any]]
    popup: list[PopupRow]
    titleField: str | list[str] | None  # several: their values joined by ": "
    idField: str | None
    ringField: str | None
    ringStyle: LeafletStyle | None
    bearingField: str | None
    farFields: list[str] | None  # far-away points: their place's name, lon and lat columns
    areaField: str | None  # points standing for an area (a country): the column naming it
    vagueField: str | None  # column true where a date is known only to the month or year
    labels: Labels
    start: list[int | None] | None  # dated layers: first and last day of each feature,
    end: list[int | None] | None  # as days since 1970-01-01 (end None: still going on)
    countAs: str | None  # what the timeline counts these features as, e.g. "events"
    timeMode: Literal["filter", "status"]
    packed: NotRequired[PackedDoc]  # large clustered point layers (LARGE_LAYER)


class ViewDoc(TypedDict):
    bounds: list[list[float]]  # [[south, west], [north, east]]: the opening view
    maxBounds: list[list[float]]  # the layers' extent: the reader never pans or zooms beyond
    filled: bool  # areas (the land) cover maxBounds: no view may show beyond them
    # what the story is about (its dated points in view): where the map opens when the frame
    # cannot show all of ``bounds`` inside ``maxBounds``
    focus: list[list[float]] | None
    maxZoom: int
    background: str


class Sentence(TypedDict):
    text: str
    events: list[str]  # the ids of the events the sentence rests on


class ChapterDoc(TypedDict):
    title: str
    text: list[Sentence]
    start: int | None  # the timeline's range, in days since 1970-01-01
    end: int | None
    bounds: list[list[float]] | None  # [[south, west], [north, east]], or frame these ids:
    frame: list[str]
    events: list[str]  # highlighted


class PageDoc(TypedDict):
    version: int
    view: ViewDoc
    layers: list[LayerDoc]
    arcs: NotRequired[ArcsDoc]  # when a layer has lines or polygons
    chapters: list[ChapterDoc]


def page_document(
    scenes: Sequence[LayerScene],
    view: tuple[float, float, float, float],
    max_zoom: int,
    background: str,
    chapters: Sequence[ChapterDoc] = (),
    max_bounds: tuple[float, float, float, float] | None = None,
    large: int = LARGE_LAYER,
) -> PageDoc:
    """The document for ``story.js``: every scene as columns, the view, the chapters (the key
    is the page's HTML, see geo.render).
    ``max_bounds`` (west, south, east, north) limits panning and zooming out; by default the
    extent of the drawn scenes. A clustered point layer of more than ``large`` features is
    packed (:class:`PackedDoc`)."""
    minx, miny, maxx, maxy = view
    west, south, east, north = max_bounds or scenes_extent(scenes, view)
    filled = max_bounds is None and areas_fill(scenes, view)
    arcs = Arcs(quantum(max_zoom))
    doc: PageDoc = {
        "version": VERSION,
        "view": {
            "bounds": [[miny, minx], [maxy, maxx]],
            "maxBounds": [[south, west], [north, east]],
            "filled": filled,
            "focus": _bounds(focus_extent(scenes, view)),
            "maxZoom": max_zoom,
            "background": background,
        },
        "layers": [layer_document(s, arcs, large) for s in scenes],
        "chapters": list(chapters),
    }
    if shared := arcs.finish():
        doc["arcs"] = shared
    return doc


def areas_fill(scenes: Sequence[LayerScene], view: tuple[float, float, float, float]) -> bool:
    """Whether areas alone set every side of :func:`scenes_extent` (the land around a story)."""
    return _sides(scenes, view)[1]


def scenes_extent(
    scenes: Sequence[LayerScene],
    view: tuple[float, float, float, float],
    pad: float = 0.02,
) -> tuple[float, float, float, float]:
    """The extent of everything drawn (far-away events already sit at the view's edge) and of
    the view. On each side, areas (the land) set the limit where they reach as far as the
    points and lines, so the land fills every view; elsewhere points and lines are padded by
    ``pad`` of the extent's size, so a marker at the rim is not cut in half."""
    return _sides(scenes, view, pad)[0]


def _sides(
    scenes: Sequence[LayerScene], view: tuple[float, float, float, float], pad: float = 0.02
) -> tuple[tuple[float, float, float, float], bool]:
    def box(s: LayerScene) -> tuple[float, ...] | None:
        if not len(s.frame) or s.frame.geometry.is_empty.all():
            return None
        return tuple(float(v) for v in s.frame.total_bounds)

    areas = [b for s in scenes if s.family == "polygon" and (b := box(s))]
    others = [b for s in scenes if s.family != "polygon" and (b := box(s))] + [view]
    every = areas + others
    dx = (max(b[2] for b in every) - min(b[0] for b in every)) * pad
    dy = (max(b[3] for b in every) - min(b[1] for b in every)) * pad
    out, filled = [], True
    for side, lower, margin in ((0, True, dx), (1, True, dy), (2, False, dx), (3, False, dy)):
        pick = min if lower else max
        reach = pick(b[side] for b in others)
        if areas and (
            pick(b[side] for b in areas) <= reach
            if lower
            else pick(b[side] for b in areas) >= reach
        ):
            out.append(pick(b[side] for b in areas))
        else:
            out.append(reach - margin if lower else reach + margin)
            filled = False
    west, south, east, north = out
    return (
        round(max(west, -180.0), 4),
        round(max(south, -85.0), 4),
        round(min(east, 180.0), 4),
        round(min(north, 85.0), 4),
    ), filled


def focus_extent(
    scenes: Sequence[LayerScene], view: tuple[float, float, float, float], pad: float = 0.05
) -> tuple[float, float, float, float] | None:
    """The extent of the dated points (events, sites), less those far away at the edge,
    padded by ``pad`` of the view's size (the places around them)."""
    parts = []
    for s in scenes:
        if s.family != "point" or s.days is None or not len(s.frame):
            continue
        frame = s.frame
        if s.bearing_field and s.bearing_field in frame:
            frame = frame[frame[s.bearing_field].map(missing)]
        if len(frame):
            parts.append(frame.total_bounds)
    if not parts:
        return None
    dx, dy = (view[2] - view[0]) * pad, (view[3] - view[1]) * pad
    return (
        min(p[0] for p in parts) - dx,
        min(p[1] for p in parts) - dy,
        max(p[2] for p in parts) + dx,
        max(p[3] for p in parts) + dy,
    )


def _bounds(box: tuple[float, float, float, float] | None) -> list[list[float]] | None:
    if box is None:
        return None
    west, south, east, north = (round(float(v), 4) for v in box)
    return [[south, west], [north, east]]


def is_large(scene: LayerScene, large: int = LARGE_LAYER) -> bool:
    """Whether the page draws the layer by its large path: clustered points, more than
    ``large`` of them."""
    frame = scene.frame
    return bool(
        scene.cluster
        and scene.family == "point"
        and len(frame) > large
        and (shapely.get_type_id(frame.geometry.values) == POINT_TYPE).all()
    )


def layer_document(scene: LayerScene, arcs: Arcs, large: int = LARGE_LAYER) -> LayerDoc:
    """One layer as columns; its lines and polygons as references into the page's ``arcs``
    (written by ``arcs.finish()``); packed when it is a clustered point layer of more than
    ``large`` features."""
    frame = scene.frame
    packed = is_large(scene, large)
    popup = [_popup_row(r) for r in scene.popup]
    titles = scene.title_field if isinstance(scene.title_field, tuple) else (scene.title_field,)
    used = _popup_fields(scene.popup) | {
        f
        for f in (
            *titles,
            scene.id_field,
            scene.ring_field,
            scene.bearing_field,
            scene.area_field,
            scene.vague_field,
            *(scene.far_fields or ()),
            scene.categories.field if scene.categories else None,
            *scene.columns,
        )
        if f
    }
    doc: LayerDoc = {
        "name": scene.name,
        "kind": scene.kind,
        "title": scene.title,
        "symbol": _symbol_name(scene),
        "shape": scene.symbol.shape,
        "style": leaflet_style(scene.symbol, scene.family),
        "categoryField": scene.categories.field if scene.categories else None,
        "categoryStyles": {
            value: leaflet_style(s, scene.family)
            for value, s in (scene.categories.symbols.items() if scene.categories else ())
        },
        "show": scene.show,
        "control": scene.control,
        "interactive": scene.interactive,
        "cluster": scene.cluster,
        "count": len(frame),
        "columns": {},
        "popup": popup,
        "titleField": list(titles) if len(titles) > 1 else titles[0],
        "idField": scene.id_field,
        "ringField": scene.ring_field,
        "ringStyle": leaflet_style(scene.ring, "polygon") if scene.ring else None,
        "bearingField": scene.bearing_field,
        "farFields": list(scene.far_fields) if scene.far_fields else None,
        "areaField": scene.area_field,
        "vagueField": scene.vague_field,
        "labels": _labels(scene),
        "start": None,
        "end": None,
        "countAs": scene.count_as,
        "timeMode": scene.time_mode,
    }
    names = [c for c in frame.columns if c in used and c != frame.geometry.name]
    if packed:
        doc["packed"] = pack_layer(scene, names, large)
        return doc
    doc["columns"] = {c: _column(frame[c]) for c in names}
    doc["start"] = _days(frame[scene.days[0]]) if scene.days else None
    doc["end"] = _days(frame[scene.days[1]]) if scene.days else None
    geoms = shapely.set_precision(frame.geometry.values, COORDINATE_GRID)
    if (shapely.get_type_id(geoms) == POINT_TYPE).all():  # as columns; MultiPoints as GeoJSON
        doc["lon"] = [round(float(x), 5) for x in shapely.get_x(geoms)]
        doc["lat"] = [round(float(y), 5) for y in shapely.get_y(geoms)]
    elif shapes := arcs.add(frame.geometry.values):
        doc["shapes"] = shapes
    else:
        doc["geometry"] = [json.loads(shapely.to_geojson(g)) for g in geoms]
    return doc


def pack_layer(scene: LayerScene, names: Sequence[str], large: int = LARGE_LAYER) -> PackedDoc:
    """A large point layer's coordinates, days and ``names`` columns, packed."""
    frame = scene.frame
    geoms = frame.geometry.values
    scale = round(1 / PACKED_GRID)
    lon = np.rint(shapely.get_x(geoms) * scale).astype(np.int64)
    lat = np.rint(shapely.get_y(geoms) * scale).astype(np.int64)
    days = [_days(frame[f]) for f in scene.days] if scene.days else None
    return {
        "threshold": large,
        "grid": PACKED_GRID,
        "lon": pack_ints(lon, delta=True),
        "lat": pack_ints(lat, delta=True),
        "start": pack_ints(days[0]) if days else None,
        "end": pack_ints(days[1]) if days else None,
        "columns": {c: pack_column(frame[c]) for c in names},
    }


def _compressed(data: bytes) -> str:
    """gzip (no time stamp: the same bytes every build), then base64."""
    return base64.b64encode(gzip.compress(data, compresslevel=6, mtime=0)).decode("ascii")


def pack_ints(values: Any, delta: bool = False) -> PackedColumn:
    """Integers (None for missing) as int32, differences along the column when ``delta``."""
    ints = np.array([INT_NULL if v is None else v for v in values], dtype=np.int64)
    if delta:
        ints = np.diff(ints, prepend=0)
    real = ints if delta else ints[ints != INT_NULL]
    if len(real) and (real.min() <= INT_NULL or real.max() >= 2**31):
        raise ValueError("a packed integer column is out of the int32 range")
    out: PackedColumn = {"encoding": "int", "data": _compressed(ints.astype("<i4").tobytes())}
    if delta:
        out["delta"] = True
    return out


def pack_column(values: pd.Series) -> PackedColumn:
    """A column packed: a dictionary of its values and a code per row when it has few distinct
    scalar values of one type, else its JSON text."""
    if isinstance(values.dtype, pd.StringDtype):  # text: factorized as it is, no cell by cell
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        packed = _dictionary(codes, uniques.tolist(), len(values))
        return packed or _json_column(_column(values))
    cells = _column(values)
    types = {type(v) for v in cells} - {type(None)}
    if len(types) <= 1 and types <= {str, int, float, bool}:
        codes, uniques = pd.factorize(pd.Series(cells, dtype=object), use_na_sentinel=True)
        packed = _dictionary(codes, [_value(u) for u in uniques], len(cells))
        if packed:
            return packed
    return _json_column(cells)


def _dictionary(codes: np.ndarray, distinct: list[Any], count: int) -> PackedColumn | None:
    """A factorized column as a dictionary and a code per row, or None when it has too many
    distinct values for that to pay."""
    if codes.min(initial=0) < 0:  # missing values: one more entry, null
        codes = np.where(codes < 0, len(distinct), codes)
        distinct.append(None)
    if len(distinct) * DICTIONARY_SHARE > count:
        return None
    width = 1 if len(distinct) <= 2**8 else 2 if len(distinct) <= 2**16 else 4
    return {
        "encoding": "dict",
        "data": _compressed(codes.astype(f"<u{width}").tobytes()),
        "width": width,
        "values": distinct,
    }


def _json_column(cells: list[Any]) -> PackedColumn:
    text = json.dumps(cells, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return {"encoding": "json", "data": _compressed(text.encode("utf-8"))}


def unpack(packed: PackedDoc, count: int) -> dict[str, Any]:
    """A packed layer back as plain columns (what the page decodes): ``lon``, ``lat``,
    ``start``, ``end`` and every column by name. For tests and for reading a page."""
    out: dict[str, Any] = {}
    scale = round(1 / packed["grid"])
    for key in ("lon", "lat"):
        out[key] = [v / scale for v in unpack_column(packed[key], count)]
    for key in ("start", "end"):
        out[key] = unpack_column(packed[key], count) if packed[key] else None
    out["columns"] = {k: unpack_column(c, count) for k, c in packed["columns"].items()}
    return out


def unpack_column(column: PackedColumn, count: int) -> list[Any]:
    data = gzip.decompress(base64.b64decode(column["data"]))
    if column["encoding"] == "json":
        return json.loads(data.decode("utf-8"))
    if column["encoding"] == "dict":
        codes = np.frombuffer(data, dtype=f"<u{column['width']}")
        return [column["values"][c] for c in codes.tolist()]
    ints = np.frombuffer(data, dtype="<i4").astype(np.int64)
    if column.get("delta"):
        ints = np.cumsum(ints)
    assert len(ints) == count
    return [None if v == INT_NULL else v for v in ints.tolist()]


def leaflet_style(symbol: Symbol, family: str) -> LeafletStyle:
    style: LeafletStyle = {
        "color": symbol.stroke,
        "weight": symbol.stroke_width,
        "opacity": symbol.stroke_opacity,
        "fill": family != "line" and symbol.fill is not None,
        "fillOpacity": symbol.fill_opacity,
        "radius": symbol.radius,
    }
    if symbol.fill:
        style["fillColor"] = symbol.fill
    if symbol.dash:
        style["dashArray"] = " ".join(f"{d:g}" for d in symbol.dash)
    return style


def _symbol_name(scene: LayerScene) -> str:
    if scene.family != "point":
        return "line" if scene.family == "line" else "area"
    return {"event": "event", "diamond": "site", "square": "site"}.get(scene.symbol.shape, "dot")


def _popup_row(row: Any) -> PopupRow:
    out = dict(row)
    if "rows" in out:
        out["rows"] = [_popup_row(r) for r in out["rows"]]
    return out


def _popup_fields(rows: Any) -> set[str]:
    """Every column a popup template reads (the top-level ones; list items carry their own)."""
    found: set[str] = set()
    for row in rows:
        found.update(row.get(k) for k in ("field", "href", "datetime") if row.get(k))
        found.update(row.get("fields", ()))
    return found


def _labels(scene: LayerScene) -> Labels:
    labels = scene.labels
    return {
        "text": [lb.text for lb in labels],
        "lon": [lb.lon for lb in labels],
        "lat": [lb.lat for lb in labels],
        "priority": [lb.priority for lb in labels],
        "role": [lb.role for lb in labels],
        "rank": [lb.rank for lb in labels],
    }


def _days(values: Any) -> list[int | None]:
    """Day numbers as integers (pandas keeps a column with gaps as floats)."""
    if isinstance(values, pd.Series) and values.dtype.kind in "iu":
        return values.to_numpy().tolist()
    return [None if missing(v) else int(v) for v in values]


def _column(values: pd.Series) -> list[Any]:
    """A column as JSON values: numbers and booleans in one pass (numpy gives Python's own),
    anything else (text, dates, lists of objects) cell by cell."""
    if values.dtype.kind in "biu":  # never missing
        return values.to_numpy().tolist()
    if values.dtype.kind == "f":
        gaps = np.isnan(values.to_numpy())
        cells = values.to_numpy().tolist()
        if not gaps.any():
            return cells
        return [None if gap else v for v, gap in zip(cells, gaps.tolist(), strict=True)]
    if isinstance(values.dtype, pd.StringDtype):  # text: only str and missing, in one pass
        return values.to_numpy(dtype=object, na_value=None).tolist()
    cells = values.to_numpy(dtype=object)
    if pd.isna(cells).all():
        return [None] * len(cells)
    return [_value(v) for v in cells.tolist()]


def _value(value: Any) -> Any:
    """A cell as JSON: None for missing, ISO text for dates, lists of objects kept."""
    if type(value) is str:  # most cells: first, for speed
        return value
    if isinstance(value, list):
        return [
            {k: _value(v) for k, v in item.items()} if isinstance(item, dict) else _value(item)
            for item in value
        ]
    if missing(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def to_json(doc: PageDoc) -> str:
    """The document as text that is safe inside <script type="application/json">."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
