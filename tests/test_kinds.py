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
    legend = {e.label: e.color for e in events.legend if e.swatch == "event"}
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


def test_many_far_away_events_at_one_place_stay_inside_the_frame(tmp_path):
    """Events far outside the view are placed at its edge; seven at one place (Washington) are
    spread along the edge and none leaves it."""
    import json

    from geo.view import view_bounds

    base = {
        "date_precision": "day",
        "title": "Talks",
        "description": "Talks in Washington.",
        "place": "Washington, D.C.",
        "location_precision": "city",
        "category": "diplomacy",
        "source_name": "Example",
        "source_url": "https://example.org/a",
    }
    features = [
        {
            "type": "Feature",
            "properties": {**base, "id": f"talks-{i}", "date": f"2024-0{i + 1}-01"},
            "geometry": {"type": "Point", "coordinates": [-77.04, 38.91]},
        }
        for i in range(7)
    ]
    near = {**features[0], "properties": {**base, "id": "here", "date": "2024-01-01"}}
    near["geometry"] = {"type": "Point", "coordinates": [2.1, 13.5]}
    (tmp_path / "events.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [near, *features]})
    )
    niger = {
        "type": "Feature",
        "properties": {"id": "ner", "name": "Niger", "name_fr": "Niger", "iso_a3": "NER"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[0, 11], [16, 11], [16, 24], [0, 24], [0, 11]]],
        },
    }
    niger["properties"]["role"] = "focus"
    (tmp_path / "countries.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [niger]})
    )
    (tmp_path / "map.toml").write_text(
        '[layers.events]\nkind = "events"\n[layers.countries]\nkind = "countries"\n'
    )
    story = read_story(tmp_path)
    scene = next(s for s in story_scenes(story) if s.kind == "events")
    minx, miny, maxx, maxy = view_bounds(story)
    far = scene.frame[scene.frame["bearing"].notna()]
    assert len(far) == 7
    for point in far.geometry:
        assert minx <= point.x <= maxx and miny <= point.y <= maxy
    assert far.geometry.apply(lambda p: (p.x, p.y)).nunique() == 7  # spread, not stacked
