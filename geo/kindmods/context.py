"""Context: the land under everything, so the map needs no tiles. Not interactive."""

from __future__ import annotations

from geo.combine import Story
from geo.kindmods.common import symbol
from geo.load import Layer
from geo.scene import LayerScene, LegendEntry
from geo.view import Bounds


def scene(layer: Layer, story: Story, view: Bounds) -> LayerScene:
    base = symbol(layer.config.style, "polygon")
    return LayerScene(
        name=layer.name,
        kind="context",
        title=layer.config.title,
        family="polygon",
        frame=layer.web,
        symbol=base,
        legend=(LegendEntry("fill", "Other countries", base.fill, base.stroke),),
        show=layer.config.show,
        in_legend=layer.config.legend,
        control=False,
        interactive=False,
    )
