"""What a scene says about its features at one date, and about features that stand for a whole
area: read from the scene's fields only, for the outputs with no timeline (the PNG preview, the
QGIS styles, the KML), so that they draw what the web page draws when it opens.

Each function reads only :class:`geo.scene.LayerScene` fields, never a layer's kind:

- a scene whose popup has a ``present`` row (``{"as": "present", "field": F, "name": N}``) has
  *parts* in column F, each with ``N`` (who), ``colour``, ``start_day`` and ``end_day``; a
  feature takes the colour of its parts at a date, as story.js's ``siteColour`` does;
- a scene with ``time_mode = "status"`` draws a feature as ended (hollow) once its last day
  (``days[1]``) is before the date;
- a scene with an ``area_field`` does not draw the features where it is set: they are listed
  on the area's label ("Niger · 3"); its ``area_rule`` tells the same rows by the data's own
  columns, for a GIS filter.

The scene does not carry a per-feature colour and ended flag at a given date: they are
computed here, once, for every output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo.dates import day_number, parse_iso, span
from geo.scene import LayerScene
from geo.text import missing


def latest_day(data_as_of: str | None, scenes: Sequence[LayerScene]) -> float:
    """The date an output without a timeline shows, as a day number: the last day of
    map.toml's ``data_as_of``, else the latest day any scene holds, else "forever" (inf)."""
    parsed = parse_iso(data_as_of)
    if parsed is not None:
        last = day_number(span(*parsed)[1])
        if last is not None:
            return float(last)
    days = [
        float(v)
        for scene in scenes
        if scene.days
        for column in scene.days
        if column in scene.frame.columns
        for v in pd.to_numeric(scene.frame[column], errors="coerce").dropna().tolist()
    ]
    return max(days, default=math.inf)


def _parts_row(scene: LayerScene) -> Mapping[str, Any] | None:
    row = next((r for r in scene.popup if r.get("as") == "present"), None)
    if row is None or row.get("field") not in scene.frame.columns or not row.get("name"):
        return None
    return row


def part_colours(scene: LayerScene) -> tuple[str, dict[str, str | None]] | None:
    """The field naming who each part is (the data's column, e.g. 'operator') and the colour
    of each name (None: the scene's neutral colour), in first-seen order; None for a scene
    whose features have no coloured parts."""
    row = _parts_row(scene)
    if row is None:
        return None
    name, colours = str(row["name"]), {}
    for parts in scene.frame[row["field"]].tolist():
        for part in parts or ():
            who, colour = part.get(name), part.get("colour")
            if not missing(who):
                colours[str(who)] = colours.get(str(who)) or (str(colour) if colour else None)
    return (name, colours) if any(colours.values()) else None


def neutral_colour(scene: LayerScene) -> str:
    """The colour of a feature with several parts at once, or one without a colour."""
    return scene.symbol.fill or scene.symbol.stroke


def colours_at(scene: LayerScene, day: float) -> list[str | None]:
    """Each row's colour on ``day``: that of its parts present then, else of the parts that
    ended last before it; several colours, or a part without one, give the scene's neutral
    colour. None for every row of a scene without parts (its symbols say its colours)."""
    row = _parts_row(scene)
    if row is None:
        return [None] * len(scene.frame)
    neutral = neutral_colour(scene)
    out: list[str | None] = []
    for parts in scene.frame[row["field"]].tolist():
        parts = list(parts or ())
        at = [p for p in parts if _starts_by(p, day) and _lasts_to(p, day)]
        if not at:
            ended = [p["end_day"] for p in parts if _ended_by(p, day)]
            last = max(ended, default=None)
            at = [p for p in parts if last is not None and p.get("end_day") == last]
        colours = {p.get("colour") or "" for p in at}
        out.append(colours.pop() or neutral if len(colours) == 1 else neutral)
    return out


def _ended_by(part: Mapping[str, Any], day: float) -> bool:
    return not missing(part.get("end_day")) and part["end_day"] <= day


def _starts_by(part: Mapping[str, Any], day: float) -> bool:
    return missing(part.get("start_day")) or part["start_day"] <= day


def _lasts_to(part: Mapping[str, Any], day: float) -> bool:
    return missing(part.get("end_day")) or part["end_day"] >= day


def ended_at(scene: LayerScene, day: float) -> np.ndarray:
    """Whether each row is drawn as ended on ``day`` (a ``status`` scene whose feature's last
    day is before it), as story.js's ``markEnded``."""
    if scene.time_mode != "status" or not scene.days or scene.days[1] not in scene.frame:
        return np.zeros(len(scene.frame), dtype=bool)
    last = pd.to_numeric(scene.frame[scene.days[1]], errors="coerce").to_numpy(dtype=float)
    return np.isfinite(last) & (last < day)


def area_values(scene: LayerScene) -> list[str | None]:
    """Each row's area (the scene's ``area_field``), None where the row is a point."""
    if scene.area_field is None or scene.area_field not in scene.frame.columns:
        return [None] * len(scene.frame)
    column = scene.frame[scene.area_field]
    shown = (column.notna() & (column.astype(str) != "")).to_numpy(dtype=bool)
    return [str(v) if s else None for v, s in zip(column.tolist(), shown, strict=True)]


def area_rows(scene: LayerScene) -> np.ndarray:
    """Whether each row stands for a whole area (not drawn as a point)."""
    return np.array([v is not None for v in area_values(scene)], dtype=bool)


def area_counts(scene: LayerScene) -> dict[str, int]:
    """How many rows each area holds, in first-seen order."""
    counts: dict[str, int] = {}
    for value in area_values(scene):
        if value is not None:
            counts[value] = counts.get(value, 0) + 1
    return counts


def badge_text(area: str, count: int) -> str:
    """What the web page's badge says: 'Niger · 3'."""
    return f"{area} \u00b7 {count}"


@dataclass(frozen=True)
class AreaRule:
    """The data's rows that stand for a whole area: those whose ``field`` is one of
    ``values`` (the data's own columns: what a GIS filter can test)."""

    field: str
    values: tuple[str, ...]

    def matches(self, values: Iterable[Any]) -> np.ndarray:
        return np.array([not missing(v) and str(v) in self.values for v in values], dtype=bool)


def area_rule(scene: LayerScene) -> AreaRule | None:
    """The kind's rule on the data's own columns for the rows that stand for a whole area
    (the scene's ``area_rule``), when any row does."""
    if scene.area_rule is None or not area_rows(scene).any():
        return None
    field, values = scene.area_rule
    return AreaRule(field, tuple(values))
