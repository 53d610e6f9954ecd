"""Step 4: write every layer as data files GIS tools read (full-precision geometries).

Always: one GeoPackage with every layer (``<story>.gpkg``, styled for QGIS, with a QGIS project),
one GeoJSON per layer and one CSV per point layer. ``formats`` adds KML, zipped Shapefiles,
FlatGeobuf and GeoParquet. Last, ``datapackage.json`` describes every file written (a
Frictionless Data Package, with each file's hash, licences, sources and CSV schema).

Every writer reads ``layer.frame`` (never the simplified ``layer.web``) through
:func:`geo.exports.tables.typed_frame`, so each format declares the same field types, and
every file is reproducible: the same story gives the same bytes.

Formats whose layers hold one kind of geometry (GeoPackage, Shapefile) get a layer that mixes
points, lines and polygons as one table per kind, named ``<layer>_points``, ``<layer>_lines``
and ``<layer>_polygons``; a layer mixing single and multi parts of one kind is written as
multi parts there and in FlatGeobuf.

Names. No export overwrites another: :func:`export_problems` refuses a story in which two
tables or files would get the same name ignoring case (a mixed layer ``x`` splits into
``x_points``, which another layer may already be called) or a layer would take a GeoPackage
table name that GeoPackage, SQLite or QGIS use (``layer_styles``, ``gpkg_*``, ``rtree_*``,
``sqlite_*``). Field names follow :mod:`geo.exports.tables`: unique ignoring case in every format.

The GeoPackage is written a table at a time into scratch GeoPackages that are then merged
with SQLite (:func:`merge_geopackages`): appending to one GeoPackage gets slower with every
table already in it, and a story of hundreds of layers took many minutes.

CSV cells that a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) get a ``'`` in front, as OWASP advises; numbers, dates and
every other format keep their exact values. KML links only http(s) URLs, like the web map.

One module per format family: ``geopackage``, ``vector`` (GeoJSON, FlatGeobuf, GeoParquet),
``csv_files``, ``kml``, ``shapefile``; ``qgis`` writes the scenes' styles as QML and SLD and
``qgis_project`` the QGIS project stored in the GeoPackage; ``datapackage`` describes the files;
``tables`` is what every writer shares (typed tables, field names, metadata, GDAL calls), and
``names`` checks that no export overwrites another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from geo.combine import Story
from geo.exports.csv_files import write_csv
from geo.exports.datapackage import DATAPACKAGE, write_datapackage
from geo.exports.datapackage import prepare as prepare_datapackage
from geo.exports.geopackage import write_geopackage
from geo.exports.kml import write_kml
from geo.exports.names import export_problems
from geo.exports.shapefile import write_shapefile
from geo.exports.tables import (
    FIXED_TIME,
    LAYER_FILES,
    STORY_FILES,
    all_tables,
    csv_tables,
    gdal_config,
    gdal_warnings_to,
    shared_typed_frames,
)
from geo.exports.vector import write_flatgeobuf, write_geojson, write_geoparquet
from geo.formats import DEFAULT_FORMATS, EXTRA_FORMATS, parse_formats
from geo.problems import StoryError

__all__ = [
    "EXTRA_FORMATS",
    "export_formats",
    "export_problems",
    "exporting",
    "parse_formats",
    "planned_files",
    "prepare_datapackage",
    "write_datapackage",
    "write_exports",
    "write_format",
]

Log = Callable[[str], None]


def export_formats(formats: Sequence[str]) -> list[str]:
    """The formats to write, in the order they are written: the default ones, then those of
    ``formats`` (raises ValueError naming an unknown one)."""
    unknown = [f for f in formats if f not in WRITERS]
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; known: {', '.join(EXTRA_FORMATS)}")
    return [*DEFAULT_FORMATS, *(f for f in EXTRA_FORMATS if f in formats)]


@contextmanager
def exporting(story: Story, folder: Path, log: Log) -> Iterator[None]:
    """The block in which :func:`write_format` and :func:`write_datapackage` write into
    ``folder``: raises StoryError, writing nothing, when :func:`export_problems` finds any;
    GDAL's warnings go to ``log``, never straight to stderr; each layer is typed once for all
    the formats (:func:`geo.exports.tables.shared_typed_frames`), here, so that a forked
    worker shares the typed frames rather than typing them again."""
    problems = export_problems(story)
    if problems:
        raise StoryError(problems)
    folder.mkdir(parents=True, exist_ok=True)
    with gdal_config(OGR_CURRENT_DATE=FIXED_TIME), gdal_warnings_to(log), shared_typed_frames():
        all_tables(story)
        yield


def write_format(story: Story, folder: Path, name: str, log: Log) -> list[Path]:
    """Write one format's files into ``folder`` (inside :func:`exporting`); return them."""
    paths = WRITERS[name](story, folder)
    log(f"exported {name}: {', '.join(p.name for p in paths)}")
    return paths


def write_exports(story: Story, folder: Path, formats: Sequence[str], log: Log) -> list[Path]:
    """Write the default formats and ``formats`` into ``folder``, then ``datapackage.json``
    describing them; return the files written. One format after another, in this process
    (a build shares them out with geo.parallel); raises as :func:`exporting` does."""
    names = export_formats(formats)
    with exporting(story, folder, log):
        written = [path for name in names for path in write_format(story, folder, name, log)]
        written.append(write_datapackage(story, folder, written))  # last: hashes final bytes
    return written


def planned_files(story: Story, formats: Sequence[str]) -> list[str]:
    """The names of the files :func:`write_format` writes for ``formats`` and then
    ``datapackage.json``, known before any is written (the page links to them)."""
    names = []
    for name in formats:
        if name in STORY_FILES:
            names.append(f"{story.config.name}{STORY_FILES[name]}")
        elif name == "csv":
            names += [f"{t.name}{LAYER_FILES[name]}" for t in csv_tables(story)]
            names += [f"{t.name}{LAYER_FILES[name]}" for t in story.config.tables]
        else:
            names += [f"{layer.name}{LAYER_FILES[name]}" for layer in story.layers]
    return [*names, DATAPACKAGE]


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
