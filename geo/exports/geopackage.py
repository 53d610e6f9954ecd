"""The GeoPackage: every layer in one file, with QGIS styles (``layer_styles``), metadata and a
QGIS project of the whole map (``qgis_projects``, see :mod:`geo.exports.qgis_project`).

It is written a table at a time into scratch GeoPackages that are then merged with SQLite
(:func:`merge_geopackages`): appending to one GeoPackage gets slower with every table already
in it, and a story of hundreds of layers took many minutes."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyogrio

from geo.combine import Story
from geo.exports.names import GPKG_STYLES_TABLE
from geo.exports.qgis import to_qml, to_sld
from geo.exports.qgis_project import write_qgis_project
from geo.exports.tables import (
    FIXED_TIME,
    STORY_FILES,
    Table,
    all_tables,
    attribute_columns,
    free_name,
    gdal_config,
    layer_description,
    layer_metadata,
    scene_of,
    table_style,
    write,
)

# GeoPackage 1.2: GDAL 3.6 and QGIS 3.22 warn that pyogrio's default 1.4 "may only be
# partially supported".
GPKG_VERSION = "1.2"

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
        parts.append(_write_layer_styles(Path(tmp) / "styles.gpkg", written, story))
        merge_geopackages(parts, path)
    write_qgis_project(path, story, written, identifiers)
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


def _write_layer_styles(path: Path, written: list[Table], story: Story) -> Path:
    """The ``layer_styles`` table as QGIS creates it, one default style per table."""
    rows = []
    for table in written:
        style = table_style(table, scene_of(story, table.layer))
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
