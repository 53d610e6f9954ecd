"""Zipped ESRI Shapefiles: one zip per layer, with a note mapping long field names to dBase's.

``fields.txt`` lists every field as the story names it and as the .dbf does where the two
differ: cut to dBase's 10 bytes, or renamed for every format (:mod:`geo.exports.tables`). The names
are read back from the written .dbf, so the list is what GIS tools show.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyogrio

from geo.combine import Story
from geo.exports.tables import (
    FIXED_DATE,
    LAYER_FILES,
    ZIP_TIME,
    Table,
    attribute_columns,
    field_names,
    licence,
    scene_of,
    sources,
    tables,
    write,
)
from geo.load import Layer

SHAPEFILE_NAME_BYTES = 10  # dBase field names
SHAPEFILE_TEXT_BYTES = 254  # dBase text values
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
SHAPEFILE_NOTES = "fields.txt"


def write_shapefile(story: Story, folder: Path) -> list[Path]:
    """One zip per layer: the shapefile(s), and fields.txt mapping long names to short ones."""
    written = []
    for layer in story.layers:
        path = folder / f"{layer.name}{LAYER_FILES['shapefile']}"
        with tempfile.TemporaryDirectory() as tmp:
            files: dict[str, bytes] = {}
            notes = []
            for table in tables(layer, scene_of(story, layer), split=True, promote=True):
                files.update(_shapefile_files(table, Path(tmp)))
                notes.append(_shapefile_notes(table, Path(tmp)))
            files[SHAPEFILE_NOTES] = _shapefile_readme(layer, notes).encode("utf-8")
        _write_zip(path, files)
        written.append(path)
    return written


def shapefile_field_names(columns: Sequence[str]) -> dict[str, str]:
    """Original name -> a unique dBase name of at most 10 bytes (case-insensitively unique)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        name = _fit_bytes(column, SHAPEFILE_NAME_BYTES)
        counter = 1
        while name.lower() in taken:
            suffix = f"_{counter}"
            name = _fit_bytes(column, SHAPEFILE_NAME_BYTES - len(suffix)) + suffix
            counter += 1
        names[column] = name
        taken.add(name.lower())
    return names


def _fit_bytes(text: str, limit: int) -> str:
    """The longest start of ``text`` whose UTF-8 form fits ``limit`` bytes."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _shapefile_files(table: Table, folder: Path) -> dict[str, bytes]:
    frame = table.frame.rename(columns=shapefile_field_names(attribute_columns(table.frame)))
    for column in frame.columns:
        if frame[column].dtype == pd.ArrowDtype(pa.string()):
            frame[column] = (
                frame[column].map(_shapefile_text, na_action="ignore").astype(frame[column].dtype)
            )
    write(
        Table(table.name, table.layer, frame, table.geometry_type),
        folder / f"{table.name}.shp",
        "ESRI Shapefile",
        layer_options={"ENCODING": "UTF-8", "DBF_DATE_LAST_UPDATE": FIXED_DATE, "RESIZE": "YES"},
    )
    return {
        f"{table.name}{ext}": (folder / f"{table.name}{ext}").read_bytes()
        for ext in SHAPEFILE_PARTS
    }


def _shapefile_text(value: str) -> str:
    return _fit_bytes(value, SHAPEFILE_TEXT_BYTES)


def _shapefile_notes(table: Table, folder: Path) -> str:
    """The table's fields: each property's name, and the .dbf's where it differs."""
    columns = attribute_columns(table.frame)
    written = pyogrio.read_info(folder / f"{table.name}.shp")["fields"].tolist()
    lines = [f"{table.name}.shp ({table.geometry_type}, {len(table.frame)} features)"]
    if not columns:  # dBase needs a field: GDAL adds one
        lines.append(f"  no properties: {', '.join(written)} is the placeholder dBase needs")
    originals = {exported: name for name, exported in field_names(table.layer).items()}
    for column, short in zip(columns, written[: len(columns)], strict=True):
        original = originals.get(column, column)  # date_start, date_end: derived, not renamed
        shown = original if original and original == original.strip() else repr(original)
        lines.append(f"  {shown} -> {short}" if original != short else f"  {shown}")
    cut = [
        c
        for c in columns
        if any(len(str(v).encode("utf-8")) > SHAPEFILE_TEXT_BYTES for v in table.frame[c].dropna())
    ]
    if cut:
        lines.append(f"  cut to {SHAPEFILE_TEXT_BYTES} bytes (dBase limit): {', '.join(cut)}")
    return "\n".join(lines)


def _shapefile_readme(layer: Layer, notes: list[str]) -> str:
    return (
        f"{layer.config.title} ({layer.name}) as ESRI Shapefile\n\n"
        "Text is UTF-8 (see the .cpg file); coordinates are lon/lat WGS 84 (EPSG:4326).\n"
        f"dBase field names hold at most {SHAPEFILE_NAME_BYTES} bytes: each field is listed as\n"
        "its name in the story -> its name in the shapefile where the two differ (a name that\n"
        "is blank or starts or ends with a space is quoted). Every format renames the same\n"
        "properties: a blank name becomes 'unnamed'; 'geometry' (in any case), 'OGC_FID' and a\n"
        "name equal to another's ignoring case get '_' in front.\n"
        "A shapefile holds one kind of geometry: a layer that mixes points, lines and polygons\n"
        f"is split into {layer.name}_points, {layer.name}_lines and {layer.name}_polygons.\n\n"
        f"Sources: {'; '.join(sources(layer)) or 'not stated'}\nLicence: {licence(layer)}\n\n"
        + "\n\n".join(notes)
        + "\n"
    )


def _write_zip(path: Path, files: dict[str, bytes]) -> None:
    """A zip whose bytes depend only on its contents (fixed times and permissions, sorted)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
