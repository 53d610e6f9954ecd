"""Layer kinds as code: one module per kind, found by the kind's name in kinds.toml.

Each module has ``scene(layer, story, view) -> LayerScene``: everything specific to its kind
(derived fields, symbols, labels, legend rows, popup content) is decided there and nowhere else.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from geo.combine import Story
from geo.load import Layer
from geo.scene import LayerScene
from geo.view import Bounds

SceneMaker = Callable[[Layer, Story, Bounds], LayerScene]


def scene_maker(kind: str) -> SceneMaker:
    """The ``scene`` function of the kind's module."""
    return importlib.import_module(f"{__name__}.{kind}").scene


def story_scenes(story: Story) -> tuple[LayerScene, ...]:
    """Every layer of the story as its kind draws it, in drawing order."""
    from geo.view import view_bounds

    view = view_bounds(story)
    return tuple(scene_maker(layer.config.kind)(layer, story, view) for layer in story.layers)
