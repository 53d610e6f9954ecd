"""Step 4: write every layer as data files GIS tools read (full-precision geometries).

Always: one GeoPackage with every layer (``<story>.gpkg``, styled for QGIS), one GeoJSON per
layer and one CSV per point layer. ``formats`` adds KML, zipped Shapefiles, FlatGeobuf and
GeoParquet. Every writer reads ``layer.frame`` (never the simplified ``layer.web``) through
:func:`geo.tables.typed_frame`, so each format declares the same field types, and every file is
reproducible: the same story gives the same bytes.

Formats whose layers hold one kind of geometry (GeoPackage, Shapefile) get a layer that mixes
points, lines and polygons as one table per kind, named ``<layer>_points``, ``<layer>_lines``
and ``<layer>_polygons``; a layer mixing single and multi parts of one kind is written as
multi parts there and in FlatGeobuf.

Names. No export overwrites another: :func:`export_problems` refuses a story in which two
tables or files would get the same name ignoring case (a mixed layer ``x`` splits into
``x_points``, which another layer may already be called) or a layer would take a GeoPackage
table name that GeoPackage, SQLite or QGIS use (``layer_styles``, ``gpkg_*``, ``rtree_*``,
``sqlite_*``). Field names follow :mod:`geo.tables`: unique ignoring case in every format.

The GeoPackage is written a table at a time into scratch GeoPackages that are then merged
with SQLite (:func:`merge_geopackages`): appending to one GeoPackage gets slower with every
table already in it, and a story of hundreds of layers took many minutes.

CSV cells that a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) get a ``'`` in front, as OWASP advises; numbers, dates and
every other format keep their exact values. KML links only http(s) URLs, like the web map.

This module holds the GeoPackage, GeoJSON, FlatGeobuf, GeoParquet and CSV writers and the
table of all writers; what they share (typed tables, metadata, GDAL calls) is in
:mod:`geo.tables`, the KML writer in :mod:`geo.kml` and the Shapefile writer in
:mod:`geo.shapefile`.
"""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from geo.combine import Story
from geo.kml import write_kml
from geo.load import Layer
from geo.problems import Problem, StoryError
from geo.shapefile import write_shapefile
from geo.styles import to_qml, to_sld
from geo.tables import (
    FIXED_TIME,
    LAYER_FILES,
    STORY_FILES,
    Table,
    all_tables,
    attribute_columns,
    free_name,
    gdal_config,
    gdal_warnings_to,
    layer_description,
    layer_metadata,
    records,
    table_names,
    table_style,
    text,
    write,
)

DEFAULT_FORMATS = ("geopackage", "geojson", "csv")
EXTRA_FORMATS = ("kml", "shapefile", "flatgeobuf", "geoparquet")

# GeoPackage 1.2: GDAL 3.6 and QGIS 3.22 warn that pyogrio's default 1.4 "may only be
# partially supported".
GPKG_VERSION = "1.2"
# Table names GeoPackage, its R-tree indexes and SQLite use, and QGIS's styles table.
GPKG_RESERVED_PREFIXES = ("gpkg_", "rtree_", "sqlite_")
GPKG_STYLES_TABLE = "layer_styles"

CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP: CSV injection


def parse_formats(names_text: str) -> tuple[str, ...]:
    """Parse --export's comma list ('all' for every extra format)."""
    names = [n.strip().lower() for n in names_text.split(",") if n.strip()]
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
    """Write the default formats and ``formats`` into ``folder``; return the files written.

    Raises StoryError, writing nothing, when :func:`export_problems` finds any; GDAL's warnings
    go to ``log``, never straight to stderr.
    """
    unknown = [f for f in formats if f not in WRITERS]
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; known: {', '.join(EXTRA_FORMATS)}")
    problems = export_problems(story)
    if problems:
        raise StoryError(problems)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with gdal_config(OGR_CURRENT_DATE=FIXED_TIME), gdal_warnings_to(log):
        for name in (*DEFAULT_FORMATS, *(f for f in EXTRA_FORMATS if f in formats)):
            paths = WRITERS[name](story, folder)
            log(f"exported {name}: {', '.join(p.name for p in paths)}")
            written.extend(paths)
    return written


# --- names: no export overwrites another ----------------------------------------------------


def export_problems(story: Story) -> list[Problem]:
    """Every table or file name the exports would write twice, or that GeoPackage reserves.

    Names are compared ignoring case, as GeoPackage (SQLite) and the macOS and Windows file
    systems do. Writes nothing: ``--check`` reports these too.
    """
    return _reserved_table_problems(story) + _collision_problems(story)


