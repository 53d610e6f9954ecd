"""``data/datapackage.json``: every exported file described as a Frictionless Data Package
(https://specs.frictionlessdata.io/data-package/), so a reader, a data portal or a script
can tell what each file holds, where it comes from and on what terms, and check that it
arrived whole.

Each file is a resource with its format, media type, size, sha256 hash, licences and sources.
A CSV is a tabular resource whose schema names every column with its type and description:
the layer's kind gives them (``geo/kinds.toml``), the columns the exports add (``lon``/``lat``,
``date_start``/``date_end``, ``in_country``) are described here, and a property no kind
declares is typed as the exports type it (:func:`geo.exports.tables.typed_frame`). Geo formats
(GeoPackage, GeoJSON, KML, zipped Shapefile, FlatGeobuf, GeoParquet) are plain file resources.
A file that is no layer's is listed with its format, size and hash only.

It is written after every other file, so the hashes are those of the final bytes, and it is
deterministic: resources in the order the files were written, keys sorted, no timestamps.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from geo.combine import Story
from geo.exports.csv_files import coordinate_names, csv_cell
from geo.exports.tables import (
    LAYER_FILES,
    STORY_FILES,
    Table,
    attribute_columns,
    csv_tables,
    field_names,
    interval_names,
    licence,
    shared,
    source_pairs,
)
from geo.figures import FigureTable, export_rows
from geo.kinds import PRECISIONS, FieldSpec
from geo.load import COUNTRY_FIELD, Layer

DATAPACKAGE = "datapackage.json"

# Export format -> (the package's "format", its media type, its name, what the file is).
FORMATS = {
    "geopackage": (
        "gpkg",
        "application/geopackage+sqlite3",
        "GeoPackage",
        "GeoPackage 1.2, EPSG:4326, with each layer's QGIS style and a QGIS project of the "
        "whole map (in QGIS: Project > Open From > GeoPackage)",
    ),
    "geojson": ("geojson", "application/geo+json", "GeoJSON", "GeoJSON (RFC 7946)"),
    "csv": (
        "csv",
        "text/csv",
        "CSV",
        "CSV, one row per point: lon and lat (WGS 84) first, then the attributes; UTF-8 with "
        "a byte-order mark",
    ),
    "kml": ("kml", "application/vnd.google-earth.kml+xml", "KML", "KML, one folder per layer"),
    "shapefile": (
        "zip",
        "application/zip",
        "Shapefile",
        "Zipped Shapefile (UTF-8); fields.txt in the zip maps the shortened field names",
    ),
    # no media type is registered with IANA for FlatGeobuf yet
    "flatgeobuf": ("fgb", "application/flatgeobuf", "FlatGeobuf", "FlatGeobuf"),
    "geoparquet": ("parquet", "application/vnd.apache.parquet", "GeoParquet", "GeoParquet"),
}

# Table Schema types of the exports' column types.
_ARROW_TYPES = (
    (pa.types.is_string, "string"),
    (pa.types.is_large_string, "string"),
    (pa.types.is_floating, "number"),
    (pa.types.is_integer, "integer"),
    (pa.types.is_boolean, "boolean"),
    (pa.types.is_date, "date"),
)
_PATTERNS = {  # what geo.load accepts, in XML Schema's regular expressions (implicitly whole)
    "slug": "[a-z0-9]+(-[a-z0-9]+)*",
    "iso3": "[A-Z]{3}",
    "date": "[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?",
}
_PER_FEATURE_SOURCE = ("source_name", "source_url")


@dataclass(frozen=True)
class Prepared:
    """The slow parts of the descriptor, found ahead where a core is free (a build's worker,
    once its own files are written): files' sizes and hashes by name, the sources each layer
    cites by layer name."""

    files: dict[str, tuple[int, str]]
    sources: dict[str, set[tuple[str, str | None]]]


def prepare(story: Story, files: Iterable[Path]) -> Prepared:
    """The sizes and hashes of ``files`` and every layer's cited sources."""
    return Prepared(
        {path.name: _size_and_hash(path) for path in files},
        {layer.name: _source_pairs(layer) for layer in story.layers},
    )


