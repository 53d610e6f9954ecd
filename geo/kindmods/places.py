"""Places: towns and capitals as small dots, labelled; capitals win a label collision."""

from __future__ import annotations

from dataclasses import replace

from geo.combine import Story
from geo.kindmods import features
from geo.kindmods.common import point_labels
from geo.load import Layer
from geo.scene import LayerScene
from geo.view import Bounds

RANK_PRIORITY = {"national capital": 30, "regional capital": 20, "town": 10}


def scene(layer: Layer, story: Story, view: Bounds) -> LayerScene:
    scene = features.scene(layer, story, view, kind="places")
    labels = point_labels(
        scene.frame, layer.config.label, lambda r: RANK_PRIORITY.get(r.get("rank"), 0), "place"
    )
    return replace(scene, labels=labels)
