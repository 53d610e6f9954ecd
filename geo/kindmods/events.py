"""Events: dated, sourced points, coloured by category and clustered where they pile up.

Events far outside the view (Washington, Moscow) are moved to the view's edge; the web page
gathers them in a chip per place at the frame's edge, pointing the way, and their popups say
where they happened. Events placed only to a country (``location_precision = "country"``) are
not points: the web page lists them on the country's label. Events dated only to a month or a
year get a hollow marker.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geo.combine import COUNTRY_FIELD, Story
from geo.dates import as_written, day_number, span
from geo.kindmods.common import categories, category_legend, source_row, symbol
from geo.load import Layer
from geo.scene import LayerScene, LegendEntry
from geo.text import PRECISION_TEXT, format_range, is_link, km, lat_lon, missing
from geo.view import Bounds

FAR_MARGIN = 2.0  # degrees beyond the view before an event counts as far away
EDGE_INSET = 0.6  # degrees inside the view where a far event's edge marker sits
EDGE_SPREAD = 1.8  # degrees between edge markers that point at the same place (about 24 px)
COUNTRY_LEVEL = "country"  # the location_precision of an event placed only to its country
VAGUE_DATES = ("month", "year")  # date precisions drawn as a hollow marker

POPUP = (
    {"as": "time", "field": "when", "datetime": "when_iso", "class": "gs-date"},
    {"as": "text", "field": "category_text", "class": "gs-category"},
    {"as": "heading", "field": "title"},
    {"as": "text", "field": "description"},
    {"as": "text", "field": "note", "class": "gs-note"},
    {"as": "text", "field": "place_text", "class": "gs-place"},
    {"as": "text", "field": "precision_text", "class": "gs-precision"},
    {"as": "text", "field": "far_note", "class": "gs-far"},
    source_row(),
)


def scene(layer: Layer, story: Story, view: Bounds) -> LayerScene:
    frame = layer.web.sort_values(["date", "id"], kind="stable").reset_index(drop=True)
    base = symbol(layer.config.style, "point", "event")
    cats = categories(layer, "point", base)
    points = list(np.asarray(frame.geometry.values))  # faster than iterating the GeoSeries
    places = frame["place"].tolist()
    country_level = [p == COUNTRY_LEVEL for p in _values(frame, "location_precision")]
    edges = _edge_positions(points, places, view)
    edges = [None if c else e for c, e in zip(country_level, edges, strict=True)]
    far_places = [p for p, far in zip(places, edges, strict=True) if far]
    columns = _columns(frame, points, edges, country_level, cats.field if cats else None)
    drawn = frame.assign(**columns)
    drawn[frame.geometry.name] = [
        far[0] if far else g for g, far in zip(points, edges, strict=True)
    ]
    legend = category_legend(cats, "event") if cats else []
    if any(columns["date_vague"]):
        legend.append(LegendEntry("event-vague", "Date known only to the month or year", "#333333"))
    countries = list(dict.fromkeys(a for a in columns["area"] if a))
    if countries:
        legend.append(
            LegendEntry("badge", f"Events across {', '.join(countries)}: listed on its name", None)
        )
    if far_places:
        places = ", ".join(dict.fromkeys(far_places))
        legend.append(LegendEntry("arrow", f"Far away ({places}): at the edge", "#333333"))
    del frame, columns, points, edges, places  # a million events: memory
    listing = _listing(layer.name, drawn)
    return LayerScene(
        name=layer.name,
        kind="events",
        title=layer.config.title,
        family="point",
        frame=drawn,
        symbol=base,
        categories=cats,
        legend=tuple(legend),
        popup=POPUP,
        title_field=("when", "title"),  # "3 August 2023: Junta ends ...", a range with its end
        id_field="id",
        show=layer.config.show,
        in_legend=layer.config.legend,
        cluster=True,
        bearing_field="bearing",
        far_fields=("far_place", "far_lon", "far_lat"),
        area_field="area",
        area_rule=("location_precision", (COUNTRY_LEVEL,)),
        vague_field="date_vague",
        time=("date", "date_precision", "end_date", "date_precision"),
        days=("start_day", "end_day"),
        count_as="events",
        listing=listing,
    )


def _values(frame: Any, name: str) -> list[Any]:
    """A column as a list; None for every row when the frame has no such column."""
    return frame[name].tolist() if name in frame else [None] * len(frame)


def _once(function: Any) -> Any:
    """``function`` remembering its answer for each distinct (hashable) arguments: the
    places, precisions and dates of a layer repeat."""
    known: dict[tuple[Any, ...], Any] = {}

    def once(*args: Any) -> Any:
        try:
            return known[args]
        except KeyError:
            value = known[args] = function(*args)
            return value
        except TypeError:  # unhashable
            return function(*args)

    return once


def _columns(
    frame: Any,
    points: list[Any],
    edges: list[tuple | None],
    country_level: list[bool],
    category_field: str | None,
) -> dict[str, list[Any]]:
    """What the popup, the hover title and the text version read, as text, a column at a
    time; each distinct place, precision and date is put in words once."""
    n = len(frame)
    places = frame["place"].tolist()
    countries = _values(frame, COUNTRY_FIELD)
    dates = _each(
        _once(_dates),
        frame["date"].tolist(),
        _values(frame, "end_date"),
        frame["date_precision"].tolist(),
    )
    when = [d[2] for d in dates]
    far_rows = [i for i, far in enumerate(edges) if far]
    far_note: list[Any] = [None] * n
    bearing: list[Any] = [None] * n
    far_place: list[Any] = [None] * n
    far_lon: list[Any] = [None] * n
    far_lat: list[Any] = [None] * n
    for i in far_rows:
        geom, far = points[i], edges[i]
        far_note[i] = (
            f"This happened far outside the map, in {places[i]} ({lat_lon(geom)}); "
            "a chip at the map's edge points the way."
        )
        bearing[i] = far[1]
        far_place[i] = _short_place(places[i])
        far_lon[i] = round(float(geom.x), 4)
        far_lat[i] = round(float(geom.y), 4)
    area: list[Any] = [None] * n
    for i in (i for i, c in enumerate(country_level) if c):
        area[i] = area_of({"place": places[i], COUNTRY_FIELD: countries[i]})
    return {
        "start_day": [d[0] for d in dates],
        "end_day": [d[1] for d in dates],
        "when": when,
        "when_iso": [d[3] for d in dates],  # HTML's month/year forms
        "category_text": (
            [str(v) for v in frame[category_field].tolist()] if category_field else [None] * n
        ),
        "place_text": _each(_once(_place_text), places, countries),
        "precision_text": _each(
            _once(_precision_text),
            frame["location_precision"].tolist(),
            _values(frame, "precision_km"),
        ),
        "far_note": far_note,
        "bearing": bearing,
        "far_place": far_place,
        "far_lon": far_lon,
        "far_lat": far_lat,
        "area": area,
        "date_vague": [p in VAGUE_DATES for p in _values(frame, "date_precision")],
    }


def _each(function: Any, *columns: list[Any]) -> list[Any]:
    return [function(*args) for args in zip(*columns, strict=True)]


def _place_text(place: Any, country: Any) -> Any:
    if not missing(country) and country not in place:
        return f"{place}, in {country}"
    return place


def _precision_text(location_precision: Any, precision_km: Any) -> str:
    precision = PRECISION_TEXT.get(location_precision, location_precision)
    if not missing(precision_km):
        precision += f" ({km(precision_km)})"
    return f"Location: {precision}"


def _dates(date: Any, end: Any, precision: Any) -> tuple[Any, ...]:
    """An event's first and last day numbers, its dates in words, its date as written."""
    first, last = span(date, precision, end)
    when = format_range(date, end, precision)
    return day_number(first), day_number(last), when, as_written(date, precision)


