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

This module holds the GeoPackage, GeoJSON, FlatGeobuf, GeoParquet and CSV writers and the
table of all writers; what they share (typed tables, metadata, GDAL calls) is in
:mod:`geo.tables`, the KML writer in :mod:`geo.kml` and the Shapefile writer in
:mod:`geo.shapefile`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyogrio

from geo.combine import Story
from geo.kml import write_kml
from geo.shapefile import write_shapefile
from geo.styles import to_qml, to_sld
from geo.tables import (
    FIXED_TIME,
    Table,
    all_tables,
    gdal_config,
    layer_description,
    layer_metadata,
    records,
    table_style,
    text,
    write,
)

DEFAULT_FORMATS = ("geopackage", "geojson", "csv")
EXTRA_FORMATS = ("kml", "shapefile", "flatgeobuf", "geoparquet")

# GeoPackage 1.2: GDAL 3.6 and QGIS 3.22 warn that pyogrio's default 1.4 "may only be
# partially supported".
GPKG_VERSION = "1.2"


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
    """Write the default formats and ``formats`` into ``folder``; return the files written."""
    unknown = [f for f in formats if f not in WRITERS]
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; known: {', '.join(EXTRA_FORMATS)}")
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with gdal_config(OGR_CURRENT_DATE=FIXED_TIME):
        for name in (*DEFAULT_FORMATS, *(f for f in EXTRA_FORMATS if f in formats)):
            paths = WRITERS[name](story, folder)
            log(f"exported {name}: {', '.join(p.name for p in paths)}")
            written.extend(paths)
    return written


# --- GeoPackage ---------------------------------------------------------------------------


def write_geopackage(story: Story, folder: Path) -> list[Path]:
    """All layers in one GeoPackage, with metadata and each layer's QGIS style."""
    path = folder / f"{story.config.name}.gpkg"
    path.unlink(missing_ok=True)
    written = all_tables(story, split=True, promote=True)
    for i, table in enumerate(written):
        creating = i == 0
        write(
            table,
            path,
            "GPKG",
            append=not creating,
            dataset_options={"VERSION": GPKG_VERSION} if creating else None,
            layer_options={
                "IDENTIFIER": table.title,
                "DESCRIPTION": layer_description(table.layer),
            },
            layer_metadata=layer_metadata(story, table.layer),
        )
    _write_layer_styles(path, written)
    return [path]


def _write_layer_styles(path: Path, written: list[Table]) -> None:
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
                "f_geometry_column": "geom",
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
            for column in rows[0]
        }
    )
    pyogrio.write_dataframe(
        frame,
        path,
        layer="layer_styles",
        driver="GPKG",
        append=True,
        use_arrow=True,
        layer_options={"FID": "id"},
    )


# --- GeoJSON, FlatGeobuf, GeoParquet ------------------------------------------------------


def write_geojson(story: Story, folder: Path) -> list[Path]:
    """RFC 7946 GeoJSON: lon/lat, no crs member, counter-clockwise exterior rings.

    RFC7946=YES would round coordinates to 7 decimals; 15 keeps them within 1e-15 degrees.
    """
    return [
        _write_each(
            table,
            folder / f"{table.name}.geojson",
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
            folder / f"{table.name}.fgb",
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
        path = folder / f"{table.name}.parquet"
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
        path = folder / f"{table.name}.csv"
        path.write_text(_csv_text(table.frame), encoding="utf-8", newline="")
        written.append(path)
    return written


def _csv_text(frame: gpd.GeoDataFrame) -> str:
    points = frame.explode(index_parts=False)  # a MultiPoint gives one row per point
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["lon", "lat", *(c for c in frame.columns if c != frame.geometry.name)])
    for point, record in zip(points.geometry, records(points), strict=True):
        writer.writerow([text(point.x), text(point.y), *map(text, record.values())])
    return out.getvalue()


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
