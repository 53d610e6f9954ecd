"""How facts read as text: dates as precise as their source, distances, links."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

PRECISION_TEXT = {
    "site": "the site itself",
    "city": "approximate: city level",
    "region": "approximate: region level",
    "country": "approximate: country level, shown at a reference point",
}


# Certainly a link (is_link's answer without urlsplit, which is slow for 100,000 events): http
# or https, '//', a host of letters, digits, dots and hyphens with an optional port, and only
# printable ASCII after it.
_PLAIN_LINK = re.compile(r"https?://[A-Za-z0-9._~-]+(?::[0-9]*)?(?:[/?#][!-~]*)?\Z")


def is_link(value: Any) -> bool:
    """True for an absolute http(s) URL: the only values any output turns into a link."""
    if not isinstance(value, str):
        return False
    if _PLAIN_LINK.match(value):
        return True
    parts = urlsplit(value.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def missing(value: Any) -> bool:
    """None, NaN, NaT or pandas' NA: a value the source did not give."""
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_date(value: dt.date | None, precision: str | None = "day") -> str:
    """'16 March 2024', 'March 2024' or '2012', as precise as the source allows."""
    if missing(value):
        return ""
    if precision == "year":
        return str(value.year)
    if precision == "month":
        return f"{value:%B} {value.year}"
    return f"{value.day} {value:%B} {value.year}"


def format_range(start: dt.date, end: dt.date | None, precision: str | None) -> str:
    """'12–14 March 2024' for a range in one month, else the two dates joined by a dash."""
    if missing(end) or end == start:
        return format_date(start, precision)
    if precision == "day" and (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{format_date(end, precision)}"
    return f"{format_date(start, precision)} – {format_date(end, precision)}"


def km(value: float | None) -> str:
    return "" if missing(value) else f"±{value:g} km"


def lat_lon(point: Any) -> str:
    """'38.91° N, 77.04° W'."""
    ns = "N" if point.y >= 0 else "S"
    ew = "E" if point.x >= 0 else "W"
    return f"{abs(point.y):.2f}° {ns}, {abs(point.x):.2f}° {ew}"
