"""Step 1: read every layer of a story with geopandas and check it against its kind's schema.

Everything after this step can trust its input: geometries are valid, 2D and of an allowed
type, coordinates are lon/lat in EPSG:4326, required properties are present with the right types,
dates are ``datetime.date`` values and ids are unique. Every property value is one that every
output can hold: integers fit in 64 bits, numbers are finite, text is valid Unicode. Every
problem is collected, then raised together as a :class:`StoryError`.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import math
import operator
import re
import warnings as python_warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.validation import explain_validity

from geo.kinds import PRECISIONS, FieldSpec, Kind, kinds
from geo.problems import Problem, StoryError, shown
from geo.story import CONFIG_NAME, LayerConfig, StoryConfig, url_problem

WGS84 = "EPSG:4326"
COUNTRY_FIELD = "in_country"  # derived by combine: the country a point lies in
INT64 = (-(2**63), 2**63 - 1)  # what every export format can store as a whole number
# \Z, not $ (which also matches before a final newline); [0-9], not \d (any script's digits).
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_ISO3 = re.compile(r"^[A-Z]{3}\Z")
_DATE_FORMS = {  # precision -> (pattern, example)
    "year": (re.compile(r"^[0-9]{4}\Z"), "YYYY"),
    "month": (re.compile(r"^[0-9]{4}-[0-9]{2}\Z"), "YYYY-MM"),
    "day": (re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"), "YYYY-MM-DD"),
}
# Column-wise tests that clear every value they match (see _check_layer_properties): one
# regular expression over a whole column, its values each followed by a newline (which none of
# these patterns allows inside a value).
_SLUGS = re.compile(r"(?:[a-z0-9]+(?:-[a-z0-9]+)*\n)*")
# An http(s) URL that url_problem accepts: printable ASCII without spaces, whose host part
# (what urlsplit calls the netloc) is plain letters, digits, dots, hyphens and an optional port.
_PLAIN_URLS = re.compile(r"(?:https?://[A-Za-z0-9._~-]+(?::[0-9]*)?(?:[/?#][!-~]*)?\n)*")
_TYPE_IDS = {
    "Point": shapely.GeometryType.POINT,
    "LineString": shapely.GeometryType.LINESTRING,
    "Polygon": shapely.GeometryType.POLYGON,
    "MultiPoint": shapely.GeometryType.MULTIPOINT,
    "MultiLineString": shapely.GeometryType.MULTILINESTRING,
    "MultiPolygon": shapely.GeometryType.MULTIPOLYGON,
}
_DIMENSION = {
    "Point": 0,
    "MultiPoint": 0,
    "LineString": 1,
    "MultiLineString": 1,
    "Polygon": 2,
    "MultiPolygon": 2,
}


@dataclass(frozen=True)
class Layer:
    """A validated layer: its configuration and its features at full precision in EPSG:4326."""

    config: LayerConfig
    where: str  # what a problem names: the file, or the layer given as a GeoDataFrame
    frame: gpd.GeoDataFrame
    path: Path | None = None  # the GeoJSON file it was read from
    web: gpd.GeoDataFrame | None = None  # simplified copy for the map, set by combine

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def kind(self) -> Kind:
        return kinds()[self.config.kind]


def load_layers(story: StoryConfig) -> tuple[list[Layer], list[Problem]]:
    """Read and validate every layer; return them with the warnings (repairs, reprojections)."""
    layers, errors, warnings = [], [], []
    for config in story.layers:
        layer = _load_layer(story, config, errors, warnings)
        if layer is not None:
            layers.append(layer)
    if errors:
        raise StoryError(errors)
    return layers, warnings


def load_frames(
    story: StoryConfig, frames: Mapping[str, gpd.GeoDataFrame]
) -> tuple[list[Layer], list[Problem]]:
    """Validate layers given as GeoDataFrames, exactly as files are (through the same GeoJSON
    form); a problem names the layer where a file's would name the file."""
    layers, errors, warnings = [], [], []
    for config in story.layers:
        doc = _frame_document(frames[config.name], config.name, errors)
        layer = None if doc is None else _layer(doc, config, None, config.name, errors, warnings)
        if layer is not None:
            layers.append(layer)
    if errors:
        raise StoryError(errors)
    return layers, warnings


