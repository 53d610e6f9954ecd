"""A date is as precise as its source: '2017-11' is the whole of November 2017, not its first
day. These helpers give the interval a date covers, for the timeline and the exports."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any

from geo.text import missing

EPOCH = dt.date(1970, 1, 1)


def period(value: dt.date, precision: str | None) -> tuple[dt.date, dt.date]:
    """First and last day of what the date says: a day, a month or a year."""
    if precision == "year":
        return dt.date(value.year, 1, 1), dt.date(value.year, 12, 31)
    if precision == "month":
        last = calendar.monthrange(value.year, value.month)[1]
        return dt.date(value.year, value.month, 1), dt.date(value.year, value.month, last)
    return value, value


def span(
    start: Any, start_precision: str | None, end: Any = None, end_precision: str | None = None
) -> tuple[dt.date | None, dt.date | None]:
    """The interval from ``start`` to ``end`` (or to the end of ``start`` when there is no end),
    each as precise as its source; (None, None) when there is no start."""
    if missing(start):
        return None, None
    first, last = period(start, start_precision)
    if not missing(end):
        last = period(end, end_precision or start_precision)[1]
    return first, last


def day_number(value: dt.date | None) -> int | None:
    """Days since 1970-01-01: how the page carries dates (the browser's Date works in these)."""
    return None if value is None else (value - EPOCH).days


def as_written(value: Any, precision: str | None) -> str | None:
    """The date as its source gives it: '2017-11-16', '2017-11' or '2017'."""
    if missing(value):
        return None
    if precision == "year":
        return f"{value.year:04d}"
    if precision == "month":
        return f"{value.year:04d}-{value.month:02d}"
    return value.isoformat()


_ISO = re.compile(r"^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?\Z")


def parse_iso(text: Any) -> tuple[dt.date, str] | None:
    """'2024', '2024-03' or '2024-03-16' as (date, precision); None for anything else."""
    match = _ISO.match(text) if isinstance(text, str) else None
    if not match:
        return None
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        value = dt.date(year, month or 1, day or 1)
    except ValueError:
        return None
    return value, "day" if day else "month" if month else "year"
