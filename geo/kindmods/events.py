"""Events: dated, sourced points, coloured by category and clustered where they pile up.

Events far outside the view (Washington, Moscow) are moved to the view's edge; the web page
gathers them in a chip per place at the frame's edge, pointing the way, and their popups say
where they happened. Events placed only to a country (``location_precision = "country"``) are
not points: the web page lists them on the country's label. Events dated only to a month or a
year get a hollow marker.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely

from geo.combine import COUNTRY_FIELD, Story
from geo.dates import as_written, day_number, span
from geo.kindmods.common import categories, category_legend, each_record, source_row, symbol
from geo.kindmods.common import records as rows_of
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
    records = rows_of(frame)
    points = list(np.asarray(frame.geometry.values))  # faster than iterating the GeoSeries
    edges = _edge_positions(points, [r["place"] for r in records], view)
    edges = [None if is_country_level(r) else e for r, e in zip(records, edges, strict=True)]
    far_places = [r["place"] for r, far in zip(records, edges, strict=True) if far]
    rows, geometries = [], []
    dated: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # the dates' texts, made once per date
    for record, geom, far in zip(records, points, edges, strict=True):
        rows.append(_columns(record, geom, far, cats.field if cats else None, dated))
        geometries.append(far[0] if far else geom)
    drawn = frame.assign(**{k: [r[k] for r in rows] for k in rows[0]})
    drawn[frame.geometry.name] = geometries  # far-away events move to the edge
    legend = category_legend(cats, "event") if cats else []
    if any(is_vague_date(r) for r in records):
        legend.append(LegendEntry("event-vague", "Date known only to the month or year", "#333333"))
    countries = list(dict.fromkeys(r["area"] for r in rows if r["area"]))
    if countries:
        legend.append(
            LegendEntry("badge", f"Events across {', '.join(countries)}: listed on its name", None)
        )
    if far_places:
        places = ", ".join(dict.fromkeys(far_places))
        legend.append(LegendEntry("arrow", f"Far away ({places}): at the edge", "#333333"))
    del frame, records, rows, geometries, points, edges  # a million events: memory
    listing = tuple(_listing(layer.name, r) for r in each_record(drawn))
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
        title_field="hover",
        id_field="id",
        show=layer.config.show,
        in_legend=layer.config.legend,
        cluster=True,
        bearing_field="bearing",
        far_fields=("far_place", "far_lon", "far_lat"),
        area_field="area",
        vague_field="date_vague",
        time=("date", "date_precision", "end_date", "date_precision"),
        days=("start_day", "end_day"),
        count_as="events",
        listing=listing,
    )


def _columns(
    record: dict,
    geom: Any,
    far: tuple | None,
    category_field: str | None,
    dated: dict[tuple[Any, ...], tuple[Any, ...]],
) -> dict:
    """What the popup, the hover title and the text version read, as text; ``dated`` keeps
    the texts of each (date, end date, precision) already met."""
    place = record["place"]
    country = record.get(COUNTRY_FIELD)
    if not missing(country) and country not in place:
        place = f"{place}, in {country}"
    precision = PRECISION_TEXT.get(record["location_precision"], record["location_precision"])
    if not missing(record.get("precision_km")):
        precision += f" ({km(record['precision_km'])})"
    key = (record["date"], record.get("end_date"), record["date_precision"])
    try:
        start_day, end_day, when, when_iso = dated[key]
    except KeyError:
        start_day, end_day, when, when_iso = dated[key] = _dates(*key)
    return {
        "start_day": start_day,
        "end_day": end_day,
        "when": when,
        "when_iso": when_iso,  # HTML's month/year forms
        "hover": f"{when}: {record['title']}",  # a range keeps its end
        "category_text": str(record[category_field]) if category_field else None,
        "place_text": place,
        "precision_text": f"Location: {precision}",
        "far_note": (
            f"This happened far outside the map, in {record['place']} ({lat_lon(geom)}); "
            "a chip at the map's edge points the way."
            if far
            else None
        ),
        "bearing": far[1] if far else None,
        "far_place": _short_place(record["place"]) if far else None,
        "far_lon": round(float(geom.x), 4) if far else None,
        "far_lat": round(float(geom.y), 4) if far else None,
        "area": area_of(record) if is_country_level(record) else None,
        "date_vague": is_vague_date(record),
    }


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


def _listing(layer: str, record: dict) -> dict[str, Any]:
    """An entry of the text version: what a reader without the map gets."""
    return {
        "layer": layer,
        "id": record["id"],
        "sort": (record["when_iso"], record["id"]),
        "when": record["when"],
        "when_iso": record["when_iso"],
        "title": record["title"],
        "place": record["place"],
        "description": record["description"],
        "note": None if missing(record.get("note")) else record["note"],
        "source_name": record["source_name"],
        "source_url": record["source_url"],
        "link": is_link(record["source_url"]),
    }


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
