"""The engine in Chromium on small fixture stories: what any story must get right."""

from __future__ import annotations

import pytest

from geo.build import build
from tests.browser import Watch
from tests.conftest import FIXTURES

pytestmark = pytest.mark.browser

MARKERS = """() => [...document.querySelectorAll('.gs-event')].length
  + [...document.querySelectorAll('.marker-cluster')]
      .reduce((n, el) => n + parseInt(el.textContent, 10), 0)"""


def open_story(browser, story, tmp_path, viewport=(1280, 800)):
    result = build(story, tmp_path / "dist")
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    watch = Watch("file://")
    watch.attach(page)
    page.goto((result.out / "index.html").as_uri())
    page.wait_for_function("() => window.GeoStory && GeoStory.state.map")
    return page, watch


def test_two_event_layers_and_categories_are_all_drawn(browser, tmp_path):
    page, watch = open_story(browser, FIXTURES / "good/categories", tmp_path)
    assert page.evaluate(MARKERS) == 6  # 4 events + 2 later reports
    layers = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert [t.strip() for t in layers] == ["Events", "Later reports", "Zones"]
    fills = page.evaluate(
        "() => [...document.querySelectorAll('path.leaflet-interactive')]"
        ".map(p => p.getAttribute('fill'))"
    )
    assert {"#009e73", "#cc79a7"} <= set(fills)  # the zones by status, as map.toml says
    legend = page.locator(".gs-legend").inner_text()
    assert "before" in legend and "after" in legend and "open" in legend
    assert watch.errors == [] and watch.foreign == []
    page.close()


def test_layers_with_unusual_names_draw(browser, tmp_path):
    """Hyphens, dots, digits first and non-ASCII letters in layer names: the page's scripts
    never make identifiers of them, so every layer draws."""
    story = FIXTURES / "broken/layer_names_unusual_but_fine"
    page, watch = open_story(browser, story, tmp_path)
    layers = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert sorted(t.strip() for t in layers) == ["2024.events", "My-layer", "Région"]
    drawn = page.evaluate("() => Object.keys(GeoStory.state.layers).sort()")
    assert drawn == ["2024.events", "my-layer", "région"]
    assert page.locator("path.leaflet-interactive").count() >= 3
    assert watch.errors == [] and watch.foreign == []
    page.close()
