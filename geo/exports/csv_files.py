"""CSV: one file per point layer, lon and lat first, then the attributes; and one per figures
table of the story (map.toml's [tables.NAME], see geo.figures), its cells as written plus the
interval each date covers. UTF-8 with a byte-order mark, which spreadsheets need to keep
accents and GDAL and pandas skip.

Cells that a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) get a ``'`` in front, as OWASP advises; numbers, dates and every
other format keep their exact values."""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from geo.combine import Story
from geo.exports.tables import (
    LAYER_FILES,
    attribute_columns,
    column_values,
    csv_tables,
    text,
)
from geo.figures import FigureTable, export_rows

CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP: CSV injection

# --- CSV ----------------------------------------------------------------------------------


def write_csv(story: Story, folder: Path) -> list[Path]:
    """One CSV per point layer: lon, lat, then the attributes; one row per point."""
    written = []
    for table in csv_tables(story):
        path = folder / f"{table.name}{LAYER_FILES['csv']}"
        # A byte-order mark, so a spreadsheet opened by double-click reads UTF-8 (accents intact);
        # GDAL and pandas skip it.
        with path.open("w", encoding="utf-8-sig", newline="") as stream:
            _write_csv_rows(table.frame, stream)
        written.append(path)
    for figures in story.config.tables:  # names never collide: geo.story checks them
        path = folder / f"{figures.name}{LAYER_FILES['csv']}"
        path.write_text(_figures_text(figures), encoding="utf-8-sig", newline="")
        written.append(path)
    return written


def _figures_text(table: FigureTable) -> str:
    header, rows = export_rows(table)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(c) for c in header])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return out.getvalue()


CSV_BATCH = 50_000  # rows made into text at a time: a million rows' cells at once held gigabytes


def _csv_text(frame: gpd.GeoDataFrame) -> str:
    """The layer's CSV text (see :func:`_write_csv_rows`)."""
    out = io.StringIO()
    _write_csv_rows(frame, out)
    return out.getvalue()


def _write_csv_rows(frame: gpd.GeoDataFrame, stream: Any) -> None:
    """A column at a time: each column's cells are made once, then repeated for every point
    of a MultiPoint (one row per point), and the csv module writes a batch of rows in one
    call, CSV_BATCH features at a time."""
    columns = attribute_columns(frame)
    parts, owners = shapely.get_parts(np.asarray(frame.geometry.values), return_index=True)
    coordinates = shapely.get_coordinates(parts)
    if len(coordinates) != len(parts):  # an empty point has no x, y: as Point.x would, fail
        raise ValueError("a point layer's CSV cannot hold an empty point")
    writer = csv.writer(stream)
    writer.writerow([*coordinate_names(columns), *map(csv_cell, columns)])
    for first in range(0, len(frame), CSV_BATCH):
        last = min(first + CSV_BATCH, len(frame))
        lo, hi = np.searchsorted(owners, [first, last])  # the parts of these features
        rows = owners[lo:hi] - first
        lons = [repr(x) for x in coordinates[lo:hi, 0].tolist()]  # as text() writes a float
        lats = [repr(y) for y in coordinates[lo:hi, 1].tolist()]
        cells = [
            np.asarray(_csv_cells(frame[c].iloc[first:last]), dtype=object)[rows].tolist()
            for c in columns
        ]
        writer.writerows(zip(lons, lats, *cells, strict=True))


def _csv_cells(column: pd.Series) -> list[str]:
    """The column's values as CSV cells (:func:`csv_cell` of each); a text column in one go
    with Arrow's compute functions."""
    if column.dtype == pd.ArrowDtype(pa.string()):
        values = pc.fill_null(pa.array(column.array), "")  # missing: an empty cell
        formula = functools.reduce(
            pc.or_, (pc.starts_with(values, start) for start in CSV_FORMULA_STARTS)
        )
        quoted = pc.binary_join_element_wise("'", values, "")
        return pc.if_else(formula, quoted, values).to_pylist()
    as_text = _CELL_TEXT.get(column.dtype)
    if as_text is not None:  # never text, so never a formula: text() without its type tests
        return ["" if v is None else as_text(v) for v in column_values(column)]
    return [csv_cell(v) for v in column_values(column)]


# What text() does to a value of each of these types (its floats are Python floats).
_CELL_TEXT: dict[pd.ArrowDtype, Any] = {
    pd.ArrowDtype(pa.float64()): repr,
    pd.ArrowDtype(pa.int64()): str,
    pd.ArrowDtype(pa.date32()): lambda day: day.isoformat(),
}


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