def _frame_document(frame: gpd.GeoDataFrame, name: str, errors: list[Problem]) -> Any:
    """A GeoDataFrame as the GeoJSON document a file of it would hold (missing values left
    out, dates as ISO text, a projected CRS named in a ``crs`` member)."""
    if not isinstance(frame, gpd.GeoDataFrame):
        errors.append(Problem(name, f"expected a GeoDataFrame, found {type(frame).__name__}"))
        return None
    doc = frame.to_geo_dict(na="drop", drop_id=True)
    if frame.crs is not None and not frame.crs.equals(WGS84):
        doc["crs"] = {"type": "name", "properties": {"name": frame.crs.to_string()}}
    return json.loads(json.dumps(doc, default=_json_value))


def _json_value(value: Any) -> Any:
    if hasattr(value, "isoformat"):  # dates and timestamps: as precise as they are given
        return value.isoformat()[:10] if not getattr(value, "hour", 0) else value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _load_layer(
    story: StoryConfig, config: LayerConfig, errors: list[Problem], warnings: list[Problem]
) -> Layer | None:
    path = story.folder / config.file
    doc = _read_json(path, errors)
    if doc is None:
        return None
    return _layer(doc, config, path, str(story.folder / CONFIG_NAME), errors, warnings)


def _layer(
    doc: Any,
    config: LayerConfig,
    path: Path | None,
    config_where: str,
    errors: list[Problem],
    warnings: list[Problem],
) -> Layer | None:
    """Validate one layer's GeoJSON document; ``path`` is None for a GeoDataFrame."""
    where = str(path) if path is not None else config.name
    features = _features(doc, where, errors)
    if features is None:
        return None
    frame = _read_geometries(doc, features, where, errors)
    if frame is None:
        return None
    if len(frame) != len(features):
        errors.append(
            Problem(
                where,
                f"GDAL read {len(frame)} features, expected {len(features)}"
                " (features without a geometry?)",
            )
        )
        return None
    kind = kinds()[config.kind]
    labels = _Labels(features, kind)
    frame = _to_wgs84(frame, "crs" in doc, where, labels, errors, warnings)
    if frame is None:
        return None
    frame = _drop_z(frame, where, warnings)
    before = len(errors)
    geometries = _check_geometries(frame.geometry.values, kind, where, labels, errors, warnings)
    data = _check_layer_properties(features, kind, where, labels, errors)
    _check_unique_ids(data.get(kind.id_field or "id"), kind, where, errors)
    columns = list(data)
    _check_category_field(config_where, config, columns, where, errors)
    if len(errors) > before:
        return None
    # A property may be called "geometry": it keeps its name, the geometry column takes another.
    geometry = _free_name("geometry", data)
    frame = gpd.GeoDataFrame({**data, geometry: geometries}, geometry=geometry, crs=WGS84)
    return Layer(config, where, frame, path)


def _free_name(name: str, taken: Any) -> str:
    """``name``, or ``_name``, ``__name``...: the first that is not taken."""
    while name in taken:
        name = "_" + name
    return name


def _check_category_field(
    config_where: str, config: LayerConfig, columns: list[str], where: str, errors: list[Problem]
) -> None:
    """map.toml's category_field must name a property of the layer (for events, whose
    default is the required 'category', the check never fires)."""
    name = config.category_field
    if name is None or name in columns:
        return
    errors.append(
        Problem(
            config_where,
            f"expected a property of {where}, found {shown(name)}; "
            f"its properties are: {shown(columns)[1:-1] or 'none'}",
            field=f"layers.{config.name}.category_field",
        )
    )