def _reserved_table_problems(story: Story) -> list[Problem]:
    problems = []
    for layer in story.layers:
        for table in table_names(layer):
            reason = _reserved_reason(table)
            if reason:
                problems.append(
                    Problem(
                        str(layer.path),
                        f"layer {layer.name!r} would be the GeoPackage table {table!r}, but "
                        f"{reason}; rename the layer",
                    )
                )
    return problems


def _reserved_reason(table: str) -> str | None:
    folded = table.lower()
    if folded == GPKG_STYLES_TABLE:
        return f"{GPKG_STYLES_TABLE!r} holds the layers' QGIS styles"
    prefix = next((p for p in GPKG_RESERVED_PREFIXES if folded.startswith(p)), None)
    if prefix:
        return f"names starting {prefix!r} (in any case) belong to GeoPackage and SQLite"
    return None


def _output_names(story: Story) -> list[tuple[str, str, Layer | None]]:
    """(kind, name, owner) of every file and GeoPackage table; the owner None is the story."""
    names: list[tuple[str, str, Layer | None]] = [
        ("file", f"{story.config.name}{suffix}", None) for suffix in STORY_FILES.values()
    ]
    for layer in story.layers:
        names += [("file", f"{layer.name}{suffix}", layer) for suffix in LAYER_FILES.values()]
        names += [("GeoPackage table", table, layer) for table in table_names(layer)]
    return names


def _collision_problems(story: Story) -> list[Problem]:
    """One problem per pair of layers (or layer and story) whose outputs share a name."""
    first: dict[tuple[str, str], tuple[str, Layer | None]] = {}
    reported: set[tuple[str, str]] = set()
    problems = []
    for kind, name, owner in _output_names(story):
        other_name, other = first.setdefault((kind, name.lower()), (name, owner))
        pair = (_owner_key(other), _owner_key(owner))
        if other is owner or owner is None or pair in reported:
            continue
        reported.add(pair)
        problems.append(
            Problem(
                str(owner.path),
                f"layer {owner.name!r} would write the {kind} {name!r}, but "
                f"{_owner_text(story, other)} writes {other_name!r}"
                f"{_collision_cause((name, owner), (other_name, other))}: one would overwrite "
                "the other; rename one of the layers",
            )
        )
    return problems


def _owner_key(owner: Layer | None) -> str:
    return "" if owner is None else owner.name


def _owner_text(story: Story, owner: Layer | None) -> str:
    if owner is None:
        return f"the story (named {story.config.name!r})"
    return f"layer {owner.name!r} ({owner.path})"


def _collision_cause(*named: tuple[str, Layer | None]) -> str:
    """Why two names collide: a layer split by geometry type, or a difference in case only."""
    causes = [
        f"layer {layer.name!r} mixes geometry types, so GeoPackage gets it as "
        + ", ".join(table_names(layer))
        for name, layer in named
        if layer is not None and name != layer.name and name in table_names(layer)
    ]
    if len({name for name, _ in named}) > 1:
        causes.append("names that differ only in upper/lower case are the same table or file")
    return f" ({'; '.join(causes)})" if causes else ""


# --- GeoPackage ---------------------------------------------------------------------------


def write_geopackage(story: Story, folder: Path) -> list[Path]:
    """All layers in one GeoPackage, with metadata and each layer's QGIS style.

    GDAL opens a GeoPackage once per layer written to it, and each opening reads every table
    already there: appending layer after layer takes quadratic time (400 layers, minutes). So
    GDAL writes each table to a GeoPackage of its own and :func:`merge_geopackages` joins them.
    """
    path = folder / f"{story.config.name}{STORY_FILES['geopackage']}"
    path.unlink(missing_ok=True)
    written = all_tables(story, split=True, promote=True)
    identifiers = _unique_titles(written)
    # The parts are scratch files: no need to wait for the disk after each one.
    with tempfile.TemporaryDirectory() as tmp, gdal_config(OGR_SQLITE_SYNCHRONOUS="OFF"):
        parts = [
            _write_gpkg_table(story, table, identifier, Path(tmp) / f"{i}.gpkg")
            for i, (table, identifier) in enumerate(zip(written, identifiers, strict=True))
        ]
        parts.append(_write_layer_styles(Path(tmp) / "styles.gpkg", written))
        merge_geopackages(parts, path)
    return [path]


def gpkg_columns(table: Table) -> dict[str, str]:
    """The layer options naming the FID and geometry columns: ``fid`` and ``geom``, unless a
    field has that name (ignoring case, as SQLite does), then ``_fid``, ``_geom``..."""
    taken = {c.lower() for c in attribute_columns(table.frame)}
    return {"FID": free_name("fid", taken), "GEOMETRY_NAME": free_name("geom", taken)}


