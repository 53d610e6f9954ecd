"""The default story, through the engine: it validates, geometry confirms its claims, every
fact is sourced. (Its facts against facts.md are in test_niger_facts.py.)"""

from __future__ import annotations

import pandas as pd
import pytest

from geo.build import read_story
from geo.cli import main
from geo.kinds import kinds
from geo.load import load_layers
from geo.story import read_config
from tests.conftest import DEFAULT_STORY, ROOT

NEIGHBOURS = ("Algeria", "Benin", "Burkina Faso", "Chad", "Libya", "Mali", "Nigeria")


@pytest.fixture(scope="module")
def story():
    return read_story(DEFAULT_STORY)


def test_default_story_is_valid_without_warnings(story):
    assert [str(w) for w in story.warnings] == []


@pytest.mark.parametrize("layer", read_config(DEFAULT_STORY).layers, ids=lambda lc: lc.name)
def test_every_layer_file_matches_its_kind(layer, tmp_path):
    """Each file alone, so a broken layer is named by the failing test."""
    config = read_config(DEFAULT_STORY)
    (loaded,), warnings = load_layers(config.__class__(**{**config.__dict__, "layers": (layer,)}))
    assert len(loaded.frame) > 0
    assert set(loaded.frame.geom_type) <= set(kinds()[layer.kind].geometry)
    assert warnings == []


def test_neighbours_derived_by_geometry_are_exactly_the_seven(story):
    assert story.focus == "Niger"
    assert story.neighbours == NEIGHBOURS


def test_points_are_located_in_their_country(story):
    events = story.layer("events").frame.set_index("id")
    assert events.loc["tongo-tongo-ambush", "in_country"] == "Niger"
    assert events.loc["france-leaves-mali", "in_country"] == "Mali"
    assert events.loc["aes-charter", "in_country"] == "Mali"
    assert pd.isna(events.loc["us-declares-coup", "in_country"])  # Washington: outside the story
    bases = story.layer("bases").frame
    assert set(bases["in_country"]) == {"Niger"}


@pytest.mark.parametrize("kind", ["events", "bases"])
def test_every_event_and_base_has_a_source_link(story, kind):
    frame = story.layer(kind).frame
    assert frame["source_url"].str.match(r"^https?://[^/\s]+/").all()
    assert frame["source_name"].str.len().gt(0).all()


def test_events_cover_the_story(story):
    events = story.layer("events").frame.set_index("id")
    assert len(events) >= 20
    assert str(events.loc["junta-ends-sofa", "date"]) == "2024-03-16"
    assert events.loc["us-delegation-niamey", "end_date"].isoformat() == "2024-03-14"
    assert str(events.loc["us-withdrawal-complete", "date"]) == "2024-09-15"


def test_air_base_101_lists_each_presence_with_its_own_dates(story):
    bases = story.layer("bases").frame
    ab101 = bases[bases["site_id"] == "ab101"].set_index("operator")
    assert set(ab101.index) == {"United States", "France", "Germany", "Italy", "Russia"}
    assert str(ab101.loc["Germany", "end_date"]) == "2024-08-30"
    assert bases["precision_km"].gt(0).all()


def test_check_prints_a_summary_and_exits_0(capsys):
    assert main([str(DEFAULT_STORY), "--check"]) == 0
    out = capsys.readouterr().out
    assert "events           events       43 features" in out
    assert "neighbours of Niger (by geometry): " + ", ".join(NEIGHBOURS) in out
    assert "0 warning(s)" in out
    assert not (ROOT / "layers" / "dist").exists()
