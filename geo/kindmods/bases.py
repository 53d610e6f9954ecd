"""Bases: foreign military sites, one feature per presence (operator and period) in the data,
one symbol per site on the map, with a dashed ring as wide as the position's uncertainty.
Sites are the story's key places: each is labelled with its name, above towns and below
country names, and drawn above the events."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import geopandas as gpd

from geo.combine import COUNTRY_FIELD, Story
from geo.dates import day_number, span
from geo.kindmods.common import source_row, symbol
from geo.load import Layer
from geo.scene import Label, LayerScene, LegendEntry
from geo.text import format_date, km, missing
from geo.view import Bounds

PRESENCE_ROWS = (
    {"as": "text", "field": "operator", "class": "gs-operator"},
    {"as": "text", "field": "period"},
    {"as": "text", "field": "status_text"},
    {"as": "details", "field": "note", "class": "gs-details"},  # research notes: long
    source_row(),
)
LABEL_PRIORITY = 40  # country names 50 (the focus 100), capitals 30, towns 10
POPUP = (
    {"as": "heading", "field": "site"},
    {"as": "text", "field": "place_text", "class": "gs-place"},
    {"as": "present", "field": "presences", "class": "gs-present", "name": "operator"},
    {"as": "list", "field": "presences", "class": "gs-presences", "rows": PRESENCE_ROWS},
)


def scene(layer: Layer, story: Story, view: Bounds) -> LayerScene:
    style = layer.config.style
    ring = symbol(style, "polygon")
    marker = replace(symbol(style, "point", "diamond"), fill=style["color"], fill_opacity=1.0)
    sites = []
    frame = layer.web
    for site_id in dict.fromkeys(frame["site_id"]):  # first-seen order
        rows = frame[frame["site_id"] == site_id]
        sites.append(_site(site_id, rows.to_dict("records"), rows.geometry.iloc[0]))
    drawn = gpd.GeoDataFrame(
        {k: [s[k] for s in sites] for k in sites[0] if k != "geometry"},
        geometry=[s["geometry"] for s in sites],
        crs=frame.crs,
    )
    return LayerScene(
        name=layer.name,
        kind="bases",
        title=layer.config.title,
        family="point",
        frame=drawn,
        symbol=marker,
        labels=tuple(
            Label(
                s["site"],
                round(s["geometry"].x, 5),
                round(s["geometry"].y, 5),
                LABEL_PRIORITY,
                "site",
            )
            for s in sites
        ),
        legend=(
            LegendEntry("site", layer.config.title, style["color"]),
            LegendEntry("ring", "Uncertainty of a site's position", style["color"]),
        ),
        popup=POPUP,
        title_field="hover",
        id_field="id",
        show=layer.config.show,
        ring_field="radius_m",
        ring=ring,
        time=("start_date", "start_precision", "end_date", "end_precision"),
        days=("start_day", "end_day"),
        time_mode="status",
    )


def _site(site_id: str, presences: list[dict], point: Any) -> dict[str, Any]:
    first = presences[0]
    dated = [_presence(p) for p in presences]
    operators = ", ".join(dict.fromkeys(p["operator"] for p in presences))
    where = f"In {first[COUNTRY_FIELD]}. " if not missing(first.get(COUNTRY_FIELD)) else ""
    note = first.get("location_note")
    return {
        "id": site_id,
        "site": first["site"],
        "hover": f"{first['site']}: {operators}",
        "place_text": f"{where}Position {km(first['precision_km'])}"
        + (f": {note}" if not missing(note) else ""),
        "radius_m": first["precision_km"] * 1000,
        "presences": dated,
        # the site as a whole: from its first known start to its last end (open while active)
        "start_day": min(
            (p["start_day"] for p in dated if p["start_day"] is not None), default=None
        ),
        "end_day": None
        if any(p["end_day"] is None for p in dated)
        else max(p["end_day"] for p in dated),
        "geometry": point,
    }


def _presence(p: dict) -> dict[str, Any]:
    start = (
        format_date(p["start_date"], p["start_precision"])
        if not missing(p.get("start_date"))
        else "start unknown"
    )
    if not missing(p.get("end_date")):
        end = format_date(p["end_date"], p["end_precision"])
    else:
        end = "present" if p["status"] == "active" else "end unknown"
    status = format_date(p["status_date"], p["status_precision"])
    return {
        "start_day": day_number(span(p.get("start_date"), p.get("start_precision"))[0]),
        "end_day": day_number(_last_day(p)),
        "operator": p["operator"],
        "period": f"{start} – {end}",
        "status_text": f"Status: {p['status']} (as of {status}).",
        "note": None if missing(p.get("note")) else p["note"],
        "source_name": p["source_name"],
        "source_url": p["source_url"],
    }


def _last_day(p: dict) -> Any:
    """The last day a presence is known to have lasted: its end, or for one that ended on an
    unknown date, the status date that says so; None while it is active."""
    if not missing(p.get("end_date")):
        return span(p["end_date"], p["end_precision"])[1]
    if p["status"] == "active":
        return None
    return span(p["status_date"], p["status_precision"])[1]