def _read_json(path: Path, errors: list[Problem]) -> Any:
    """The parsed file, or None with the reason it cannot be read as JSON."""
    where = str(path)
    try:
        return json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text: {exc}"
    except ValueError as exc:  # an integer with more digits than Python converts
        message = f"not valid JSON: {exc}"
    except RecursionError:
        message = "not valid JSON: arrays or objects nested too deeply"
    except OSError as exc:
        message = f"cannot be read: {exc.strerror}"
    errors.append(Problem(where, message))
    return None


def _read_geometries(
    doc: dict, features: list[dict], where: str, errors: list[Problem]
) -> gpd.GeoDataFrame | None:
    """The geometries and CRS as GDAL reads them, from a copy of the file without properties:
    they come from the JSON itself, untouched by GDAL's type guessing (which turns "2024-03-16"
    into a timestamp, fails on "2024-02-30" and on integers past 64 bits)."""
    if "crs" not in doc:
        points = _plain_points(features)
        if points is not None:
            return gpd.GeoDataFrame(geometry=points, crs=WGS84)
    geometries_only = {
        "type": "FeatureCollection",
        **({"crs": doc["crs"]} if "crs" in doc else {}),
        "features": [{"type": "Feature", "geometry": f["geometry"]} for f in features],
    }
    try:
        # GDAL's warnings about malformed geometries are left out: the checks below say more.
        with python_warnings.catch_warnings():
            python_warnings.simplefilter("ignore", RuntimeWarning)
            return gpd.read_file(io.BytesIO(json.dumps(geometries_only).encode()), engine="pyogrio")
    except Exception as exc:  # GDAL's own words are the most useful here
        errors.append(Problem(where, f"GDAL could not read it as GeoJSON: {exc}"))
        return None


def _plain_points(features: list[dict]) -> Any:
    """The geometries when every one is a plain 2D point (a "type" and two finite numbers that
    a double holds exactly, as GDAL reads them), without a trip through GDAL; else None."""
    coordinates = []
    for feature in features:
        geometry = feature["geometry"]
        xy = geometry.get("coordinates")
        if len(geometry) != 2 or geometry.get("type") != "Point" or type(xy) is not list:
            return None
        coordinates.append(xy)
    if set(map(len, coordinates)) != {2}:
        return None
    flat = list(itertools.chain.from_iterable(coordinates))
    types = set(map(type, flat))
    if not types <= {float, int}:
        return None
    if int in types and not all(abs(v) < 2**53 for v in flat if type(v) is int):
        return None
    array = np.array(coordinates, dtype=float)
    if not np.isfinite(array).all():
        return None
    return shapely.points(array)


def _features(doc: Any, where: str, errors: list[Problem]) -> list[dict] | None:
    """The features of a GeoJSON FeatureCollection, or None after reporting what is wrong."""
    if not (
        isinstance(doc, dict)
        and doc.get("type") == "FeatureCollection"
        and isinstance(doc.get("features"), list)
    ):
        found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        errors.append(
            Problem(
                where,
                "not a GeoJSON FeatureCollection: expected an object with "
                f'"type": "FeatureCollection" and a "features" list, found {found!r}',
            )
        )
        return None
    features = doc["features"]
    if not features:
        errors.append(Problem(where, "the layer is empty: expected at least one feature"))
        return None
    ok = True
    for i, feature in enumerate(features):
        if not (isinstance(feature, dict) and feature.get("type") == "Feature"):
            errors.append(
                Problem(
                    where, 'expected a GeoJSON Feature ({"type": "Feature", ...})', feature=f"#{i}"
                )
            )
            ok = False
        elif not isinstance(feature.get("geometry"), dict):
            errors.append(
                Problem(
                    where,
                    "missing geometry: expected a GeoJSON geometry object",
                    feature=f"#{i}",
                    field="geometry",
                )
            )
            ok = False
        elif not isinstance(feature.get("properties") or {}, dict):
            errors.append(
                Problem(
                    where, "expected an object of properties", feature=f"#{i}", field="properties"
                )
            )
            ok = False
        elif not _is_id(feature.get("id")):
            errors.append(Problem(where, _id_message(feature["id"]), feature=f"#{i}", field="id"))
            ok = False
    return features if ok else None


