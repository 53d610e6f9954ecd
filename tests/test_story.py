"""Reading a story: what the engine derives from geometry, and a folder without map.toml."""

from __future__ import annotations

import json

import pytest

from geo.build import read_story
from tests.conftest import DEFAULT_STORY, FIXTURES

NEIGHBOURS = ("Algeria", "Benin", "Burkina Faso", "Chad", "Libya", "Mali", "Nigeria")


@pytest.fixture(scope="module")
def story():
    return read_story(DEFAULT_STORY)


def test_base_outside_its_stated_country_is_flagged(tmp_path):
    for name in ("countries.geojson", "map.toml"):
        (tmp_path / name).write_text((FIXTURES / "bad/swapped_lat_lon" / name).read_text())
    doc = json.loads((FIXTURES / "bad/swapped_lat_lon/bases.geojson").read_text())
    doc["features"][0]["geometry"]["coordinates"] = [-1.5, 12.4]  # Ouagadougou, not Niger
    (tmp_path / "bases.geojson").write_text(json.dumps(doc))
    story = read_story(tmp_path)
    assert [w.field for w in story.warnings] == ["country"]
    assert "said to be in NER but the point (lon -1.5, lat 12.4)" in story.warnings[0].message


def test_web_geometries_are_lighter_and_keep_shared_borders(story):
    countries = story.layer("countries")
    full = countries.frame.geometry.count_coordinates().sum()
    web = countries.web.geometry.count_coordinates().sum()
    assert web < full * 0.6
    niger = countries.web.set_index("iso_a3").geometry
    shared = niger["NER"].boundary.intersection(niger["MLI"].boundary)
    assert shared.length > 5  # degrees of common border, not a sliver or a gap


def test_plain_folder_without_map_toml_is_a_story():
    story = read_story(FIXTURES / "good" / "plain")
    assert [(lay.name, lay.config.kind) for lay in story.layers] == [
        ("areas", "features"),
        ("lines", "features"),
        ("points", "features"),
    ]
