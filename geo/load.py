"""Step 1: read every layer of a story with geopandas and check it against its kind's schema.

Everything after this step can trust its input: geometries are valid and of an allowed type,
coordinates are lon/lat in EPSG:4326, required properties are present with the right types,
dates are ``datetime.date`` values and ids are unique. Every problem is collected, then
raised together as a :class:`StoryError`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import shapely
from shapely.validation import explain_validity

from geo.kinds import PRECISIONS, FieldSpec, Kind, kinds
from geo.problems import Problem, StoryError
from geo.story import LayerConfig, StoryConfig

WGS84 = "EPSG:4326"
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ISO3 = re.compile(r"^[A-Z]{3}$")
_DATE_FORMS = {  # precision -> (pattern, example)
    "year": (re.compile(r"^\d{4}$"), "YYYY"),
    "month": (re.compile(r"^\d{4}-\d{2}$"), "YYYY-MM"),
    "day": (re.compile(r"^\d{4}-\d{2}-\d{2}$"), "YYYY-MM-DD"),
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
    path: Path
    frame: gpd.GeoDataFrame
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
        layer = _load_layer(story.folder / config.file, config, errors, warnings)
        if layer is not None:
            layers.append(layer)
    if errors:
        raise StoryError(errors)
    return layers, warnings


def _load_layer(
    path: Path, config: LayerConfig, errors: list[Problem], warnings: list[Problem]
) -> Layer | None:
    where = str(path)
    features = _read_features(path, errors)
    if features is None:
        return None
    try:
        # Geometry and CRS only: properties come from the JSON itself, untouched by GDAL's
        # type guessing (which turns "2024-03-16" into a timestamp and fails on "2024-02-30").
        frame = gpd.read_file(path, engine="pyogrio", columns=[])
    except Exception as exc:  # GDAL's own words are the most useful here
        errors.append(Problem(where, f"GDAL could not read it as GeoJSON: {exc}"))
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
    labels = [_feature_label(f, i, kind) for i, f in enumerate(features)]
    frame = _to_wgs84(frame, where, labels, errors, warnings)
    if frame is None:
        return None
    before = len(errors)
    geometries = [
        _check_geometry(g, kind, where, labels[i], errors, warnings)
        for i, g in enumerate(frame.geometry)
    ]
    records = [
        _check_properties(f.get("properties") or {}, f, kind, where, labels[i], errors)
        for i, f in enumerate(features)
    ]
    _check_unique_ids(records, kind, where, errors)
    if len(errors) > before:
        return None
    columns = list(kind.fields) + sorted({k for r in records for k in r} - set(kind.fields))
    data = {c: [r.get(c) for r in records] for c in columns}
    return Layer(config, path, gpd.GeoDataFrame(data, geometry=geometries, crs=WGS84))


def _read_features(path: Path, errors: list[Problem]) -> list[dict] | None:
    where = str(path)
    try:
        doc = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        errors.append(
            Problem(where, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")
        )
        return None
    except UnicodeDecodeError as exc:
        errors.append(Problem(where, f"not UTF-8 text: {exc}"))
        return None
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
    return features if ok else None


def _feature_label(feature: dict, index: int, kind: Kind) -> str:
    props = feature.get("properties") or {}
    fid = props.get(kind.id_field or "id", feature.get("id"))
    return f"id {fid!r} (#{index})" if isinstance(fid, str | int) else f"#{index}"


def _to_wgs84(
    frame: gpd.GeoDataFrame,
    where: str,
    labels: list[str],
    errors: list[Problem],
    warnings: list[Problem],
) -> gpd.GeoDataFrame | None:
    """Reproject a layer that declares another CRS; refuse coordinates that cannot be lon/lat."""
    if frame.crs is not None and not frame.crs.equals(WGS84):
        warnings.append(Problem(where, f"reprojected from {frame.crs.to_string()} to EPSG:4326"))
        frame = frame.to_crs(WGS84)
    bounds = frame.geometry.bounds
    bad = ~(bounds.minx.ge(-180) & bounds.maxx.le(180) & bounds.miny.ge(-90) & bounds.maxy.le(90))
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


def _check_properties(
    props: dict, feature: dict, kind: Kind, where: str, label: str, errors: list[Problem]
) -> dict:
    out: dict[str, Any] = {}
    for name, value in props.items():
        out[name] = (
            json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        )
    if kind.id_field is None and "id" not in out and feature.get("id") is not None:
        out["id"] = feature["id"]
    for spec in kind.fields.values():
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
                    f"expected {_expected(spec)}, found {value!r}"
                    + (f" ({message})" if message is not True else ""),
                    feature=label,
                    field=spec.name,
                )
            )
            continue
        out[spec.name] = _normalise(spec, value)
    return out


def _expected(spec: FieldSpec) -> str:
    return {
        "text": "text",
        "slug": "a lower-case slug like 'junta-ends-sofa'",
        "date": "an ISO 8601 date (YYYY-MM-DD, YYYY-MM or YYYY)",
        "precision": f"one of {', '.join(PRECISIONS)}",
        "number": "a number",
        "integer": "a whole number",
        "url": "an http(s) URL",
        "iso3": "an ISO 3166-1 alpha-3 code like 'NER'",
        "enum": "one of " + ", ".join(repr(v) for v in spec.values),
    }[spec.type]


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
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return None if ok else True
    if t == "integer":
        return None if isinstance(value, int) and not isinstance(value, bool) else True
    if t == "url":
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return "only http:// and https:// links are allowed"
        return None
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
    if precision in _DATE_FORMS and form != precision:
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


def _check_unique_ids(records: list[dict], kind: Kind, where: str, errors: list[Problem]) -> None:
    field = kind.id_field or "id"
    seen: dict[Any, int] = {}
    for i, record in enumerate(records):
        fid = record.get(field)
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
