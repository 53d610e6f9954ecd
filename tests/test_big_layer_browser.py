"""A large clustered point layer as a reader gets it: drawn on a canvas, clusters that zoom in,
popups with the same text and safe links, the timeline's filter, and nothing fetched."""

from __future__ import annotations

import json

import pytest

from geo import contract
from geo.build import build
from tests.browser import READY, SETTLED, open_settled, quiet, tab_to
from tests.test_big_layer import HOSTILE, write_story

pytestmark = pytest.mark.browser

EVENTS = contract.LARGE_LAYER + 500
SIZE = (1280, 800)
PILE = (13.5111, 2.1111)  # five events share this place (write_story)

LAYER = "() => GeoStory.state.layers.events"
# Events in view: those in the clusters on show and the points drawn on the canvas.
IN_VIEW = "() => GeoStory.state.layers.events.big.visible"
DEEPEST = "([lat, lon]) => GeoStory.state.map.setView([lat, lon], GeoStory.state.map.getMaxZoom())"
# A cluster near the map's middle (clear of the controls), marked for a reader's click.
MARK_CLUSTER = """() => {
  const box = document.querySelector('.gs-map').getBoundingClientRect();
  const x = box.left + box.width / 2, y = box.top + box.height / 2;
  const nodes = [...document.querySelectorAll('.gs-big-cluster')];
  nodes.sort((a, b) => {
    const d = (n) => { const r = n.getBoundingClientRect();
      return Math.hypot(r.left + r.width / 2 - x, r.top + r.height / 2 - y); };
    return d(a) - d(b);
  });
  if (!nodes.length) return false;
  nodes[0].setAttribute('data-test-target', '1');
  return true;
}"""


@pytest.fixture(scope="module")
def big_page(tmp_path_factory):
    story = write_story(tmp_path_factory.mktemp("big") / "story", EVENTS)
    return build(story, tmp_path_factory.mktemp("big-out") / "dist").out / "index.html"


@pytest.fixture
def opened(browser, big_page):
    page, watch = open_settled(browser, big_page, SIZE)
    yield page, watch
    assert watch.errors == [] and watch.foreign == [] and watch.dialogs == []
    page.close()


def test_the_map_draws_clusters_not_a_marker_per_event(opened):
    page, _ = opened
    assert page.evaluate(f"() => ({LAYER})().big !== undefined")
    icons = page.locator(".leaflet-marker-icon").count()
    assert 0 < icons < EVENTS / 10
    assert page.locator(".gs-big-cluster").count() > 0
    assert page.locator(".leaflet-overlay-pane canvas").count() >= 1
    assert page.locator(".gs-event").count() == 0  # no markercluster markers
    assert page.evaluate(IN_VIEW) > EVENTS / 2
    # the text version still lists the events
    assert page.locator("#gs-events li").count() == 1_000


def test_the_opening_counts_every_event_once(opened):
    """The opening is drawn from a quick index of pooled places: its clusters' counts and the
    single events on the canvas add up to every event on the map, none twice."""
    page, _ = opened
    got = page.evaluate("""() => {
      const big = GeoStory.state.layers.events.big;
      const counted = [...document.querySelectorAll('.gs-big-cluster')]
        .reduce((sum, node) => sum + parseInt(node.title, 10), 0);
      return {counted, dots: big.dots.length, points: big.points.length, quick: !!big.quick};
    }""")
    assert got["quick"]
    assert got["dots"] > 0 and got["counted"] > got["dots"]
    assert got["counted"] + got["dots"] == got["points"]


def test_many_events_at_one_lone_place_zoom_in_on_a_click(browser, tmp_path):
    """Many events at one place far from any other are one pooled cell in the opening's
    quick index, with no cluster around it: drawn as one marker with their count all the
    same, and a click zooms in to them."""
    story = write_story(tmp_path / "story", EVENTS)
    path = story / "events.geojson"
    doc = json.loads(path.read_text("utf-8"))
    for k, feature in enumerate(doc["features"]):  # half at Niamey, the rest 9 degrees east
        lonlat = [2.1111, 13.5111] if k % 2 == 0 else [11 + k % 40 / 10, 14 + k % 70 / 10]
        feature["geometry"]["coordinates"] = lonlat
    path.write_text(json.dumps(doc), encoding="utf-8")
    page, watch = open_settled(browser, build(story, tmp_path / "dist").out / "index.html", SIZE)
    here = f".gs-big-cluster[title^='{EVENTS // 2} ']"
    assert page.locator(here).count() == 1
    assert page.evaluate(
        """(n) => GeoStory.state.layers.events.big.pool
          .filter((m) => m.gsFeature.properties.n === n && !m.gsFeature.properties.cluster)
          .length === 1""",
        EVENTS // 2,
    )  # a pooled cell, not one of supercluster's clusters
    before = page.evaluate("() => GeoStory.state.map.getZoom()")
    page.locator(here).click()
    page.wait_for_function("(z) => GeoStory.state.map.getZoom() > z", arg=before)
    page.wait_for_function(SETTLED)
    assert page.locator(here).count() == 1  # all of them, a cluster of the whole index now
    assert watch.errors == [] and watch.foreign == []
    page.close()


