"""The map's key, decided in-process: which layers a reader needs keyed (kinds decide, map.toml
may override), rows a reader can take in, line symbols as lines, and popups under human names.

Every output takes its key from geo.scene.key_rows: the page's key above the map and the
static preview's legend are the same rows."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from geo import preview
from geo.build import read_story
from geo.kindmods.bases import said_once
from geo.kindmods.common import readable
from geo.kinds import kinds
from geo.problems import StoryError
from geo.render import key_lines, to_folium
from geo.scene import key_rows
from geo.story import LAYER_KEYS
from tests.conftest import DEFAULT_STORY, FIXTURES

BASE_TITLES = {"Other countries", "Niger and its neighbours", "Niger's regions", "Lakes", "Rivers"}
BASE_TITLES |= {"Towns and capitals", "Niger", "Neighbours"}
MAX_ROWS = 6  # what a reader takes in at a glance; the events' categories share one row


@pytest.fixture(scope="module")
def niger():
    return read_story(DEFAULT_STORY)


def story_with(tmp_path: Path, **keys: str):
    """The default story with a line added to the [layers.NAME] table of each NAME in
    ``keys``, such as ``rivers="legend = true"``."""
    folder = tmp_path / "story"
    shutil.copytree(DEFAULT_STORY, folder)
    path = folder / "map.toml"
    text = path.read_text(encoding="utf-8")
    for layer, line in keys.items():
        header = f"[layers.{layer}]\n"
        assert text.count(header) == 1, layer
        text = text.replace(header, f"{header}{line}\n")
    path.write_text(text, encoding="utf-8")
    return read_story(folder)


def test_base_kinds_are_the_maps_geography():
    base = {name for name, kind in kinds().items() if kind.base}
    assert base == {"context", "countries", "regions", "water", "places"}
    assert not kinds()["features"].base  # a plain layer is the story's own


def test_default_key_is_what_a_reader_needs(niger):
    rows = key_rows(niger.scenes)
    assert [r.layer for r in rows] == ["events", "bases"]  # the top layer first
    assert len(rows) <= MAX_ROWS
    labels = {e.label for r in rows for e in r.entries}
    assert not labels & BASE_TITLES, labels & BASE_TITLES
    events, sites = rows
    # the categories share one row under the layer's title, in the colours map.toml gives
    assert events.heading == "Events"
    colours = niger.layer("events").config.categories
    keyed = {e.label: e.color for e in events.entries if e.swatch == "event"}
    assert keyed == dict(colours)
    assert [e.swatch for e in events.entries].count("arrow") == 1  # Washington and Moscow
    # the sites: one symbol per operator colour, the hollow one of the timeline, the ring
    assert sites.heading == "Foreign military sites"  # its entries name operators
    swatches = [e.swatch for e in sites.entries]
    assert swatches[-2:] == ["site-ended", "ring"] and set(swatches[:-2]) == {"site"}


def test_operators_sharing_a_colour_are_named_once(niger):
    """Two operators of one colour, one the other plus a parenthesis ("United States" and
    "United States (CIA)"), are keyed once: the qualified name folds into the other."""
    sites = next(line for line in key_lines(niger.scenes) if line.layer == "bases")
    labels = [item.label for item in sites.items]
    assert "United States (incl. CIA)" in labels, labels
    assert not any("United States, United States" in label for label in labels)
    # each operator of the palette is still named in the key
    for name in ("United States", "France", "Russia"):
        assert any(label.startswith(name) for label in labels), (name, labels)


@pytest.mark.parametrize(
    "names, folded",
    [
        ("United States, United States (CIA)", "United States (incl. CIA)"),
        ("United States (CIA), United States", "United States (incl. CIA)"),
        ("France, France (DGSE), France (Army)", "France (incl. DGSE, Army)"),
        ("France, Germany (Army), Italy", "France, Germany (Army), Italy"),  # nothing to fold in
        ("United States (CIA)", "United States (CIA)"),  # alone: as written
    ],
)
def test_a_name_and_the_same_name_with_a_parenthesis_fold_into_one(names, folded):
    assert said_once(names.split(", ")) == folded


def test_every_output_keys_an_operator_once(niger, tmp_path):
    """The preview's key comes from the same rows: "United States" said once there too."""
    labels = [e.label for row in key_rows(niger.scenes, timeline=False) for e in row.entries]
    assert "United States (incl. CIA)" in labels
    assert not any("United States, United States" in label for label in labels)


def test_preview_keys_the_same_rows_said_of_its_date(niger, tmp_path):
    """The static picture has no timeline: it shows the story as of data_as_of, so the hollow
    'ended' site is keyed as of that date; nothing else differs, and no base layer is keyed."""
    rows = preview.plan(niger, niger.scenes).legend.rows
    page = [e for r in key_rows(niger.scenes) for e in r.entries]
    assert {e.swatch for e in page if e.timeline} == {"site-ended"}
    ended = next(e for e in page if e.timeline)
    assert [r.entry for r in rows if r.entry.swatch != "site-ended"] == [
        e for e in page if not e.timeline
    ]
    [keyed] = [r.entry for r in rows if r.entry.swatch == "site-ended"]
    assert keyed.label != ended.label and "29 January 2026" in keyed.label