def write_datapackage(
    story: Story, folder: Path, written: Sequence[Path], prepared: Prepared | None = None
) -> Path:
    """Describe the files in ``written`` (all in ``folder``) in ``folder/datapackage.json``;
    ``prepared`` holds what :func:`prepare` found of them (the same as found here)."""
    files: Mapping[str, tuple[int, str]] = {}
    if prepared is not None:
        files = prepared.files
        for layer in story.layers:  # kept where _source_pairs keeps what it finds
            shared("source pairs", (layer,), lambda layer=layer: prepared.sources[layer.name])
    path = folder / DATAPACKAGE
    package = datapackage(story, written, files)
    text = json.dumps(package, ensure_ascii=False, indent=2, sort_keys=True)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def datapackage(
    story: Story, written: Sequence[Path], files: Mapping[str, tuple[int, str]] | None = None
) -> dict[str, Any]:
    """The Data Package descriptor of the written files (``files``: some of their sizes and
    hashes, found already)."""
    points = {t.name: t for t in csv_tables(story)}
    names: set[str] = set()
    resources = [_resource(story, path, points, names, files or {}) for path in written]
    config = story.config
    package: dict[str, Any] = {
        "profile": "data-package",
        "name": _unique_name(config.name, set()),
        "title": config.title,
        "licenses": _licences(story.layers),
        "sources": _sources(story.layers, _cited(story.layers)),
        "resources": resources,
    }
    description = " ".join(t for t in (config.description or config.subtitle, config.credit) if t)
    if description:
        package["description"] = description
    return package


def _resource(
    story: Story,
    path: Path,
    points: dict[str, Table],
    names: set[str],
    files: Mapping[str, tuple[int, str]],
) -> dict[str, Any]:
    export, layers = _contents(story, path.name)
    fmt, mediatype, label, what = FORMATS[export]
    size, digest = files.get(path.name) or _size_and_hash(path)
    resource: dict[str, Any] = {
        "name": _unique_name(path.name, names),
        "path": path.name,
        "format": fmt,
        "mediatype": mediatype,
        "bytes": size,
        "hash": f"sha256:{digest}",
        "profile": "data-resource",
    }
    if export != "csv":  # read as a file: Frictionless checks its size and hash, not rows
        resource["type"] = "file"
    figures = {f"{t.name}{LAYER_FILES['csv']}": t for t in story.config.tables}
    if path.name in figures:
        resource.update(figures_resource(story, figures[path.name]))
        return resource
    if not layers:  # a file no layer wrote: described by its format only
        resource["description"] = f"{what}."
        return resource
    cited = _cited(layers)
    sources = _sources(layers, cited)
    resource.update(
        title=f"{_titles(layers) if len(layers) == 1 else story.config.title} ({label})",
        description=f"{_what_layers(layers)}. {what}.{_feature_sources(layers, len(cited))}",
        licenses=_licences(layers),
        sources=sources,
    )
    table = points.get(path.name.removesuffix(LAYER_FILES["csv"]))
    if export == "csv" and table is not None:
        resource.update(
            profile="tabular-data-resource",
            type="table",
            encoding="utf-8-sig",  # the byte-order mark, so that readers skip it
            schema=csv_schema(table),
        )
    return resource


def _size_and_hash(path: Path) -> tuple[int, str]:
    """The file's size and SHA-256, read a block at a time: a million events' GeoJSON is
    600 MB, too much to hold beside the story."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _contents(story: Story, file_name: str) -> tuple[str, list[Layer]]:
    """The export format that wrote the file, and the layers it holds (none: a file of the
    story that is not a layer)."""
    for export, suffix in STORY_FILES.items():
        if file_name == f"{story.config.name}{suffix}":
            return export, list(story.layers)
    for export, suffix in sorted(LAYER_FILES.items(), key=lambda item: -len(item[1])):
        if file_name.endswith(suffix):
            name = file_name.removesuffix(suffix)
            return export, [layer for layer in story.layers if layer.name == name]
    raise ValueError(f"no export writes a file named {file_name!r}")


def _titles(layers: Sequence[Layer]) -> str:
    return ", ".join(layer.config.title for layer in layers)


def _what_layers(layers: Sequence[Layer]) -> str:
    if len(layers) == 1:
        return f"{layers[0].config.title} (the story's layer {layers[0].name!r})"
    return f"Every layer of the story: {_titles(layers)}"


def _feature_sources(layers: Sequence[Layer], listed: int) -> str:
    """Say which layers' features carry their own source (events, bases)."""
    sourced = [layer for layer in layers if all(f in layer.frame for f in _PER_FEATURE_SOURCE)]
    if not sourced:
        return ""
    titles = [layer.config.title for layer in sourced]
    which = ", ".join(titles[:-1]) + f" and {titles[-1]}" if len(titles) > 1 else titles[0]
    whose = "Each feature" if len(layers) == 1 else f"Each feature of {which}"
    where = "sources lists them all" if listed < SOURCES_LIMIT else "too many to list here"
    return f" {whose} names its own source (source_name, source_url); {where}."


