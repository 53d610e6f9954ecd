"""One file per layer: RFC 7946 GeoJSON, FlatGeobuf (with a spatial index) and GeoParquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geo.combine import Story
from geo.exports.tables import (
    LAYER_FILES,
    Table,
    all_tables,
    layer_description,
    write,
)

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
