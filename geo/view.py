"""What the web map and the static preview must agree on: the initial view and label points."""

from __future__ import annotations

from typing import Any

import shapely
import shapely.ops

from geo.combine import Story

SEA = "#dce9f2"
Bounds = tuple[float, float, float, float]


def view_bounds(story: Story) -> Bounds:
    """The initial view: the layers of a kind the map opens on (countries), else every layer
    whose kind counts (not the land around the story), else all of them."""
    by_view = {
        mode: [lay for lay in story.layers if lay.kind.view == mode]
        for mode in ("fit", "include", "ignore")
    }
    layers = by_view["fit"] or by_view["include"] or by_view["ignore"]
    bounds = [lay.frame.total_bounds for lay in layers]
    return (
        min(b[0] for b in bounds),
        min(b[1] for b in bounds),
        max(b[2] for b in bounds),
        max(b[3] for b in bounds),
    )


def label_point(geom: Any, view: Bounds) -> list[float]:
    """Where a country's name goes, as [lat, lon]: inside the part of it that is in view."""
    visible = shapely.intersection(geom, shapely.box(*view))
    target = visible if not visible.is_empty else geom
    if target.geom_type in ("Polygon", "MultiPolygon"):
        point = shapely.ops.polylabel(max(shapely.get_parts(target), key=lambda g: g.area), 0.05)
    else:
        point = target.representative_point()
    return [round(point.y, 4), round(point.x, 4)]
