"""The events kind decides which events are country-level, far away or vaguely dated; the
page document carries its decisions, and no output asks the kind again."""

from __future__ import annotations

import pytest
import shapely

from geo.build import read_story
from geo.contract import layer_document
from geo.kindmods import events
from geo.shapes import Arcs
from tests.conftest import DEFAULT_STORY

COUNTRY_LEVEL = ["us-troops-648", "us-withdrawal-complete", "ecowas-exit-effective"]
FAR = {
    "us-declares-coup": "Washington",
    "us-agrees-to-withdraw": "Washington",
    "russia-niger-military-ties": "Moscow",
}
VAGUE = ["armed-drones-allowed", "armed-drones-deployed", "cia-drone-base-dirkou"]


@pytest.fixture(scope="module")
def scene():
    story = read_story(DEFAULT_STORY)
    return next(s for s in story.scenes if s.kind == "events")


def test_which_events_are_country_level():
    assert events.is_country_level({"location_precision": "country"})
    for precision in ("site", "city", "region"):
        assert not events.is_country_level({"location_precision": precision})


def test_which_dates_are_vague():
    assert events.is_vague_date({"date_precision": "month"})
    assert events.is_vague_date({"date_precision": "year"})
    assert not events.is_vague_date({"date_precision": "day"})


def test_which_points_are_far():
    view = (0.0, 10.0, 16.0, 24.0)
    assert not events.is_far(shapely.Point(8, 16), view)
    assert not events.is_far(shapely.Point(17.5, 25), view)  # within the margin
    assert events.is_far(shapely.Point(-77.0367, 38.8951), view)
    assert events.is_far(shapely.Point(37.6173, 55.7558), view)


def test_area_of_a_country_level_event():
    assert events.area_of({"in_country": "Niger", "place": "Niger (country)"}) == "Niger"
    assert events.area_of({"in_country": None, "place": "Niger (country)"}) == "Niger"


def test_the_niger_story_marks_its_events(scene):
    rows = scene.frame.set_index("id")
    assert sorted(rows.index[rows["area"].notna()]) == sorted(COUNTRY_LEVEL)
    assert set(rows.loc[COUNTRY_LEVEL, "area"]) == {"Niger"}
    far = rows[rows["far_place"].notna()]
    assert far["far_place"].to_dict() == FAR
    # the real place, not the edge where the frame holds the point
    assert far.loc["russia-niger-military-ties", ["far_lon", "far_lat"]].tolist() == [
        37.6173,
        55.7558,
    ]
    assert sorted(rows.index[rows["date_vague"]]) == sorted(VAGUE)
    assert rows.loc[COUNTRY_LEVEL, "bearing"].isna().all()  # never far, never an arrow


def test_the_page_document_carries_the_decisions(scene):
    doc = layer_document(scene, Arcs(1e-5))
    assert doc["areaField"] == "area" and doc["vagueField"] == "date_vague"
    assert doc["farFields"] == ["far_place", "far_lon", "far_lat"]
    for column in ("area", "date_vague", "far_place", "far_lon", "far_lat"):
        assert len(doc["columns"][column]) == doc["count"]
    # the hover title, "3 August 2023: Junta ends ...", is put together on the page
    assert doc["titleField"] == ["when", "title"] and "hover" not in doc["columns"]
    assert {"when", "title"} <= doc["columns"].keys()


def test_the_key_explains_the_new_symbols(scene):
    labels = {e.swatch: e.label for e in scene.legend}
    assert labels["event-vague"] == "Date known only to the month or year"
    assert "Niger" in labels["badge"]
    assert "Washington, D.C." in labels["arrow"] and "Moscow" in labels["arrow"]
