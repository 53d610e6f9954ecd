"""Regions: dashed outlines of a country's subdivisions, a base layer.

They are not interactive: a click inside a region reaches the country under it (the focus
country's popup holds the story's facts). Their names are those of their capitals, which the
places layer labels."""

from __future__ import annotations

from dataclasses import replace

from geo.combine import Story
from geo.kindmods import features
from geo.load import Layer
from geo.scene import LayerScene, LegendEntry
from geo.view import Bounds


def scene(layer: Layer, story: Story, view: Bounds) -> LayerScene:
    scene = features.scene(layer, story, view, kind="regions")
    entry = LegendEntry("dash", layer.config.title, scene.symbol.stroke)
    return replace(scene, legend=(entry,), popup=(), interactive=False)
