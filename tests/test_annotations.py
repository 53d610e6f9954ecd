"""map.toml's new keys for sites (issue 10): a bases layer's [operators] palette and the
story's [[annotations]], each checked with a message naming map.toml, the index and the key."""

from __future__ import annotations

import shutil

import pytest

from geo.build import read_story
from geo.problems import StoryError
from geo.story import options_config
from tests.conftest import DEFAULT_STORY


def _fields(error: StoryError) -> dict[str, str]:
    return {p.field: p.message for p in error.problems}


def test_operators_are_checked_like_categories():
    with pytest.raises(StoryError) as raised:
        options_config({}, {"bases": {"kind": "bases", "operators": {"France": "blue"}}})
    assert "layers.bases.operators.France" in _fields(raised.value)


def test_only_a_bases_layer_has_operators():
    with pytest.raises(StoryError) as raised:
        options_config({}, {"events": {"kind": "events", "operators": {"France": "#112233"}}})
    assert "only a bases layer" in _fields(raised.value)["layers.events.operators"]


def test_operators_keep_their_colours():
    config = options_config({}, {"bases": {"kind": "bases", "operators": {"France": "#112233"}}})
    assert dict(config.layers[0].operators) == {"France": "#112233"}


@pytest.mark.parametrize(
    ("annotation", "field", "words"),
    [
        ({"text": "t", "events": ["e"]}, "annotations[0].at", "missing"),
        ({"at": "s", "events": ["e"]}, "annotations[0].text", "missing"),
        ({"at": "s", "text": "t"}, "annotations[0].events", "missing"),
        ({"at": "s", "text": "t", "events": []}, "annotations[0].events", "at least one"),
        ({"at": "s", "text": "  ", "events": ["e"]}, "annotations[0].text", "some text"),
        ({"at": "s", "text": "t", "events": [1]}, "annotations[0].events", "list of ids"),
        ({"at": "s", "text": "t", "events": ["e"], "x": 1}, "annotations[0].x", "unknown key"),
    ],
)
def test_annotation_keys_are_checked(annotation, field, words):
    with pytest.raises(StoryError) as raised:
        options_config({"annotations": [annotation]}, {"bases": {"kind": "bases"}})
    assert words in _fields(raised.value)[field]


def test_an_annotation_that_is_not_a_table_is_named():
    with pytest.raises(StoryError) as raised:
        options_config({"annotations": ["text"]}, {"bases": {"kind": "bases"}})
    assert "annotations[0]" in _fields(raised.value)


def test_the_default_story_has_an_annotation_from_its_facts():
    story = read_story(DEFAULT_STORY)
    (note,) = story.config.annotations
    assert note.at == "ab201" and "$110 m" in note.text and "5 Aug 2024" in note.text
    assert note.events == ("ab201-isr-flights-begin", "us-leaves-ab201")


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ('at = "ab201"', 'at = "ab999"', "annotations[0].at", "no site has the id 'ab999'"),
        (
            'events = ["ab201-isr-flights-begin", "us-leaves-ab201"]',
            'events = ["ab201-isr-flights-begin", "no-such-event"]',
            "annotations[0].events[1]",
            "no feature of the story has the id 'no-such-event'",
        ),
    ],
)
def test_annotation_ids_must_exist(tmp_path, old, new, field, words):
    folder = tmp_path / "story"
    shutil.copytree(DEFAULT_STORY, folder)
    toml = folder / "map.toml"
    text = toml.read_text(encoding="utf-8")
    assert old in text
    toml.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(StoryError) as raised:
        read_story(folder).scenes  # noqa: B018 - the sites are drawn, and the ids checked
    problem = next(p for p in raised.value.problems if p.field == field)
    assert words in problem.message and problem.file.endswith("map.toml")


def test_sites_list_the_events_within_their_uncertainty_radius():
    story = read_story(DEFAULT_STORY)
    scene = next(s for s in story.scenes if s.kind == "bases")
    rows = {r["id"]: r for r in scene.frame.to_dict("records")}
    ab201 = [e["id"] for e in rows["ab201"]["events"]]
    assert ab201 == [
        "ab201-us-presence-begins",
        "ab201-limited-flights",
        "ab201-isr-flights-begin",
        "us-pulls-back-to-ab201",
        "us-leaves-ab201",
    ]
    # Niamey's city-precision events (about 7 km away) are not AB101's (±2 km)
    assert "junta-ends-sofa" not in [e["id"] for e in rows["ab101"]["events"]]
    assert rows["ouallam"]["events"] is None
    colours = {p["operator"]: p["colour"] for p in rows["ab101"]["presences"]}
    assert colours["United States"] == "#181050" and colours["Russia"] == "#b8a868"
    assert colours["Italy"] is None  # no colour of its own: the layer's
