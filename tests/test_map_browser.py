"""The map as a reader gets it: the built page in a real headless Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from geo.build import build
from tests.browser import READY, SETTLED, Watch, quiet, serve
from tests.conftest import FIXTURES

pytestmark = pytest.mark.browser

COUNT_MARKERS = """() => {
  const box = document.querySelector('.gs-map').getBoundingClientRect();
  const inView = (el) => { const r = el.getBoundingClientRect();
    return r.right > box.left && r.left < box.right && r.bottom > box.top && r.top < box.bottom; };
  const lone = [...document.querySelectorAll('.gs-event')].filter(inView).length;
  const clustered = [...document.querySelectorAll('.marker-cluster')].filter(inView)
    .reduce((n, el) => n + parseInt(el.textContent, 10), 0);
  // far-away events (a chip per place) and country-wide ones (a badge on the country's name)
  const listed = [...document.querySelectorAll('.gs-chip, .gs-area-badge')].filter(inView)
    .reduce((n, el) => n + parseInt(el.getAttribute('data-count'), 10), 0);
  return lone + clustered + listed;
}"""


# The cluster that holds an event's marker: marked so Playwright can click it like a reader.
MARK_PARENT = """(id) => {
  const marker = GeoStory.state.events[id];
  const parent = GeoStory.state.eventLayer.getVisibleParent(marker);
  document.querySelectorAll('[data-test-target]')
    .forEach(e => e.removeAttribute('data-test-target'));
  if (!parent || parent === marker) return false;
  window.testClicked = parent;
  parent._icon.setAttribute('data-test-target', '1');
  return true;
}"""
# After a cluster click: its marker is on show (spiderfied), or another cluster holds it now.
MOVED_ON = """(id) => {
  const marker = GeoStory.state.events[id];
  return GeoStory.state.eventLayer.getVisibleParent(marker) !== window.testClicked;
}"""


@pytest.fixture(scope="module")
def site(default_build):
    with serve(default_build.out) as url:
        yield default_build, url


def open_default(browser, site, how: str):
    result, http_url = site
    url = (result.out / "index.html").as_uri() if how == "file" else http_url
    origin = "file://" if how == "file" else http_url
    page = browser.new_page(viewport={"width": 1280, "height": 800}, reduced_motion="reduce")
    watch = Watch(origin)
    watch.attach(page)
    page.goto(url)
    page.wait_for_function(READY)
    return page, watch, result


@pytest.fixture
def opened(browser, site):
    """The default map opened from disk; yields (page, watch, build)."""
    page, watch, result = open_default(browser, site, "file")
    yield page, watch, result
    page.close()


@pytest.fixture(scope="module")
def _shown(browser, site):
    page, watch, result = open_default(browser, site, "file")
    yield page, watch, result
    page.close()


@pytest.fixture
def shown(_shown):
    """The default map opened from disk, shared by the tests that only read it (in the
    ``map-read`` xdist group, so that one worker opens it); yields (page, watch, build)."""
    yield _shown
    assert _shown[1].errors == [] and _shown[1].foreign == []


@pytest.fixture(params=["file", "http"])
def opened_both_ways(request, browser, site):
    """The default map opened from disk and over HTTP (what differs: origins, CSP 'self')."""
    page, watch, result = open_default(browser, site, request.param)
    yield page, watch, result
    page.close()


def open_event(page, event_id: str):
    """Open an event's popup by clicking clusters then the marker; return the popup."""
    marker = page.locator(f".gs-event-{event_id}")
    popup = page.locator(".leaflet-popup-content")
    chip = page.evaluate("(id) => GeoStory.state.events[id].gsChip", event_id)
    if chip:  # far away: its place's chip at the frame's edge, then its line in the list
        page.locator(".gs-chip", has_text=chip).click()
        item = page.locator(f".gs-aside-item[data-id='{event_id}']")
        if item.count():  # the chip's list first: its popup gives way to the event's
            item.click()
            item.wait_for(state="detached", timeout=3000)
        popup.wait_for(timeout=3000)
        return popup
    for _ in range(15):
        page.wait_for_function(SETTLED)
        if marker.count() and marker.is_visible():
            try:  # a spider can fold up under the click: then start again from its cluster
                marker.click(timeout=3000)
                popup.wait_for(timeout=3000)
                return popup
            except PlaywrightTimeout:
                continue
        assert page.evaluate(MARK_PARENT, event_id), f"no cluster holds {event_id}"
        page.locator("[data-test-target]").click()
        page.wait_for_function(MOVED_ON, arg=event_id)
    pytest.fail(f"could not open the popup of {event_id}")