def is_country_level(record: dict[str, Any]) -> bool:
    """Whether the event is placed only to a country: its point stands for no place."""
    return record.get("location_precision") == COUNTRY_LEVEL


def is_vague_date(record: dict[str, Any]) -> bool:
    """Whether the event's date is known only to the month or the year."""
    return record.get("date_precision") in VAGUE_DATES


def is_far(point: Any, view: Bounds) -> bool:
    """Whether a point lies far outside the view (beyond FAR_MARGIN degrees)."""
    minx, miny, maxx, maxy = view
    return not (
        minx - FAR_MARGIN <= point.x <= maxx + FAR_MARGIN
        and miny - FAR_MARGIN <= point.y <= maxy + FAR_MARGIN
    )


def area_of(record: dict[str, Any]) -> str:
    """The country a country-level event stands for: the country its point lies in, else its
    place in words without "(country)"."""
    country = record.get(COUNTRY_FIELD)
    if not missing(country):
        return str(country)
    return str(record["place"]).replace("(country)", "").strip()


def _short_place(place: str) -> str:
    """A far place's name for its chip: 'Washington' for 'Washington, D.C.'."""
    return place.split(",")[0].strip()


LISTING_KEYS = (
    "layer",
    "id",
    "sort",
    "when",
    "when_iso",
    "title",
    "place",
    "description",
    "note",
    "source_name",
    "source_url",
    "link",
)


