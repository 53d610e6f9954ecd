"""Bases: foreign military sites, one feature per presence (operator and period) in the data,
one symbol per site on the map, with a dashed ring as wide as the position's uncertainty.
Sites are the story's key places: each is labelled with its name, above towns and below
country names, and drawn above the events.

A site is coloured by the operator of its presence at the timeline's date (map.toml's
``operators`` palette): the one operator present then, else (every presence ended) the operator
of the presence that ended last; several operators at once, or one the palette does not name,
take the layer's colour. The events of a site are those of the story's events layers whose
point lies within the site's uncertainty radius (events carry no site id): the marker shows
their count and its popup lists them. map.toml's [[annotations]] are callouts beside sites."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

import geopandas as gpd

from geo.combine import COUNTRY_FIELD, Story
from geo.dates import as_written, day_number, span
from geo.kindmods.common import source_row, symbol
from geo.load import Layer
from geo.problems import Problem, StoryError
from geo.scene import Label, LayerScene, LegendEntry, Phrase, TextEntry, TextSection
from geo.text import PRECISION_TEXT, format_date, is_link, km, missing
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
    sites, entries = [], []
    frame = layer.web
    palette = dict(layer.config.operators)
    events = _events(story)
    notes = _annotations(layer, story)
    for site_id in dict.fromkeys(frame["site_id"]):  # first-seen order
        rows = frame[frame["site_id"] == site_id]
        sites.append(_site(site_id, rows.to_dict("records"), rows.geometry.iloc[0]))
        for p in sites[-1]["presences"]:
            p["colour"] = palette.get(p["operator"])
        sites[-1]["events"] = _site_events(sites[-1], layer.frame, events)
        sites[-1]["annotations"] = notes.get(site_id) or None
        entries.append(_text_entry(layer.name, sites[-1], rows.to_dict("records")))
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
            *_operator_entries(sites, palette, style["color"]),
            # hollow once every presence has ended by the timeline's date (story.js)
            LegendEntry(
                "site-ended",
                "Presence ended (by the timeline's date)",
                style["color"],
                timeline=True,
            ),
            LegendEntry("ring", "Position uncertain (to scale)", style["color"]),
        ),
        columns=("events", "annotations"),
        popup=POPUP,
        title_field="hover",
        id_field="id",
        show=layer.config.show,
        in_legend=layer.config.legend,
        ring_field="radius_m",
        ring=ring,
        time=("start_date", "start_precision", "end_date", "end_precision"),
        days=("start_day", "end_day"),
        time_mode="status",
        text_section=TextSection(_section_title(layer.config.title, len(sites)), tuple(entries)),
    )


# A name that is another name with a parenthesis: "United States (CIA)".
_QUALIFIED = re.compile(r"(?P<name>.+?) \((?P<part>[^()]+)\)\Z")


def said_once(names: list[str]) -> str:
    """Names sharing a key row, each said once: a name that is another listed name plus a
    parenthesis folds into it ("United States", "United States (CIA)" read "United States
    (incl. CIA)"); the others are listed as they are."""
    parts: dict[str, list[str]] = {}
    kept = []
    for name in names:
        qualified = _QUALIFIED.match(name)
        if qualified and qualified["name"] in names:
            parts.setdefault(qualified["name"], []).append(qualified["part"])
        else:
            kept.append(name)
    return ", ".join(f"{n} (incl. {', '.join(parts[n])})" if n in parts else n for n in kept)


def _operator_entries(
    sites: list[dict[str, Any]], palette: dict[str, str], neutral: str
) -> list[LegendEntry]:
    """A swatch per colour of the operators the sites have (operators sharing a colour share
    it), then the layer's colour: several operators at once, or one without a colour."""
    by_colour: dict[str, list[str]] = {}
    several, others = False, []
    for site in sites:
        names = list(dict.fromkeys(p["operator"] for p in site["presences"]))
        several = several or len(names) > 1
        for name in names:
            if name in palette:
                by_colour.setdefault(palette[name], [])
                if name not in by_colour[palette[name]]:
                    by_colour[palette[name]].append(name)
            elif name not in others:
                others.append(name)
    order = {name: i for i, name in enumerate(palette)}
    entries = [
        LegendEntry("site", said_once(sorted(names, key=order.__getitem__)), colour)
        for colour, names in sorted(by_colour.items(), key=lambda kv: order[kv[1][0]])
    ]
    if not entries:
        entries.append(LegendEntry("site", "Foreign military site", neutral))
    elif several or others:
        label = "Several at once" if several else "Others"
        if others:
            label += (", or " if several else " (") + ", ".join(others) + ("" if several else ")")
        entries.append(LegendEntry("site", label, neutral))
    return entries


def _events(story: Story) -> list[dict[str, Any]]:
    """Every event of the story's events layers: id, title, date as written and first day,
    and where it is (longitude, latitude)."""
    out = []
    for other in story.layers:
        if other.config.kind != "events":
            continue
        for row in other.frame.to_dict("records"):
            point = row[other.frame.geometry.name]
            if point is None or point.is_empty:
                continue
            out.append(
                {
                    "id": row["id"],
                    "layer": other.name,
                    "title": row["title"],
                    "date": format_date(row["date"], row["date_precision"]),
                    "day": day_number(span(row["date"], row["date_precision"])[0]),
                    "lon": point.x,
                    "lat": point.y,
                }
            )
    return out


EARTH_KM = 6371.0088


def _km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in kilometres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_KM * math.asin(math.sqrt(min(1.0, a)))


def _site_events(site: dict[str, Any], frame: Any, events: list[dict]) -> list[dict] | None:
    """The events within the site's uncertainty radius of its position, in date order."""
    rows = frame[frame["site_id"] == site["id"]]
    point = rows.geometry.iloc[0]  # the data's position, not the web frame's
    radius = site["radius_m"] / 1000
    near = [
        {k: e[k] for k in ("id", "layer", "title", "date", "day")}
        for e in events
        if _km(point.x, point.y, e["lon"], e["lat"]) <= radius
    ]
    near.sort(key=lambda e: (e["day"] if e["day"] is not None else math.inf, e["id"]))
    return near or None


def _annotations(layer: Layer, story: Story) -> dict[str, list[dict[str, Any]]]:
    """map.toml's [[annotations]] by site id; every site and event id they name must exist
    (checked once, with the story's first bases layer)."""
    notes = story.config.annotations
    if not notes:
        return {}
    bases = [other for other in story.layers if other.config.kind == "bases"]
    if bases[0].name == layer.name:
        sites = {str(v) for other in bases for v in other.frame["site_id"].dropna()}
        ids = {
            str(v)
            for other in story.layers
            if other.kind.id_field and other.kind.id_field in other.frame
            for v in other.frame[other.kind.id_field].dropna()
        }
        folder = story.config.folder
        where = str(folder / "map.toml") if folder is not None else "story options"
        problems = [
            Problem(where, f"no site has the id {note.at!r}", field=f"annotations[{i}].at")
            for i, note in enumerate(notes)
            if note.at not in sites
        ] + [
            Problem(
                where,
                f"no feature of the story has the id {v!r}",
                field=f"annotations[{i}].events[{j}]",
            )
            for i, note in enumerate(notes)
            for j, v in enumerate(note.events)
            if v not in ids
        ]
        if problems:
            raise StoryError(problems)
    out: dict[str, list[dict[str, Any]]] = {}
    for note in notes:
        out.setdefault(note.at, []).append({"text": note.text, "events": list(note.events)})
    return out


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


# --- the text version ---------------------------------------------------------------------


def _section_title(title: str, count: int) -> str:
    sites = "1 site" if count == 1 else f"{count} sites"
    return f"{title}: {sites}, with who was there, when, and sources"


def _text_entry(layer: str, site: dict[str, Any], presences: list[dict]) -> TextEntry:
    """A site in the text version: where it is and how well that is known, then each
    presence with its period, status, caveat and source (what the popup says, as text)."""
    first = presences[0]
    where = f"In {first[COUNTRY_FIELD]}. " if not missing(first.get(COUNTRY_FIELD)) else ""
    precision = PRECISION_TEXT.get(first["location_precision"], first["location_precision"])
    lines = [(Phrase(f"{where}Position {km(first['precision_km'])} ({precision})."),)]
    if not missing(first.get("location_note")):
        lines.append((Phrase(first["location_note"]),))
    return TextEntry(
        id=TextEntry.element_id(layer, site["id"]),
        title=site["site"],
        lines=tuple(lines),
        layer=layer,
        feature=site["id"],
        items=tuple(_presence_entry(p) for p in presences),
    )


def _presence_entry(p: dict) -> TextEntry:
    """Operator, period and status, each date as precise as its source (a <time> each)."""
    start = _when(p.get("start_date"), p.get("start_precision"), "start unknown")
    open_end = "present" if p["status"] == "active" else "end unknown"
    end = _when(p.get("end_date"), p.get("end_precision"), open_end)
    status = (
        Phrase(f"Status: {p['status']} (as of "),
        _when(p["status_date"], p["status_precision"], ""),
        Phrase(")."),
    )
    return TextEntry(
        id=None,
        title=p["operator"],
        when=(start, Phrase(" – "), end),
        lines=(status,),
        note=None if missing(p.get("note")) else p["note"],
        source_name=p["source_name"],
        source_url=p["source_url"],
        link=is_link(p["source_url"]),
    )


def _when(value: Any, precision: str | None, otherwise: str) -> Phrase:
    if missing(value):
        return Phrase(otherwise)
    return Phrase(format_date(value, precision), as_written(value, precision))
