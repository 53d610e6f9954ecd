"""Places: towns and capitals as small dots, labelled; capitals win a label collision."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from geo.combine import COUNTRY_FIELD, Story
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
    popup = scene.popup
    if not layer.config.popup and COUNTRY_FIELD in scene.frame:
        # the country the place lies in (found from its point), not its source's ISO code
        popup = tuple(_with_country(row) if row["as"] == "table" else row for row in popup)
    return replace(scene, labels=labels, popup=popup)


def _with_country(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "fields": [*row["fields"], COUNTRY_FIELD], "labels": [*row["labels"], "Country"]}
