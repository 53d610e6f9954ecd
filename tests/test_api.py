"""The Python API: GeoDataFrames in, a folium.Map or a page out, validated as files are."""

from __future__ import annotations

import re

import folium
import geopandas as gpd
import pytest
from shapely.geometry import Point

import geo
from tests.browser import Watch
from tests.conftest import DEFAULT_STORY, FIXTURES, ROOT


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.search(r"<!-- api-example[^>]*-->\n```python\n(.*?)```", readme, re.DOTALL)[1]


def test_a_folder_story_has_the_api(tmp_path):
    story = geo.read_story(FIXTURES / "good/plain")
    assert isinstance(story.to_folium(), folium.Map)
    assert story.to_html().startswith("<!DOCTYPE html>")
    assert story.preview(tmp_path / "p.png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert "gs-map" in story._repr_html_()  # Jupyter shows the map inline
    result = story.publish(tmp_path / "dist")
    assert (result.out / "index.html").is_file() and (result.out / "data/points.geojson").is_file()


def test_frames_are_validated_like_files_and_problems_name_the_layer():
    bad = gpd.GeoDataFrame(
        {"id": ["x"], "date": ["2024-02-30"], "title": ["t"]}, geometry=[Point(2, 13)], crs=4326
    )
    with pytest.raises(geo.StoryError) as caught:  # options first, as map.toml is read first
        geo.story_from_frames({"events": (bad, {"kind": "events", "style": {"radius": -1}})})
    assert [str(p) for p in caught.value.problems] == [
        "events, field 'layers.events.style.radius': expected a number from 0 to 100, found -1"
    ]
    with pytest.raises(geo.StoryError) as caught:
        geo.story_from_frames({"events": (bad, {"kind": "events"})})
    text = [str(p) for p in caught.value.problems]
    assert any(t.startswith("events, feature id 'x' (#0), field 'date'") for t in text), text
    assert any("field 'source_url': missing required field" in t for t in text), text


def test_frames_and_files_make_the_same_story():
    from_files = geo.read_story(FIXTURES / "good/plain")
    frames = {layer.name: layer.frame for layer in from_files.layers}
    from_frames = geo.story_from_frames(frames, title=from_files.config.title)
    for a, b in zip(from_files.layers, from_frames.layers, strict=True):
        assert a.name == b.name and a.frame.geom_equals(b.frame).all()


@pytest.mark.browser
def test_readme_notebook_example_opens_offline_with_the_added_marker(
    browser, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md", "exec"), {})
    page = browser.new_page()
    watch = Watch("file://")
    watch.attach(page)
    page.goto((tmp_path / "notebook-map.html").as_uri())
    page.wait_for_function("() => window.GeoStory && GeoStory.state.map")
    added = page.locator("img.leaflet-marker-icon")
    assert added.count() == 1 and added.evaluate("img => img.complete && img.naturalWidth > 0")
    page.locator(".gs-event").focus()  # the story's own popup still works (the added
    page.keyboard.press("Enter")  # marker's image stands over its dot: open it by keyboard)
    popup = page.locator(".leaflet-popup-content")
    assert "Coup in Niamey" in popup.inner_text()
    assert popup.locator(".gs-source a").get_attribute("href").startswith("https://www.reuters")
    assert watch.errors == [] and watch.foreign == [] and watch.dialogs == []
    page.close()


def test_default_story_through_the_api_matches_the_command_line(default_build):
    story = geo.read_story(DEFAULT_STORY)
    html = story.to_html()
    built = (default_build.out / "index.html").read_text(encoding="utf-8")
    # the same page but for what only a build knows (the data links, the preview image)
    assert html.count('class="gs-event') == built.count('class="gs-event')
    assert (
        re.search(r'id="gs-data">(.*?)</script>', html, re.DOTALL)[1]
        == re.search(r'id="gs-data">(.*?)</script>', built, re.DOTALL)[1]
    )