def _is_id(value: Any) -> bool:
    """GeoJSON allows a string or a number as a feature id (RFC 7946, 3.2)."""
    return value is None or isinstance(value, str) or _is_number(value)


def _id_message(value: Any) -> str:
    return f"expected a string or a number, found {shown(value)} (what GeoJSON allows as an id)"


def _is_number(value: Any) -> bool:
    """A JSON number every format can hold: a 64-bit integer or a finite double."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return _in_int64(value)
    return isinstance(value, float) and math.isfinite(value)


class _Labels(Sequence[str]):
    """Each feature's label for a problem, made only when a problem needs it."""

    def __init__(self, features: list[dict], kind: Kind) -> None:
        self._features = features
        self._kind = kind

    def __len__(self) -> int:
        return len(self._features)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        return _feature_label(self._features[index], int(index), self._kind)


def _feature_label(feature: dict, index: int, kind: Kind) -> str:
    props = feature.get("properties") or {}
    fid = props.get(kind.id_field or "id", feature.get("id"))
    ok = isinstance(fid, str) or (isinstance(fid, int) and not isinstance(fid, bool))
    return f"id {shown(fid)} (#{index})" if ok else f"#{index}"


def _to_wgs84(
    frame: gpd.GeoDataFrame,
    declared: bool,
    where: str,
    labels: Sequence[str],
    errors: list[Problem],
    warnings: list[Problem],
) -> gpd.GeoDataFrame | None:
    """Reproject a layer that declares another CRS; refuse coordinates that cannot be lon/lat.

    Without a ``crs`` member GeoJSON is WGS 84 whatever GDAL reports (EPSG:4979 when the
    coordinates have a z), so only a declared CRS is ever reprojected, or warned about."""
    if not declared or frame.crs is None:
        frame = frame.set_crs(WGS84, allow_override=True)
    elif not frame.crs.to_2d().equals(WGS84, ignore_axis_order=True):
        warnings.append(Problem(where, f"reprojected from {frame.crs.to_string()} to EPSG:4326"))
        frame = frame.to_crs(WGS84)
    else:
        frame = frame.set_crs(WGS84, allow_override=True)
    bounds = frame.geometry.bounds
    empty = frame.geometry.isna() | frame.geometry.is_empty  # reported by _check_geometry
    inside = bounds.minx.ge(-180) & bounds.maxx.le(180) & bounds.miny.ge(-90) & bounds.maxy.le(90)
    bad = ~(inside | empty)
    for i in bounds.index[bad]:
        b = bounds.loc[i]
        errors.append(
            Problem(
                where,
                f"coordinates cannot be lon/lat: found x {b.minx:g}..{b.maxx:g}, "
                f"y {b.miny:g}..{b.maxy:g};"
                " expected longitude -180..180 and latitude -90..90 (GeoJSON is lon/lat WGS84; "
                "for projected data add a 'crs' member naming its CRS, or reproject to EPSG:4326)",
                feature=labels[i],
                field="geometry",
            )
        )
    return None if bad.any() else frame


def _drop_z(frame: gpd.GeoDataFrame, where: str, warnings: list[Problem]) -> gpd.GeoDataFrame:
    """Keep x and y only: the map is 2D, and formats that declare a geometry type (FlatGeobuf,
    GeoPackage) refuse a 3D point in a 2D layer."""
    if not frame.geometry.has_z.any():
        return frame
    warnings.append(Problem(where, "z coordinates dropped: the map and exports are 2D"))
    return frame.set_geometry(shapely.force_2d(frame.geometry.values))


def _check_geometries(
    geoms: Any,
    kind: Kind,
    where: str,
    labels: Sequence[str],
    errors: list[Problem],
    warnings: list[Problem],
) -> list[Any]:
    """The layer's geometries, each checked as _check_geometry does; the layer is tested at
    once, and only the geometries that are missing, empty, of another type or invalid go
    through _check_geometry, in order, so its problems come in the same order."""
    array = np.asarray(geoms, dtype=object)
    allowed = [_TYPE_IDS[t] for t in kind.geometry]
    ok = np.isin(shapely.get_type_id(array), allowed) & ~shapely.is_empty(array)
    ok[ok] = shapely.is_valid(array[ok])
    out = list(array)
    for i in np.flatnonzero(~ok).tolist():
        out[i] = _check_geometry(array[i], kind, where, labels[i], errors, warnings)
    return out


