"""CSV: one file per point layer, lon and lat first, then the attributes; UTF-8 with a
byte-order mark, which spreadsheets need to keep accents and GDAL and pandas skip.

Cells that a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) get a ``'`` in front, as OWASP advises; numbers, dates and every
other format keep their exact values."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely

from geo.combine import Story
from geo.exports.tables import (
    LAYER_FILES,
    all_tables,
    attribute_columns,
    records,
    text,
)

CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP: CSV injection

# --- CSV ----------------------------------------------------------------------------------


def write_csv(story: Story, folder: Path) -> list[Path]:
    """One CSV per point layer: lon, lat, then the attributes; one row per point."""
    written = []
    for table in all_tables(story):
        if table.dimension != "points":
            continue
        path = folder / f"{table.name}{LAYER_FILES['csv']}"
        # A byte-order mark, so a spreadsheet opened by double-click reads UTF-8 (accents intact);
        # GDAL and pandas skip it.
        path.write_text(_csv_text(table.frame), encoding="utf-8-sig", newline="")
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