def test_page_is_clean_and_self_contained(opened_both_ways):
    page, watch, _ = opened_both_ways
    quiet(page)
    assert watch.errors == []
    assert watch.foreign == []
    assert page.title() == "Niger ends military cooperation with the United States"


@pytest.mark.xdist_group("map-read")
def test_every_event_has_a_marker_and_every_base_its_circle(shown):
    page, _, result = shown
    events = result.story.layer("events").frame
    bases = result.story.layer("bases").frame
    assert page.evaluate(COUNT_MARKERS) == len(events)
    assert page.locator("path.gs-base-ring").count() == bases["site_id"].nunique()
    assert page.locator(".gs-base").count() == bases["site_id"].nunique()


@pytest.mark.xdist_group("map-read")
def test_initial_view_fits_niger_and_its_neighbours(shown):
    page, _, _ = shown
    bounds = page.evaluate("() => GeoStory.state.map.getBounds().toBBoxString()")
    west, south, east, north = (float(v) for v in bounds.split(","))
    assert west <= 0.2 and east >= 16 and south <= 11.7 and north >= 23.5  # Niger in view
    # Washington and Moscow did not drag the view away: centred on the eight countries.
    assert west > -77.0 and north < 55.7
    assert abs((west + east) / 2 - 6.0) < 3 and abs((south + north) / 2 - 20.5) < 3


@pytest.mark.parametrize(
    ("event_id", "date", "title"),
    [
        ("junta-ends-sofa", "16 March 2024", "Junta ends the US–Niger SOFA"),
        ("coup-bazoum-detained", "26 July 2023", "Coup: President Bazoum detained"),  # co-located
        ("us-declares-coup", "10 October 2023", "US formally calls it a coup"),  # Washington
    ],
)
def test_clicking_an_event_opens_its_popup(opened, event_id, date, title):
    page, watch, _ = opened
    popup = open_event(page, event_id)
    text = popup.inner_text()
    assert date in text and title in text
    link = popup.locator(".gs-source a")
    assert link.get_attribute("href").startswith("https://")
    assert link.get_attribute("target") == "_blank"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert watch.errors == []


def test_every_niamey_event_is_reachable(opened_both_ways):
    page, _, result = opened_both_ways
    events = result.story.layer("events").frame
    niamey = events[(events.geometry.x == 2.1175) & (events.geometry.y == 13.515)]
    assert len(niamey) >= 10
    for event_id, title in zip(niamey["id"][:3], niamey["title"][:3], strict=True):
        assert title in open_event(page, event_id).inner_text()
        page.locator(".leaflet-popup-close-button").click()
        page.wait_for_function("() => !document.querySelector('.leaflet-popup')")


def test_layer_control_hides_and_shows_events(opened):
    page, _, _ = opened
    visible = "() => document.querySelectorAll('.gs-event, .marker-cluster').length"
    assert page.evaluate(visible) > 0
    page.hover(".leaflet-control-layers")
    box = page.locator(".leaflet-control-layers label", has_text="Events").locator("input")
    box.uncheck()
    assert page.evaluate(visible) == 0
    box.check()
    assert page.evaluate(visible) > 0


def test_phone_viewport_fits(browser, default_build, tmp_path):
    page = browser.new_page(viewport={"width": 375, "height": 667})
    page.goto((default_build.out / "index.html").as_uri())
    page.wait_for_function(READY)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    for selector in (
        ".gs-map",
        ".gs-legend",
        ".leaflet-control-zoom",
        ".leaflet-control-layers",
        ".leaflet-control-scale",
        ".gs-head h1",
    ):
        box = page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375, selector
        assert box["height"] > 0, selector
    page.screenshot(path=tmp_path / "phone.png", full_page=True)
    assert (tmp_path / "phone.png").stat().st_size > 10_000
    page.close()