def _check_geometry(
    geom: Any, kind: Kind, where: str, label: str, errors: list[Problem], warnings: list[Problem]
) -> Any:
    if geom is None or geom.is_empty:
        errors.append(Problem(where, "empty geometry", feature=label, field="geometry"))
        return geom
    if geom.geom_type not in kind.geometry:
        errors.append(
            Problem(
                where,
                f"geometry type {geom.geom_type} is not allowed for a "
                f"{kind.name} layer; expected {' or '.join(kind.geometry)}",
                feature=label,
                field="geometry",
            )
        )
        return geom
    if geom.is_valid:
        return geom
    reason = explain_validity(geom)
    repaired = _keep_dimension(shapely.make_valid(geom), _DIMENSION[geom.geom_type])
    if repaired is None or repaired.geom_type not in kind.geometry:
        errors.append(
            Problem(
                where,
                f"invalid {geom.geom_type} ({reason}) that cannot be "
                f"repaired into a {geom.geom_type}: fix the coordinates",
                feature=label,
                field="geometry",
            )
        )
        return geom
    warnings.append(
        Problem(
            where,
            f"invalid {geom.geom_type} ({reason}) repaired with shapely.make_valid",
            feature=label,
            field="geometry",
        )
    )
    return repaired


def _keep_dimension(geom: Any, dimension: int) -> Any:
    """Keep the parts of a repaired geometry that have the original's dimension."""
    parts = [g for g in shapely.get_parts(geom) if shapely.get_dimensions(g) == dimension]
    parts = [p for part in parts for p in shapely.get_parts(part)]
    if not parts or (sum(p.area for p in parts) == 0 and dimension == 2):
        return None
    merged = shapely.union_all(parts)
    return merged if not merged.is_empty else None


def _check_layer_properties(
    features: list[dict], kind: Kind, where: str, labels: Sequence[str], errors: list[Problem]
) -> dict[str, list[Any]]:
    """The layer's properties as columns (its kind's fields first, then the others by name),
    each value checked and normalised as _check_properties does for one feature.

    A column is tested at once; the features that a column-wise test does not clear (a
    problem, a nested value) go through _check_properties itself, in order, so the problems,
    their order and the values are exactly those of checking every feature in turn."""
    props = [f.get("properties") or {} for f in features]
    columns = _columns(props)
    suspects: set[int] = set()
    for name, values in columns.items():
        suspects.update(_property_suspects(name, values, props, kind))
    out = dict(columns)
    if kind.id_field is None:
        fids = [f.get("id") for f in features]
        if "id" in columns or any(fid is not None for fid in fids):
            out["id"] = [p.get("id", fid) for p, fid in zip(props, fids, strict=True)]
    empty = [None] * len(props)
    for spec in kind.fields.values():
        suspect, out[spec.name] = _check_column(spec, columns, empty)
        suspects.update(suspect)
    for i in sorted(suspects):
        record = _check_properties(props[i], features[i], kind, where, labels[i], errors)
        for name, values in out.items():
            values[i] = record.get(name)
    names = list(kind.fields) + sorted(set(out) - set(kind.fields))
    return {name: out[name] for name in names}


def _columns(props: list[dict]) -> dict[str, list[Any]]:
    """Each property name with its value in every feature (None where a feature lacks it)."""
    names = list(set().union(*props))
    if not names:
        return {}
    if set(map(len, props)) == {len(names)}:  # every feature has every property
        rows = list(map(operator.itemgetter(*names), props))
        values = [rows] if len(names) == 1 else [list(c) for c in zip(*rows, strict=True)]
    else:
        values = [[p.get(name) for p in props] for name in names]
    return dict(zip(names, values, strict=True))


def _indices(values: list[Any], types: Iterable[type]) -> list[int]:
    return [i for i, v in enumerate(values) if type(v) in types]