def _unique_titles(written: list[Table]) -> list[str]:
    """Each table's title, with its table name added when an earlier table has the same one:
    a GeoPackage's identifiers (the names GIS tools show) must be unique."""
    seen: set[str] = set()
    identifiers = []
    for table in written:
        identifier = table.title
        if identifier in seen:
            identifier = f"{identifier} ({table.name})"
        seen.add(identifier)
        identifiers.append(identifier)
    return identifiers


def _write_gpkg_table(story: Story, table: Table, identifier: str, path: Path) -> Path:
    write(
        table,
        path,
        "GPKG",
        dataset_options={"VERSION": GPKG_VERSION},
        layer_options={
            "IDENTIFIER": identifier,
            "DESCRIPTION": layer_description(table.layer),
            **gpkg_columns(table),
        },
        layer_metadata=layer_metadata(story, table.layer),
    )
    return path


def _write_layer_styles(path: Path, written: list[Table]) -> Path:
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
                "f_geometry_column": gpkg_columns(table)["GEOMETRY_NAME"],
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
            for column in _LAYER_STYLES_COLUMNS
        }
    )
    pyogrio.write_dataframe(
        frame,
        path,
        layer=GPKG_STYLES_TABLE,
        driver="GPKG",
        use_arrow=True,
        dataset_options={"VERSION": GPKG_VERSION},
        layer_options={"FID": "id"},
    )
    return path


_LAYER_STYLES_COLUMNS = (
    "f_table_catalog",
    "f_table_schema",
    "f_table_name",
    "f_geometry_column",
    "styleName",
    "styleQML",
    "styleSLD",
    "useAsDefault",
    "description",
    "owner",
    "ui",
    "update_time",
)


def merge_geopackages(parts: Sequence[Path], target: Path) -> None:
    """Copy the first GeoPackage to ``target`` and add the tables of the others to it, with
    everything GDAL wrote for them: contents rows, R-tree indexes, triggers and metadata.

    Each part is one SQLite transaction, so the time grows with the data, not with the square
    of the number of tables. The result is what GDAL writes when it appends the tables.
    """
    shutil.copyfile(parts[0], target)
    db = sqlite3.connect(target, isolation_level=None)  # transactions as written below
    try:
        db.execute("PRAGMA synchronous = OFF")  # a failed build discards the whole file
        existing = {name for (name,) in db.execute("SELECT name FROM main.sqlite_master")}
        for part in parts[1:]:
            db.execute("ATTACH DATABASE ? AS part", (str(part),))
            db.execute("BEGIN")
            existing |= _merge_part(db, existing)
            db.execute("COMMIT")
            db.execute("DETACH DATABASE part")
    finally:
        db.close()


# GeoPackage tables both files have: how the part's rows join the target's.
_APPENDED = ("gpkg_contents", "gpkg_geometry_columns", "gpkg_ogr_contents", "gpkg_data_columns")
_SKIPPED = (
    "sqlite_sequence",  # SQLite updates it as the rows are inserted
    "gpkg_metadata_reference",  # copied with gpkg_metadata (new ids)
    "gpkg_tile_matrix_set",  # no rasters: empty
    "gpkg_tile_matrix",
)


def _merge_part(db: sqlite3.Connection, existing: set[str]) -> set[str]:
    """Add the tables of the attached database ``part`` to ``main``, whose schema already has
    ``existing``; return the names of the schema objects added."""
    objects = db.execute(
        "SELECT type, name, sql FROM part.sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
    ).fetchall()
    shadows = {
        f"{name}_{suffix}"
        for _, name, sql in objects
        if sql.upper().startswith("CREATE VIRTUAL TABLE")
        for suffix in ("node", "parent", "rowid")
    }  # an R-tree's own tables, made by CREATE VIRTUAL TABLE and filled through it
    new = [o for o in objects if o[1] not in existing and o[1] not in shadows]
    for kind, name, sql in new:  # tables first, triggers after: no trigger fires on the copy
        if kind == "table":
            db.execute(sql)
            db.execute(f"INSERT INTO main.{_quoted(name)} SELECT * FROM part.{_quoted(name)}")
    for kind, _, sql in new:
        if kind != "table":
            db.execute(sql)
    shared = [n for kind, n, _ in objects if kind == "table" and n in existing]
    for name in shared:
        _merge_rows(db, name)
    return {name for _, name, _ in new} | shadows