def _listing(layer: str, frame: Any) -> tuple[ListingEntry, ...]:
    """The entries of the text version: what a reader without the map gets."""
    rows = _ListingRows(layer, frame)
    return tuple(ListingEntry(rows, i) for i in range(len(frame)))


class _ListingRows:
    """What the text version's entries read, shared by the entries of one layer: the ids and
    dates, which every entry's ``sort`` reads, as lists (the dates, which repeat, once
    each); the rest read from the frame for the few entries the page lists."""

    __slots__ = ("codes", "columns", "dates", "frame", "ids", "layer")

    def __init__(self, layer: str, frame: Any) -> None:
        self.layer = layer
        self.frame = frame
        self.columns: dict[str, pd.Series] = {}  # frame[key] once: a GeoDataFrame's is slow
        self.ids = frame["id"].tolist()
        codes, uniques = pd.factorize(
            pd.Series(list(zip(frame["when"].tolist(), frame["when_iso"].tolist(), strict=True)))
        )
        self.codes = codes
        self.dates = list(uniques)

    def value(self, row: int, key: str) -> Any:
        if key == "layer":
            return self.layer
        if key == "id":
            return self.ids[row]
        if key == "sort":
            return (self.dates[self.codes[row]][1], self.ids[row])
        if key == "when":
            return self.dates[self.codes[row]][0]
        if key == "when_iso":
            return self.dates[self.codes[row]][1]
        if key == "note":
            note = self._column("note").iat[row] if "note" in self.frame else None
            return None if missing(note) else note
        if key == "link":
            return is_link(self._column("source_url").iat[row])
        if key in LISTING_KEYS:
            return self._column(key).iat[row]
        raise KeyError(key)

    def _column(self, key: str) -> pd.Series:
        column = self.columns.get(key)
        if column is None:
            column = self.columns[key] = self.frame[key]
        return column


class ListingEntry(Mapping[str, Any]):
    """An entry of the text version (the keys of LISTING_KEYS), read when asked for: a
    million events' entries as dicts held gigabytes."""

    __slots__ = ("_row", "_rows")

    def __init__(self, rows: _ListingRows, row: int) -> None:
        self._rows = rows
        self._row = row

    def __getitem__(self, key: str) -> Any:
        return self._rows.value(self._row, key)

    def __iter__(self) -> Iterator[str]:
        return iter(LISTING_KEYS)

    def __len__(self) -> int:
        return len(LISTING_KEYS)

    def __repr__(self) -> str:
        return repr(dict(self))


def _edge_positions(
    points: list[Any], places: list[str], view: Bounds
) -> list[tuple[Any, float] | None]:
    """For each point far outside the view: a spot on the view's edge on the way towards it,
    and the bearing; None for the points in view.

    The events of one place are spread along the edge around that spot, closer together when
    many must fit, and never beyond the edge's ends: every marker stays inside the frame.
    """
    minx, miny, maxx, maxy = view
    inner = shapely.box(minx + EDGE_INSET, miny + EDGE_INSET, maxx - EDGE_INSET, maxy - EDGE_INSET)
    lo_x, lo_y, hi_x, hi_y = inner.bounds
    center = inner.centroid
    out: list[tuple[Any, float] | None] = [None] * len(points)
    groups: dict[str, list[int]] = {}
    xs, ys = shapely.get_x(points), shapely.get_y(points)  # as is_far tests each point
    near = (
        (minx - FAR_MARGIN <= xs)
        & (xs <= maxx + FAR_MARGIN)
        & (miny - FAR_MARGIN <= ys)
        & (ys <= maxy + FAR_MARGIN)
    )
    for i in np.flatnonzero(~near).tolist():
        groups.setdefault(places[i], []).append(i)
    for members in groups.values():
        target = points[members[0]]
        crossing = shapely.intersection(shapely.LineString([center, target]), inner.exterior)
        edge = shapely.get_parts(crossing)[0] if not crossing.is_empty else center
        bearing = math.degrees(math.atan2(target.x - center.x, target.y - center.y)) % 360
        on_side = math.isclose(edge.x, lo_x) or math.isclose(edge.x, hi_x)
        lo, hi, at = (lo_y, hi_y, edge.y) if on_side else (lo_x, hi_x, edge.x)
        n = len(members)
        spacing = min(EDGE_SPREAD, (hi - lo) / max(n - 1, 1))
        half = spacing * (n - 1) / 2
        middle = min(max(at, lo + half), hi - half)
        for k, i in enumerate(members):
            along = round(middle - half + k * spacing, 4)
            x, y = (edge.x, along) if on_side else (along, edge.y)
            out[i] = (shapely.Point(round(x, 4), round(y, 4)), round(bearing, 1))
    return out