def test_page_key_is_html_above_the_map_not_inside_it(niger):
    html = to_folium(niger, niger.scenes).get_root().render()
    key_at = html.index('<div class="gs-legend">')
    map_at = html.index('<div class="gs-map"')
    assert key_at < map_at
    assert html[key_at:map_at].count('<li class="gs-legend-row') == len(key_rows(niger.scenes))
    assert "<details" not in html[key_at:map_at]  # never folded into a button
    for title in ("Other countries", "Lakes", "Rivers"):
        assert f"</span>{title}</li>" not in html[key_at:map_at], title
    # the page document no longer carries a legend: the key is the page's own HTML
    doc = json.loads(re.search(r'id="gs-data">(.*?)</script>', html, re.DOTALL)[1])
    assert "legend" not in doc


def test_map_toml_puts_a_base_layer_back_in_the_key_lines_as_lines(tmp_path):
    story = story_with(tmp_path, rivers="legend = true", lakes="legend = true")
    rows = {r.layer: r for r in key_rows(story.scenes)}
    assert set(rows) == {"events", "bases", "rivers", "lakes"}
    rivers, lakes = rows["rivers"].entries[0], rows["lakes"].entries[0]
    # rivers are lines: drawn as a line in their stroke colour, not a filled square
    assert (rivers.swatch, rivers.color) == ("line", story.layer("rivers").config.style["color"])
    assert lakes.swatch == "water"
    lines = {line.layer: line for line in key_lines(story.scenes)}
    assert lines["rivers"].items[0].style.startswith("--c: #6d9fc4")


def test_map_toml_takes_a_story_layer_out_of_the_key(tmp_path):
    story = story_with(tmp_path, bases="legend = false")
    assert [r.layer for r in key_rows(story.scenes)] == ["events"]


def test_legend_must_be_true_or_false(tmp_path):
    with pytest.raises(StoryError) as caught:
        story_with(tmp_path, rivers='legend = "yes"')
    (problem,) = caught.value.problems
    assert problem.field == "layers.rivers.legend"
    assert problem.file.endswith("map.toml") and "expected true/false" in problem.message
    assert "legend" in LAYER_KEYS


def test_a_hidden_layer_keeps_its_row_dimmed(tmp_path):
    story = story_with(tmp_path, bases="show = false")
    lines = {line.layer: line for line in key_lines(story.scenes)}
    assert not lines["bases"].show and lines["events"].show
    html = to_folium(story, story.scenes).get_root().render()
    assert 'class="gs-legend-row gs-off" data-layer="bases"' in html
    # the preview draws what is shown, so it keys it neither
    texts = [r.text for r in preview.plan(story, story.scenes).legend.rows]
    assert "Foreign military sites" not in texts


def test_plain_folder_keys_every_layer():
    """Without map.toml every layer is the story's own: each gets its row."""
    story = read_story(FIXTURES / "good/plain")
    rows = key_rows(story.scenes)
    assert sorted(r.layer for r in rows) == ["areas", "lines", "points"]
    swatches = {r.layer: r.entries[0].swatch for r in rows}
    assert swatches == {"areas": "fill", "lines": "line", "points": "dot"}


# --- popups: human field names, no raw codes, Niger reachable --------------------------------


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("type_en", "Type"),
        ("population", "Population"),
        ("iso_a3", "ISO a3"),
        ("source_url", "Source URL"),
        ("date-of-visit", "Date of visit"),
        ("_", "_"),
    ],
)
def test_unknown_fields_get_a_readable_name(name, shown):
    assert readable(name, "en") == shown


def test_a_french_page_keeps_the_english_suffix():
    assert readable("type_en", "fr") == "Type en"
    assert readable("type_fr", "fr-CA") == "Type"


def _table(scene):
    return next(row for row in scene.popup if row["as"] == "table")


def test_popups_of_base_layers_use_human_names_and_hide_codes(niger):
    scenes = {s.name: s for s in niger.scenes}
    places = _table(scenes["places"])
    assert places["labels"] == ["Rank", "Population", "Country"]
    assert "country" not in places["fields"]  # the ISO code; "Country" is the joined name
    assert _table(scenes["rivers"])["labels"] == ["French name"]
    for scene in niger.scenes:
        for row in scene.popup:
            for label in row.get("labels", ()):
                assert "_" not in label, (scene.name, label)


def test_regions_never_swallow_the_countrys_clicks(niger):
    """Niger's regions are outlines only: a click in Niger reaches Niger, whose popup holds
    the 16 March 2024 fact."""
    regions = next(s for s in niger.scenes if s.kind == "regions")
    assert not regions.interactive and regions.popup == ()
    niger_row = niger.layer("countries").frame.set_index("id").loc["ner"]
    assert "16 Mar 2024" in niger_row["note"]


def test_map_toml_names_a_field_for_popups(tmp_path):
    folder = tmp_path / "plain"
    shutil.copytree(FIXTURES / "good/plain", folder)
    points = json.loads((folder / "points.geojson").read_text(encoding="utf-8"))
    fields = [k for k in points["features"][0]["properties"] if k not in ("id", "name")]
    assert fields
    (folder / "map.toml").write_text(
        f'[layers.points]\nfield_labels = {{ {fields[0]} = "What it is" }}\n', encoding="utf-8"
    )
    story = read_story(folder)
    table = _table(next(s for s in story.scenes if s.name == "points"))
    assert table["labels"][table["fields"].index(fields[0])] == "What it is"


def test_field_labels_must_be_text(tmp_path):
    folder = tmp_path / "plain"
    shutil.copytree(FIXTURES / "good/plain", folder)
    (folder / "map.toml").write_text("[layers.points]\nfield_labels = { kind = 3 }\n")
    with pytest.raises(StoryError) as caught:
        read_story(folder)
    (problem,) = caught.value.problems
    assert problem.field == "layers.points.field_labels.kind"
    assert "expected the name popups show for property 'kind'" in problem.message
