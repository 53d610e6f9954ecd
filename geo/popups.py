"""Popup and list HTML, produced by Jinja templates with autoescaping on.

The HTML is built here, in Python, and reaches the page as a JSON string that Leaflet's
``bindPopup`` takes as is: no folium ``Popup`` (its template literal would run ``${...}``).
Only http(s) values ever become links.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import jinja2
import pandas as pd

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("geo", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)

PRECISION_TEXT = {
    "site": "the site itself",
    "city": "approximate: city level",
    "region": "approximate: region level",
    "country": "approximate: country level, shown at a reference point",
}


def is_link(value: Any) -> bool:
    """True for an absolute http(s) URL: the only values rendered as links."""
    if not isinstance(value, str):
        return False
    parts = urlsplit(value.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def format_date(value: dt.date | None, precision: str | None = "day") -> str:
    """'16 March 2024', 'March 2024' or '2012', as precise as the source allows."""
    if value is None or pd.isna(value):
        return ""
    if precision == "year":
        return str(value.year)
    if precision == "month":
        return f"{value:%B} {value.year}"
    return f"{value.day} {value:%B} {value.year}"


def format_range(start: dt.date, end: dt.date | None, precision: str | None) -> str:
    """'12–14 March 2024' for a range in one month, else the two dates joined by a dash."""
    if end is None or pd.isna(end) or end == start:
        return format_date(start, precision)
    if precision == "day" and (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{format_date(end, precision)}"
    return f"{format_date(start, precision)} – {format_date(end, precision)}"


def _clean(record: Mapping[str, Any]) -> dict[str, Any]:
    """None for missing values (pandas NaN/NaT), so templates can test them simply."""
    return {k: (None if _missing(v) else v) for k, v in record.items()}


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _km(value: float | None) -> str:
    return "" if value is None else f"±{value:g} km"


_ENV.filters.update(date=format_date, km=_km)
_ENV.globals.update(is_link=is_link, precision_text=PRECISION_TEXT, date_range=format_range)


def event_popup(event: Mapping[str, Any], far_note: str | None = None) -> str:
    return _ENV.get_template("popup_event.html").render(e=_clean(event), far_note=far_note)


def base_popup(presences: list[Mapping[str, Any]]) -> str:
    """One popup for a site, listing each foreign presence there with its own dates and source."""
    rows = [_clean(p) for p in presences]
    return _ENV.get_template("popup_base.html").render(site=rows[0], presences=rows)


def country_popup(country: Mapping[str, Any], focus: str | None) -> str:
    return _ENV.get_template("popup_country.html").render(c=_clean(country), focus=focus)


def feature_popup(record: Mapping[str, Any], fields: list[str], title_field: str | None) -> str:
    """A plain layer's popup: its properties as a table, http(s) values as links."""
    clean = _clean(record)
    rows = [(f, clean.get(f)) for f in fields if f != title_field and clean.get(f) is not None]
    title = clean.get(title_field) if title_field else None
    return _ENV.get_template("popup_feature.html").render(title=title, rows=rows)


def template(name: str) -> jinja2.Template:
    """One of the package's templates, with autoescaping on (the page itself uses this)."""
    return _ENV.get_template(name)


def render_template(name: str, **context: Any) -> str:
    """Render one of the package's templates with autoescaping (the legend, the event list)."""
    return _ENV.get_template(name).render(**context)