def _merge_rows(db: sqlite3.Connection, table: str) -> None:
    """Add the part's rows of a table both databases have."""
    if table in _APPENDED:
        db.execute(f"INSERT INTO main.{table} SELECT * FROM part.{table}")
    elif table == "gpkg_spatial_ref_sys":
        db.execute(f"INSERT OR IGNORE INTO main.{table} SELECT * FROM part.{table}")
    elif table == "gpkg_extensions":
        db.execute(
            "INSERT INTO main.gpkg_extensions SELECT * FROM part.gpkg_extensions AS p"
            " WHERE NOT EXISTS (SELECT 1 FROM main.gpkg_extensions AS m WHERE"
            " m.table_name IS p.table_name AND m.column_name IS p.column_name"
            " AND m.extension_name = p.extension_name)"
        )
    elif table == "gpkg_metadata":
        _merge_metadata(db)
    elif table not in _SKIPPED:
        (rows,) = db.execute(f"SELECT count(*) FROM part.{_quoted(table)}").fetchone()
        if rows:  # GDAL wrote something this merge does not know: never drop it silently
            raise RuntimeError(f"cannot merge the GeoPackage table {table!r}")


def _merge_metadata(db: sqlite3.Connection) -> None:
    """Copy each metadata document with a new id, and its references pointing to that id."""
    ids = [row[0] for row in db.execute("SELECT id FROM part.gpkg_metadata ORDER BY id")]
    for old in ids:
        new = db.execute(
            "INSERT INTO main.gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata)"
            " SELECT md_scope, md_standard_uri, mime_type, metadata FROM part.gpkg_metadata"
            " WHERE id = ?",
            (old,),
        ).lastrowid
        db.execute(
            "INSERT INTO main.gpkg_metadata_reference (reference_scope, table_name,"
            " column_name, row_id_value, timestamp, md_file_id, md_parent_id)"
            " SELECT reference_scope, table_name, column_name, row_id_value, timestamp, ?,"
            " md_parent_id FROM part.gpkg_metadata_reference WHERE md_file_id = ?",
            (new, old),
        )


def _quoted(name: str) -> str:
    """An SQL identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


# --- GeoJSON, FlatGeobuf, GeoParquet ------------------------------------------------------


def write_geojson(story: Story, folder: Path) -> list[Path]:
    """RFC 7946 GeoJSON: lon/lat, no crs member, counter-clockwise exterior rings.

    RFC7946=YES would round coordinates to 7 decimals; 15 keeps them within 1e-15 degrees.
    """
    return [
        _write_each(
            table,
            folder / f"{table.name}{LAYER_FILES['geojson']}",
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
            folder / f"{table.name}{LAYER_FILES['flatgeobuf']}",
            "FlatGeobuf",
            TITLE=table.layer.config.title,
            DESCRIPTION=layer_description(table.layer),
        )
        for table in all_tables(story, promote=True)
    ]


def _write_each(table: Table, path: Path, driver: str, **layer_options: Any) -> Path:
    path.unlink(missing_ok=True)
    write(table, path, driver, layer_options=layer_options)
    return path


def write_geoparquet(story: Story, folder: Path) -> list[Path]:
    """GeoParquet 1.0 (WKB geometries, the CRS in the ``geo`` metadata)."""
    written = []
    for table in all_tables(story):
        path = folder / f"{table.name}{LAYER_FILES['geoparquet']}"
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
        path = folder / f"{table.name}{LAYER_FILES['csv']}"
        path.write_text(_csv_text(table.frame), encoding="utf-8", newline="")
        written.append(path)
    return written


def _csv_text(frame: gpd.GeoDataFrame) -> str:
    columns = attribute_columns(frame)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*coordinate_names(columns), *map(csv_cell, columns)])
    for geometry, record in zip(frame.geometry, records(frame), strict=True):
        cells = [csv_cell(v) for v in record.values()]
        for point in shapely.get_parts(geometry):  # a MultiPoint gives one row per point
            writer.writerow([text(point.x), text(point.y), *cells])
    return out.getvalue()


def coordinate_names(columns: Sequence[str]) -> tuple[str, str]:
    """``lon`` and ``lat``, or ``_lon`` and ``_lat``...: the first pair no field takes (ignoring
    case), so the headers stay unique and the pair stays recognisable."""
    taken = {c.lower() for c in columns}
    prefix = ""
    while {f"{prefix}lon", f"{prefix}lat"} & taken:
        prefix += "_"
    return f"{prefix}lon", f"{prefix}lat"


def csv_cell(value: Any) -> str:
    """A value as CSV text. Text a spreadsheet would run as a formula gets a ``'`` in front
    (OWASP's advice against CSV injection); numbers and dates are never text, so -12.5 stays
    a number."""
    cell = text(value)
    if isinstance(value, str) and cell.startswith(CSV_FORMULA_STARTS):
        return "'" + cell
    return cell


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