# --- licences and sources -------------------------------------------------------------------


def _licences(layers: Iterable[Layer]) -> list[dict[str, str]]:
    """The layers' licences, each with its text as title. A Data Package licence needs an Open
    Definition id: 'other-pd' for a public-domain statement, an id itself (e.g. 'CC-BY-4.0'),
    else 'notspecified': the text (a source's own terms) names no licence the package can."""
    texts = sorted({licence(layer) for layer in layers})
    return [{"name": _licence_id(text), "title": text} for text in texts]


def _licence_id(text: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9.+-]+", text):
        return text
    return "other-pd" if "public domain" in text.lower() else "notspecified"


SOURCES_LIMIT = 1_000  # distinct sources a resource lists; beyond, its features name theirs


def _cited(layers: Iterable[Layer]) -> set[tuple[str, str | None]]:
    """(title, url) of every source the layers name: their own (map.toml) and their
    features' (events, bases and a country's note each cite theirs)."""
    found: set[tuple[str, str | None]] = set()
    for layer in layers:
        found |= _source_pairs(layer)
    return found


def _sources(layers: Sequence[Layer], cited: set[tuple[str, str | None]]) -> list[dict[str, str]]:
    """The sources a resource lists, by title: all it cites, or beyond SOURCES_LIMIT (an
    events layer of 100,000 rows) the layers' own, as each feature names its own anyway."""
    if len(cited) >= SOURCES_LIMIT:
        own = {(lay.config.source_name, lay.config.source_url) for lay in layers}
        cited = {(name or url or "", url) for name, url in own if name or url}
    return [
        {"title": title, "path": url} if url else {"title": title} for title, url in sorted(cited)
    ]


def _source_pairs(layer: Layer) -> set[tuple[str, str | None]]:
    """(title, url) of the layer's source and of each source its features cite (the fields
    geo.exports.tables.sources reads); found once per layer while the exports are written."""
    return set(shared("source pairs", (layer,), lambda: _layer_source_pairs(layer)))


def _layer_source_pairs(layer: Layer) -> set[tuple[str, str | None]]:
    out = set()
    for name, url in source_pairs(layer):  # the fields geo.exports.tables.sources reads
        name, url = _text(name), _text(url)
        if name or url:
            out.add((name or url or "", url))
    return out


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


# --- the CSV's schema -----------------------------------------------------------------------


def csv_schema(table: Table) -> dict[str, Any]:
    """The Table Schema of a layer's CSV: its header, column by column, with types and
    descriptions (geo.exports.csv_files writes it)."""
    layer = table.layer
    columns = attribute_columns(table.frame)
    lon, lat = coordinate_names(columns)
    fields = [
        {"name": lon, "type": "number", "description": "Longitude, WGS 84 (degrees)"},
        {"name": lat, "type": "number", "description": "Latitude, WGS 84 (degrees)"},
    ]
    original = {exported: name for name, exported in field_names(layer).items()}
    derived = _derived_descriptions(layer)
    for column in columns:
        spec = layer.kind.fields.get(original.get(column, ""))
        field: dict[str, Any] = {
            "name": csv_cell(column),
            "type": _column_type(table.frame[column]),
            "description": _description(column, original.get(column), spec, derived),
        }
        if spec is not None and spec.type == "url" and field["type"] == "string":
            field["format"] = "uri"
        constraints = _constraints(spec, field["type"]) if spec else {}
        if constraints:
            field["constraints"] = constraints
        fields.append(field)
    return {"fields": fields, "missingValues": [""]}


