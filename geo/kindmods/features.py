"""Features: a plain layer, any geometry. Its popup lists its properties; map.toml may name a
``category_field`` to colour it and a ``label`` property to label it."""

from __future__ import annotations

from geo.combine import Story
from geo.kindmods.common import (
    FAMILY_SWATCH,
    categories,
    category_legend,
    family,
    point_labels,
    symbol,
    table_rows,
)
from geo.load import Layer
from geo.scene import LayerScene, LegendEntry
from geo.view import Bounds


def scene(layer: Layer, story: Story, view: Bounds, kind: str = "features") -> LayerScene:
    """Also the scene of the simple kinds (regions, water, places), which differ only in how
    their legend row looks and which labels they carry."""
    frame = layer.web
    fam = family(frame)
    base = symbol(layer.config.style, fam)
    cats = categories(layer, fam, base)
    title_field = next((f for f in ("name", "title") if f in frame.columns), None)
    fields = layer.config.popup or [
        c for c in frame.columns if c not in (frame.geometry.name, title_field, "id", "in_country")
    ]
    swatch = FAMILY_SWATCH[fam]
    legend = (
        category_legend(cats, swatch)
        if cats
        else [LegendEntry(swatch, layer.config.title, base.fill or base.stroke, base.stroke)]
    )
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
            table_rows(fields),
        ),
        title_field=title_field,
        id_field="id" if "id" in frame else None,
        show=layer.config.show,
    )