def test_a_cluster_click_zooms_in(opened):
    page, _ = opened
    before = page.evaluate("() => GeoStory.state.map.getZoom()")
    assert page.evaluate(MARK_CLUSTER)
    page.click("[data-test-target]")
    page.wait_for_function("(z) => GeoStory.state.map.getZoom() > z", arg=before)
    page.wait_for_function(SETTLED)
    assert page.evaluate("() => GeoStory.state.map.getZoom()") <= page.evaluate(
        "() => GeoStory.state.map.getMaxZoom()"
    )


# A point drawn on the canvas at least 80 px inside the map (the first, or the one nearest the
# top edge, whose popup has to pan the map to show): where to click it, and its id.
FIND_DOT = """(nearTop) => { const e = GeoStory.state.layers.events, m = GeoStory.state.map;
  const box = m.getContainer().getBoundingClientRect();
  const at = (d) => m.latLngToContainerPoint(d.getLatLng());
  const dots = e.big.dots.filter((d) => { const p = at(d);
    return p.x > 80 && p.y > 80 && p.x < box.width - 80 && p.y < box.height - 80; });
  if (nearTop) dots.sort((a, b) => at(a).y - at(b).y);
  if (!dots.length) return null;
  const p = at(dots[0]);
  return {x: box.left + p.x, y: box.top + p.y, id: dots[0].gsId}; }"""


def _click_a_point(page, near_top=False):
    """Click a point at the deepest zoom; return the popup's content and the point's number."""
    page.evaluate(DEEPEST, [18, 8])
    page.wait_for_function(SETTLED)
    quiet(page)
    at = page.evaluate(FIND_DOT, near_top)
    assert at, "no point drawn at the deepest zoom"
    page.mouse.click(at["x"], at["y"])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    n = int(at["id"].split("-")[1])
    assert popup.locator("h2").inner_text() == (HOSTILE if n == 1 else f"Event {n}")
    return popup, n


def test_clicking_a_point_opens_its_popup(opened):
    page, _ = opened
    popup, n = _click_a_point(page)
    link = popup.locator("a.gs-source, .gs-source a").first
    assert link.get_attribute("href") == f"https://example.org/events/{n}"
    assert link.get_attribute("rel") == "noopener noreferrer"


def test_a_points_popup_stays_open_when_the_map_pans(opened):
    """A point's popup near the top pans the map to show itself, and the reader may pan
    further: the map is drawn again after each pan, and the point keeps its popup open."""
    page, _ = opened
    popup, n = _click_a_point(page, near_top=True)
    quiet(page)
    assert popup.count() == 1
    page.evaluate("() => GeoStory.state.map.panBy([40, 20], {animate: false})")
    quiet(page)
    assert popup.count() == 1
    assert popup.locator("h2").inner_text() == (HOSTILE if n == 1 else f"Event {n}")


def test_the_keyboard_reaches_a_point_and_opens_its_popup(opened):
    """Points on the canvas are no elements: while few are in view, Tab reaches a stand-in
    for each, named like the point, and Enter opens its popup; Escape brings focus back."""
    page, _ = opened
    page.evaluate(DEEPEST, [18, 8])
    page.wait_for_function(SETTLED)
    quiet(page)
    keys = page.locator(".gs-big-key")
    assert keys.count() == page.evaluate(f"() => ({LAYER})().big.dots.length") > 0
    page.locator(".gs-map").focus()
    tab_to(page, "gs-big-key", 100)  # past the clusters in view, to the first point
    name = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
    assert ": Event " in name or HOSTILE in name  # its date and title, as on hover
    page.keyboard.press("Enter")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert popup.locator("h2").inner_text() in name
    assert page.evaluate("() => !!document.activeElement.closest('.leaflet-popup')")
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('.leaflet-popup')")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == name