def _property_suspects(name: str, values: list[Any], props: list[dict], kind: Kind) -> list[int]:
    """The features whose value of ``name`` _property_problem may refuse, or that is nested
    (written as JSON text): every feature whose value this column-wise test cannot clear."""
    if name == COUNTRY_FIELD or not _is_unicode(name):
        return [i for i, p in enumerate(props) if name in p]
    types = set(map(type, values))
    nested = types - {str, int, float, bool, type(None)}  # dict, list
    out = _indices(values, nested) if nested else []
    if bool in types and name == "id" and kind.id_field is None:
        out += _indices(values, (bool,))
    if int in types:
        ints = [v for v in values if type(v) is int]
        if not (_in_int64(min(ints)) and _in_int64(max(ints))):
            out += [i for i, v in enumerate(values) if type(v) is int and not _in_int64(v)]
    if float in types:
        floats = np.array([v for v in values if type(v) is float], dtype=float)
        if not np.isfinite(floats).all():
            out += [i for i, v in enumerate(values) if type(v) is float and not math.isfinite(v)]
    if str in types:
        texts = values if types == {str} else [v for v in values if type(v) is str]
        if not _is_unicode("".join(texts)):
            out += [i for i, v in enumerate(values) if type(v) is str and not _is_unicode(v)]
    return out


def _check_column(
    spec: FieldSpec, columns: dict[str, list[Any]], empty: list[None]
) -> tuple[list[int], list[Any]]:
    """The features whose value of the field ``spec`` is missing while required, lacks a
    field it requires, or does not fit the spec; and the column of normalised values (None
    where the value is missing or does not fit)."""
    values = columns.get(spec.name, empty)
    if None in values or "" in values:
        present = [i for i, v in enumerate(values) if not (v is None or v == "")]
        suspects = [] if not spec.required else sorted(set(range(len(values))) - set(present))
    else:
        present, suspects = range(len(values)), []
    for needed in spec.requires:
        other = columns.get(needed, empty)
        suspects += [i for i in present if other[i] in (None, "")]
    given = values if len(present) == len(values) else [values[i] for i in present]
    if not _all_fit(spec, given):
        return _check_each(spec, values, present, columns, suspects)
    out = list(values)  # text, a slug, a URL or a float: normalised, it is the same
    if len(present) < len(values):
        for i in set(range(len(values))) - set(present):
            out[i] = None
    return suspects, out


def _all_fit(spec: FieldSpec, given: list[Any]) -> bool:
    """True when every value in ``given`` (none missing) is cleared by a column-wise test."""
    if not given:
        return True
    types = set(map(type, given))
    if spec.type == "text":
        return types == {str}
    if spec.type in ("slug", "url") and types == {str}:
        text = "\n".join(given) + "\n"
        pattern = _SLUGS if spec.type == "slug" else _PLAIN_URLS
        return text.count("\n") == len(given) and pattern.fullmatch(text) is not None
    if spec.type == "number" and types == {float}:
        array = np.array(given, dtype=float)
        low = -math.inf if spec.min is None else spec.min
        high = math.inf if spec.max is None else spec.max
        return bool((np.isfinite(array) & (array >= low) & (array <= high)).all())
    return False