@pytest.mark.xdist_group("map-read")
def test_desktop_screenshot(shown, tmp_path):
    page, _, _ = shown
    page.screenshot(path=tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 50_000


def test_hostile_text_stays_text(browser, tmp_path):
    """A plain folder whose properties hold HTML, ${...} and Jinja: shown as text, never run."""
    result = build(FIXTURES / "good/plain", tmp_path / "dist")
    page = browser.new_page()
    watch = Watch("file://")
    watch.attach(page)
    page.goto((result.out / "index.html").as_uri())
    page.wait_for_function("() => window.GeoStory")
    page.locator("path.gs-point").first.click()
    popup = page.locator(".leaflet-popup-content")
    text = popup.inner_text()
    assert "<img src=x onerror=alert(1)> ${alert(2)} {{ 7*7 }} {% raw %}" in text
    assert popup.locator("img").count() == 0
    assert popup.locator("a").get_attribute("href") == "https://example.org/a"
    assert "javascript:alert(1)" in text and popup.locator("a").count() == 1
    legend = page.locator(".gs-legend").inner_text()
    assert "Points" in legend and "Lines" in legend and "Areas" in legend
    assert watch.dialogs == [] and watch.errors == [] and watch.foreign == []
    page.close()


def test_event_list_opens_an_event_on_the_map(opened):
    page, watch, _ = opened
    page.locator("#gs-events summary").click()
    item = page.locator("#event-russia-niger-military-ties")
    assert "Moscow" in item.inner_text()
    item.get_by_role("button", name="Show on map").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "Russia and Niger agree to expand military ties" in popup.inner_text()
    assert "far outside the map, in Moscow" in popup.inner_text()
    assert watch.errors == []


@pytest.mark.xdist_group("map-read")
def test_far_away_events_point_the_way_from_the_edge(shown):
    """Washington (twice) and Moscow: a chip per place, inside the view, none hiding another,
    each on the side of the frame its place lies."""
    page, _, result = shown
    events = result.story.layer("events").frame
    far = events[(events.geometry.x < -20) | (events.geometry.y > 45)]
    assert sorted(far["place"]) == ["Moscow", "Washington, D.C.", "Washington, D.C."]
    chips = page.locator(".gs-chip")
    assert chips.count() == far["place"].nunique()
    view = page.locator(".gs-map").bounding_box()
    boxes = {}
    for i in range(chips.count()):
        box = chips.nth(i).bounding_box()
        assert view["x"] <= box["x"] and box["x"] + box["width"] <= view["x"] + view["width"]
        assert view["y"] <= box["y"] and box["y"] + box["height"] <= view["y"] + view["height"]
        boxes[chips.nth(i).inner_text().lstrip("→ ").split(" (")[0]] = box
    assert set(boxes) == {"Washington", "Moscow"}
    washington, moscow = boxes["Washington"], boxes["Moscow"]
    assert washington["x"] + washington["width"] < view["x"] + view["width"] / 2  # to the west
    assert moscow["y"] + moscow["height"] < view["y"] + view["height"] / 2  # to the north
    apart = (
        washington["x"] + washington["width"] <= moscow["x"]
        or moscow["x"] + moscow["width"] <= washington["x"]
        or washington["y"] + washington["height"] <= moscow["y"]
        or moscow["y"] + moscow["height"] <= washington["y"]
    )
    assert apart


# Zoom in as a click on "+" does: animated, the map reaches the new zoom only when the
# animation ends; without animation, at once.
ZOOMED_AT_ONCE = """() => { const m = GeoStory.state.map, before = m.getZoom();
  m.zoomIn(1);
  return m.getZoom() > before; }"""


# Pan as a popup does to show itself: a glide (Leaflet marks the map pane while it runs), or
# at once.
PANNED_AT_ONCE = """() => { const m = GeoStory.state.map, before = m.getCenter();
  m.panBy([120, 80]);
  const gliding = m.getPane('mapPane').classList.contains('leaflet-pan-anim');
  return !gliding && !m.getCenter().equals(before); }"""


def test_a_reader_who_asked_for_less_motion_gets_no_animation(browser, default_build):
    for motion, at_once in (("reduce", True), ("no-preference", False)):
        page = browser.new_page(viewport={"width": 1280, "height": 800}, reduced_motion=motion)
        page.goto((default_build.out / "index.html").as_uri())
        page.wait_for_function(READY)
        page.wait_for_function(SETTLED)
        assert page.evaluate(PANNED_AT_ONCE) is at_once, motion
        page.wait_for_function("() => !document.querySelector('.leaflet-pan-anim')")
        assert page.evaluate(ZOOMED_AT_ONCE) is at_once, motion
        page.close()