def figures_resource(story: Story, table: FigureTable) -> dict[str, Any]:
    """A figures table's CSV (geo.figures.export_rows): each column as written in the story's
    file, then the interval each figure's date covers; its rows cite their own sources."""
    header, rows = export_rows(table)
    derived = {
        header[-2]: "First day the figure's date covers (a month: its first day)",
        header[-1]: "Last day the figure's date covers (a month: its last day)",
    }

    def column_type(i: int) -> str:
        if header[i] in derived:
            return "date"
        cells = [row[i] for row in rows if row[i] not in ("", None)]
        return "integer" if cells and all(str(c).lstrip("-").isdigit() for c in cells) else "string"

    fields = [
        {
            "name": name,
            "type": column_type(i),
            "description": derived.get(
                name, f"'{name}' as written in the story's {table.name}.csv"
            ),
        }
        for i, name in enumerate(header)
    ]
    pairs = sorted({(f.source_name, f.source_url) for f in table.figures})
    return {
        "title": f"{table.title} (CSV)",
        "description": f"{table.title}: one row per figure as one source gives it, with that "
        "source (source_name, source_url) and its caveat (note). CSV, UTF-8 with a byte-order "
        "mark.",
        # the terms of the story's own facts: those of its layers whose features cite sources
        "licenses": _licences(
            layer for layer in story.layers if all(f in layer.frame for f in _PER_FEATURE_SOURCE)
        ),
        "sources": [{"title": name, "path": url} for name, url in pairs],
        "profile": "tabular-data-resource",
        "type": "table",
        "encoding": "utf-8-sig",
        "schema": {"fields": fields, "missingValues": [""]},
    }


def _column_type(column: Any) -> str:
    arrow = getattr(column.dtype, "pyarrow_dtype", None)
    for test, name in _ARROW_TYPES:
        if arrow is not None and test(arrow):
            return name
    return "any"


def _derived_descriptions(layer: Layer) -> dict[str, str]:
    start, end = interval_names(layer)
    return {
        COUNTRY_FIELD: "Country the point lies in, from the story's country polygons (empty "
        "outside them)",
        start: "First day the feature's dates cover (2017-11 gives 2017-11-01)",
        end: "Last day the feature's dates cover (2017-11 gives 2017-11-30)",
    }


def _description(
    column: str, original: str | None, spec: FieldSpec | None, derived: dict[str, str]
) -> str:
    renamed = (
        f" (the property {original!r}, renamed in the exports)"
        if original not in (None, column)
        else ""
    )
    if spec is not None and spec.description:
        return spec.description + renamed
    if column in derived:
        return derived[column]
    return f"The features' property {original!r}, as in the story{renamed}"


def _constraints(spec: FieldSpec, field_type: str) -> dict[str, Any]:
    """What geo.load already checked of every value, stated for the CSV's readers."""
    constraints: dict[str, Any] = {}
    if spec.required:
        constraints["required"] = True
    if spec.type == "enum" and field_type == "string":
        constraints["enum"] = list(spec.values)
    elif spec.type == "precision" and field_type == "string":
        constraints["enum"] = list(PRECISIONS)
    elif spec.type in _PATTERNS and field_type == "string":
        constraints["pattern"] = _PATTERNS[spec.type]
    if field_type in ("number", "integer"):
        if spec.min is not None:
            constraints["minimum"] = spec.min
        if spec.max is not None:
            constraints["maximum"] = spec.max
    return constraints


def _unique_name(text: str, taken: set[str]) -> str:
    """A Data Package name (lower-case ASCII letters, digits, '-', '_', '.'), unique in
    ``taken``: accents are dropped, other characters become '-'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = re.sub(r"[^-a-z0-9._]", "-", ascii_text.lower()) or "data"
    unique, n = name, 1
    while unique in taken:
        n += 1
        unique = f"{name}-{n}"
    taken.add(unique)
    return unique
