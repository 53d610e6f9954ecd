"""Layer kinds decide once how their features look; the scenes they make are what every
output draws."""

from __future__ import annotations

import pytest

from geo.build import read_story
from geo.kindmods import story_scenes
from tests.conftest import FIXTURES

CATEGORIES = FIXTURES / "good/categories"


@pytest.fixture(scope="module")
def scenes():
    return {s.name: s for s in story_scenes(read_story(CATEGORIES))}


def test_events_are_coloured_by_the_configured_field(scenes):
    """Regression: category_field = "phase" once failed with KeyError: 'coup'."""
    events = scenes["events"]
    assert events.categories.field == "phase"
    assert {v: s.fill for v, s in events.categories.symbols.items()} == {
        "after": "#d55e00",
        "before": "#0072b2",
    }
    legend = {e.label: e.color for e in events.legend}
    assert legend == {"after": "#d55e00", "before": "#0072b2"}


def test_a_plain_layer_with_categories_is_categorised(scenes):
    """Regression: a plain layer's categories once reached QGIS but not the web map."""
    zones = scenes["zones"]
    assert zones.categories.field == "status"
    assert [zones.symbol_of(i).fill for i in range(len(zones.frame))] == ["#cc79a7", "#009e73"]


def test_two_layers_of_one_kind_are_both_drawn(scenes):
    assert scenes["events"].kind == scenes["reports"].kind == "events"
    assert len(scenes["reports"].frame) == 2
    ids = [entry["id"] for s in scenes.values() for entry in s.listing]
    assert len(ids) == 6 and "later-coup" in ids
