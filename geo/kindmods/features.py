"""Features: a plain layer, any geometry. Its popup lists its properties; map.toml may name a
``category_field`` to colour it and a ``label`` property to label it."""

from __future__ import annotations

from typing import Any

from geo.combine import Story
from geo.dates import day_number, parse_iso, span
from geo.kindmods.common import (
    FAMILY_SWATCH,
    categories,
    category_legend,
    family,
    field_label,
    point_labels,
    popup_fields,
    symbol,
    table_rows,
)
from geo.load import Layer
from geo.scene import LayerScene, LegendEntry, Symbol
from geo.view import Bounds


def scene(layer: Layer, story: Story, view: Bounds, kind: str = "features") -> LayerScene:
    """Also the scene of the simple kinds (regions, water, places), which differ only in how
    their legend row looks and which labels they carry."""
    frame = layer.web
    fam = family(frame)
    base = symbol(layer.config.style, fam)
    cats = categories(layer, fam, base)
    title_field = next((f for f in ("name", "title") if f in frame.columns), None)
    own = (frame.geometry.name, title_field, "id", "in_country")
    fields = popup_fields(layer, (c for c in frame.columns if c not in own))
    language = story.config.language
    swatch = FAMILY_SWATCH[fam]
    legend = (
        category_legend(cats, swatch)
        if cats
        else [LegendEntry(swatch, layer.config.title, _key_colour(base, fam), base.stroke)]
    )
    days = _days(frame, layer.config.date_field or ("date" if "date" in frame else None))
    if days is not None:
        frame = frame.assign(start_day=days[0], end_day=days[1])
    return LayerScene(
        name=layer.name,
        kind=kind,
        title=layer.config.title,
        family=fam,
        frame=frame,
        symbol=base,
        categories=cats,
        labels=point_labels(frame, layer.config.label, lambda r: 10, "place"),
        legend=tuple(legend),
        popup=(
            *([{"as": "heading", "field": title_field}] if title_field else []),
            table_rows(fields, [field_label(layer, f, language) for f in fields]),
        ),
        title_field=title_field,
        id_field="id" if "id" in frame else None,
        show=layer.config.show,
        in_legend=layer.config.legend,
        days=("start_day", "end_day") if days is not None else None,
        count_as="features" if days is not None else None,
    )


def _key_colour(base: Symbol, fam: str) -> str:
    """The colour of the layer's key swatch: a line's stroke, a point's or an area's fill."""
    return base.stroke if fam == "line" else base.fill or base.stroke


def _days(frame: Any, field: str | None) -> tuple[list, list] | None:
    """First and last day of each feature's ISO date, when the layer has dates to show on
    the timeline; None when it has none."""
    if field is None or field not in frame:
        return None
    spans = []
    for value in frame[field]:
        parsed = parse_iso(value)
        first, last = span(*parsed) if parsed else (None, None)
        spans.append((day_number(first), day_number(last)))
    if all(first is None for first, _ in spans):
        return None
    return [first for first, _ in spans], [last for _, last in spans]
