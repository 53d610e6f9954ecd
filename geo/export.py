"""Step 4: write every layer as data files GIS tools read (full-precision geometries)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from geo.combine import Story

EXTRA_FORMATS = ("kml", "shapefile", "flatgeobuf", "geoparquet")


def parse_formats(text: str) -> tuple[str, ...]:
    """Parse --export's comma list ('all' for every extra format)."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
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
    """Write one GeoJSON per layer into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for layer in story.layers:
        path = folder / f"{layer.name}.geojson"
        layer.frame.to_file(path, driver="GeoJSON", engine="pyogrio", RFC7946="YES")
        written.append(path)
    log(f"exported {len(written)} layer(s) as data")
    return written