def test_an_event_opens_from_the_text_version_with_its_text_as_text(opened):
    page, _ = opened
    page.evaluate("() => GeoStory.openEvent('ev-00001', 'events')")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert popup.locator("h2").inner_text() == HOSTILE
    assert popup.locator("img").count() == 0
    assert "49" not in popup.inner_text()


def test_a_pile_at_one_place_lists_its_events(opened):
    page, _ = opened
    page.evaluate(DEEPEST, list(PILE))
    page.wait_for_function(SETTLED)
    quiet(page)
    assert page.evaluate(MARK_CLUSTER)
    assert page.locator("[data-test-target]").inner_text() == "5"
    zoom = page.evaluate("() => GeoStory.state.map.getZoom()")
    page.click("[data-test-target]")
    items = page.locator(".leaflet-popup-content .gs-aside-item")
    items.first.wait_for()
    assert items.count() == 5
    assert page.evaluate("() => GeoStory.state.map.getZoom()") == zoom  # never beyond maxZoom
    page.locator(".leaflet-popup-content .gs-aside-item[data-id='ev-00002']").click()
    popup = page.locator(".leaflet-popup-content")
    popup.locator("h2").wait_for()
    assert HOSTILE in popup.inner_text()  # the description, shown as text
    assert popup.locator("img").count() == 0
    popup.locator(".gs-aside-back").click()
    assert items.count() == 5


def test_the_timeline_filters_the_drawn_events(opened):
    page, _ = opened
    before = page.evaluate(IN_VIEW)
    handle = page.locator(".gs-tl-handle-1")
    handle.focus()
    for _ in range(5):
        handle.press("PageDown")  # the end of the period five years earlier
    page.wait_for_function(f"(n) => ({IN_VIEW})() < n", arg=before)
    text = page.locator(".gs-tl-range").inner_text()
    shown = int(text.split("·")[1].split(" of ")[0])
    assert 0 < shown < EVENTS
    page.locator(".gs-tl-all").click()
    page.wait_for_function(f"(n) => ({IN_VIEW})() === n", arg=before)


def test_a_chapter_style_highlight_marks_its_cluster(opened):
    page, _ = opened
    page.evaluate("() => GeoStory.highlight(['ev-00010'])")
    page.wait_for_function("() => document.querySelector('.gs-big-cluster.gs-highlight')")
    bounds = page.evaluate("() => GeoStory.boundsOf(['ev-00010']).getCenter()")
    assert bounds["lat"] and bounds["lng"]
    page.evaluate("() => GeoStory.highlight([])")
    page.wait_for_function("() => !document.querySelector('.gs-big-cluster.gs-highlight')")


def test_the_text_version_shows_an_event_on_the_map(opened):
    page, _ = opened
    page.locator("#gs-events-title").click()
    button = page.locator("#gs-events .gs-show").first
    event = button.get_attribute("data-event")
    button.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    n = int(event.split("-")[1])
    assert popup.locator(".gs-source a").get_attribute("href") == f"https://example.org/events/{n}"


def test_clusters_are_reachable_by_keyboard(opened):
    page, _ = opened
    before = page.evaluate("() => GeoStory.state.map.getZoom()")
    assert page.evaluate(MARK_CLUSTER)
    target = page.locator("[data-test-target]")
    assert target.get_attribute("tabindex") == "0"
    assert "events here: zoom in" in target.get_attribute("aria-label")
    target.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("(z) => GeoStory.state.map.getZoom() > z", arg=before)


def test_a_fragment_opens_its_event(browser, big_page):
    page = browser.new_page(viewport={"width": SIZE[0], "height": SIZE[1]})
    page.goto(big_page.as_uri() + "#event=ev-00001")
    page.wait_for_function(READY)
    page.locator(".leaflet-popup-content h2").wait_for()
    assert page.locator(".leaflet-popup-content h2").inner_text() == HOSTILE
    page.close()


def test_the_large_page_is_axe_clean(browser, big_page):
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_page(viewport={"width": SIZE[0], "height": SIZE[1]})
    page.goto(big_page.as_uri())
    page.wait_for_function(READY)
    page.wait_for_function(SETTLED)
    violations = Axe().run(page).response["violations"]
    page.close()
    assert [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations] == []