def _check_each(
    spec: FieldSpec,
    values: list[Any],
    present: Iterable[int],
    columns: dict[str, list[Any]],
    suspects: list[int],
) -> tuple[list[int], list[Any]]:
    """_check_column's test one value at a time, each distinct value (and precision) once."""
    precisions = columns.get(spec.precision) if spec.precision else None
    out: list[Any] = [None] * len(values)
    present = list(present)
    given = [values[i] for i in present]
    ranks = [precisions[i] for i in present] if precisions is not None else [None] * len(given)
    if set(map(type, given)) == {str} and set(map(type, ranks)) <= {str, type(None)}:
        pairs = list(zip(given, ranks, strict=True))  # the usual case: text and its precision
        fits = {pair: _fits(spec, *pair) for pair in set(pairs)}
        for i, pair in zip(present, pairs, strict=True):
            fit = fits[pair]
            if fit is None:
                suspects.append(i)
            else:
                out[i] = fit[0] if spec.type == "date" else pair[0]
        return suspects, out
    known: dict[Any, Any] = {}
    for i in present:
        value = values[i]
        precision = precisions[i] if precisions is not None else None
        key = (type(value), value, type(precision), precision)
        try:
            fit = known[key]
        except KeyError:
            fit = known[key] = _fits(spec, value, precision)
        except TypeError:  # a list or an object: never fits
            fit = _fits(spec, value, precision)
        if fit is None:
            suspects.append(i)
        elif spec.type == "date":
            out[i] = fit[0]
        else:  # the value itself: 0.0 and -0.0 are one key of ``known``
            out[i] = _normalise(spec, value)
    return suspects, out


def _fits(spec: FieldSpec, value: Any, precision: Any) -> tuple[Any] | None:
    """(the normalised value,) when ``value`` fits the spec, else None."""
    props = {spec.precision: precision} if spec.precision else {}
    if _check_value(spec, value, props) is not None:
        return None
    return (_normalise(spec, value),)


def _check_properties(
    props: dict, feature: dict, kind: Kind, where: str, label: str, errors: list[Problem]
) -> dict:
    out: dict[str, Any] = {}
    refused = set()
    for name, value in props.items():
        message = _property_problem(name, value, kind)
        if message:
            errors.append(Problem(where, message, feature=label, field=_field_name(name)))
            refused.add(name)
        out[name] = (
            json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        )
    if kind.id_field is None and "id" not in out and feature.get("id") is not None:
        out["id"] = feature["id"]
    for spec in kind.fields.values():
        if spec.name in refused:
            continue
        value = props.get(spec.name)
        if value is None or value == "":
            if spec.required:
                errors.append(
                    Problem(
                        where,
                        f"missing required field; expected {_expected(spec)}",
                        feature=label,
                        field=spec.name,
                    )
                )
            out[spec.name] = None
            continue
        for needed in spec.requires:
            if props.get(needed) in (None, ""):
                errors.append(
                    Problem(
                        where,
                        f"missing; required when '{spec.name}' is given",
                        feature=label,
                        field=needed,
                    )
                )
        message = _check_value(spec, value, props)
        if message:
            errors.append(
                Problem(
                    where,
                    f"expected {_expected(spec)}, found {shown(value)}"
                    + (f" ({message})" if message is not True else ""),
                    feature=label,
                    field=spec.name,
                )
            )
            continue
        out[spec.name] = _normalise(spec, value)
    return out


def _property_problem(name: str, value: Any, kind: Kind) -> str | None:
    """What stops a property from being published as is, whatever its kind says of it:
    every value must be one that the map and every export format can hold."""
    if name == COUNTRY_FIELD:
        return (
            f"'{COUNTRY_FIELD}' is derived by the build (the country a point lies in); "
            "rename this property"
        )
    if name == "id" and kind.id_field is None and not _is_id(value):
        return _id_message(value)
    if isinstance(value, int) and not isinstance(value, bool) and not _in_int64(value):
        return (
            f"expected a whole number from -2**63 to 2**63-1 (64 bits), found {shown(value)}; "
            "write it as a string (in quotes) to keep it as text"
        )
    if type(value) is str and _is_unicode(value) and _is_unicode(name):
        return None  # most values: nothing nested to walk
    for part in _walk(name, value):
        if isinstance(part, float) and not math.isfinite(part):
            return f"expected a finite number, found {part!r} (JSON has no NaN or Infinity)"
        if isinstance(part, str) and not _is_unicode(part):
            return f"expected Unicode text, found {shown(part)} (a lone surrogate escape)"
    return None


def _walk(name: str, value: Any) -> Iterator[Any]:
    """The property's name, its value and every key and value nested in it, without recursion:
    the JSON parser allows nesting deeper than a recursive walk would."""
    stack = [name, value]
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _in_int64(value: int) -> bool:
    return INT64[0] <= value <= INT64[1]


