"""Water: lakes and rivers, blue lines and fills."""

from __future__ import annotations

from dataclasses import replace

from geo.combine import Story
from geo.kindmods import features
from geo.load import Layer
from geo.scene import LayerScene, LegendEntry
from geo.view import Bounds


def scene(layer: Layer, story: Story, view: Bounds) -> LayerScene:
    scene = features.scene(layer, story, view, kind="water")
    if scene.family == "line":  # rivers: a line, as drawn
        entry = LegendEntry("line", layer.config.title, scene.symbol.stroke)
    else:
        entry = LegendEntry("water", layer.config.title, scene.symbol.fill, scene.symbol.stroke)
    return replace(scene, legend=(entry,))
