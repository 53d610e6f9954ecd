"""The data formats a build writes: always the first three, the others on request."""

from __future__ import annotations

DEFAULT_FORMATS = ("geopackage", "geojson", "csv")
EXTRA_FORMATS = ("kml", "shapefile", "flatgeobuf", "geoparquet")


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