def _is_unicode(text: str) -> bool:
    """False for a string with a lone surrogate ("\\ud800" in JSON): it cannot be written as
    UTF-8, so no page or file could hold it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _field_name(name: str) -> str:
    return name if _is_unicode(name) else name.encode("utf-8", "backslashreplace").decode()


def _expected(spec: FieldSpec) -> str:
    return {
        "text": "text",
        "slug": "a lower-case slug like 'junta-ends-sofa'",
        "date": "an ISO 8601 date (YYYY-MM-DD, YYYY-MM or YYYY)",
        "precision": f"one of {', '.join(PRECISIONS)}",
        "number": "a number" + _range(spec),
        "integer": "a whole number" + _range(spec),
        "url": "an http(s) URL",
        "iso3": "an ISO 3166-1 alpha-3 code like 'NER'",
        "enum": "one of " + ", ".join(repr(v) for v in spec.values),
    }[spec.type]


def _range(spec: FieldSpec) -> str:
    if spec.min is not None and spec.max is not None:
        return f" from {spec.min:g} to {spec.max:g}"
    if spec.min is not None:
        return f" of {spec.min:g} or more"
    return f" of {spec.max:g} or less" if spec.max is not None else ""


def _in_range(spec: FieldSpec, value: float) -> bool:
    low = -math.inf if spec.min is None else spec.min
    high = math.inf if spec.max is None else spec.max
    return low <= value <= high


def _check_value(spec: FieldSpec, value: Any, props: dict) -> str | bool | None:
    """None when the value fits the spec; True or a short reason when it does not."""
    t = spec.type
    if t == "text":
        return None if isinstance(value, str) else True
    if t == "slug":
        return None if isinstance(value, str) and _SLUG.match(value) else True
    if t == "precision":
        return None if value in PRECISIONS else True
    if t == "enum":
        return None if value in spec.values else True
    if t == "iso3":
        return None if isinstance(value, str) and _ISO3.match(value) else True
    if t == "number":
        return None if _is_number(value) and _in_range(spec, value) else True
    if t == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool) and _in_range(spec, value)
        return None if ok else True
    if t == "url":
        return url_problem(value) if isinstance(value, str) else True
    if t == "date":
        return _check_date(value, props.get(spec.precision) if spec.precision else None)
    raise AssertionError(f"unknown field type {t}")  # kinds.toml is ours: a bug, not bad input


def _check_date(value: Any, precision: Any) -> str | bool | None:
    if not isinstance(value, str):
        return True
    form = next((p for p, (rx, _) in _DATE_FORMS.items() if rx.match(value)), None)
    if form is None:
        return True
    try:
        _parse_date(value)
    except ValueError as exc:
        return str(exc)
    if isinstance(precision, str) and precision in _DATE_FORMS and form != precision:
        return f"precision is {precision!r}, so write it as {_DATE_FORMS[precision][1]}"
    return None


def _parse_date(value: str) -> dt.date:
    parts = [int(p) for p in value.split("-")] + [1, 1]
    return dt.date(parts[0], parts[1], parts[2])


def _normalise(spec: FieldSpec, value: Any) -> Any:
    if spec.type == "date":
        return _parse_date(value)
    if spec.type == "number":
        return float(value)
    return value


def _check_unique_ids(ids: list[Any] | None, kind: Kind, where: str, errors: list[Problem]) -> None:
    """Each repeated id, with the feature that has it first; ``ids`` is the layer's column of
    ids (None when it has none)."""
    if ids is None:
        return
    field = kind.id_field or "id"
    given = [fid for fid in ids if fid is not None]
    if len(set(given)) == len(given):
        return
    seen: dict[Any, int] = {}
    for i, fid in enumerate(ids):
        if fid is None:
            continue
        if fid in seen:
            errors.append(
                Problem(
                    where,
                    f"duplicate id {fid!r}: feature #{seen[fid]} has it too; "
                    "ids must be unique within a layer",
                    feature=f"#{i}",
                    field=field,
                )
            )
        else:
            seen[fid] = i
