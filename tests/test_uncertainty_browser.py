"""Uncertainty as design, in a real Chromium: events placed only to a country are listed on the
country's name, far-away events are chips at the frame's edge, uncertainty rings are drawn to
scale once wider than their marker, and vaguely dated events are hollow."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.browser import open_settled, quiet
from tests.conftest import DEFAULT_STORY

pytestmark = pytest.mark.browser

SIZES = [(1280, 800), (375, 667)]
VIEW = """() => { const m = GeoStory.state.map, c = m.getCenter();
  return [c.lat, c.lng, m.getZoom()]; }"""
# void: returning the Leaflet map makes playwright serialise it, which costs seconds
ZOOM_IN = "() => void GeoStory.state.map.zoomIn(1, {animate: false})"
ZOOM_MIN = "() => { const m = GeoStory.state.map; m.setZoom(m.getMinZoom(), {animate: false}); }"
SETTLED = "() => !document.querySelector('.leaflet-zoom-anim, .leaflet-cluster-anim')"


def _events() -> list[dict]:
    data = json.loads((DEFAULT_STORY / "events.geojson").read_text(encoding="utf-8"))
    return [f["properties"] | {"xy": f["geometry"]["coordinates"]} for f in data["features"]]


EVENTS = _events()
COUNTRY = sorted(
    (e for e in EVENTS if e["location_precision"] == "country"), key=lambda e: (e["date"], e["id"])
)


def _day(text: str) -> int:
    return (dt.date.fromisoformat(text) - dt.date(1970, 1, 1)).days


def _inside(box: dict, frame: dict) -> bool:
    return (
        frame["x"] <= box["x"]
        and box["x"] + box["width"] <= frame["x"] + frame["width"]
        and frame["y"] <= box["y"]
        and box["y"] + box["height"] <= frame["y"] + frame["height"]
    )


def _settle(page) -> None:
    page.wait_for_function(SETTLED)
    quiet(page)


@pytest.fixture
def desktop(browser, default_build):
    page, watch = open_settled(browser, default_build.out / "index.html", SIZES[0])
    yield page, watch
    page.close()


def test_country_level_events_are_not_points(desktop):
    page, watch = desktop
    assert len(COUNTRY) == 3
    for event in COUNTRY:
        assert page.locator(f".gs-event-{event['id']}").count() == 0
        assert not page.evaluate(
            "(id) => GeoStory.state.map.hasLayer(GeoStory.state.events[id])", event["id"]
        )
    # no event marker or cluster sits on the country's label point, nor on the events' point
    hits = page.evaluate(
        """(xy) => {
      const m = GeoStory.state.map, label = GeoStory.state.labels.find(l => l.text === 'Niger');
      const box = m.getContainer().getBoundingClientRect();
      const points = [m.latLngToContainerPoint(label.getLatLng()),
                      m.latLngToContainerPoint([xy[1], xy[0]])];
      return [...document.querySelectorAll('.gs-event, .marker-cluster')].filter(n => {
        const r = n.getBoundingClientRect();
        return points.some(p => r.left <= box.left + p.x && box.left + p.x <= r.right &&
                                r.top <= box.top + p.y && box.top + p.y <= r.bottom);
      }).length;
    }""",
        COUNTRY[0]["xy"],
    )
    assert hits == 0
    assert watch.errors == []


def test_the_country_badge_lists_its_events_in_date_order(desktop):
    page, watch = desktop
    badge = page.locator(".gs-area-badge")
    assert badge.count() == 1
    assert badge.inner_text() == f"Niger · {len(COUNTRY)}"
    assert badge.get_attribute("role") == "button"
    before = page.evaluate(VIEW)
    badge.locator("span").click()
    items = page.locator(".leaflet-popup .gs-aside-item")
    items.first.wait_for()
    titles = [items.nth(i).inner_text() for i in range(items.count())]
    assert [t.split("\n")[-1].strip() for t in titles] == [e["title"] for e in COUNTRY]
    items.nth(1).click()
    popup = page.locator(".leaflet-popup-content")
    assert COUNTRY[1]["title"] in popup.inner_text()
    assert page.evaluate(VIEW) == before  # the map did not move
    assert _inside(
        page.locator(".leaflet-popup").bounding_box(), page.locator(".gs-map").bounding_box()
    )
    assert watch.errors == []


def test_the_badge_counts_what_the_timeline_shows(desktop):
    page, _ = desktop
    badge = page.locator(".gs-area-badge")
    start, end = _day("2024-01-01"), _day("2030-12-31")
    page.evaluate("([a, b]) => GeoStory.setRange(a, b)", [start, end])
    in_range = [e for e in COUNTRY if start <= _day(e["date"]) <= end]
    assert badge.inner_text() == f"Niger · {len(in_range)}"
    page.evaluate("([a, b]) => GeoStory.setRange(a, b)", [_day("2012-01-01"), _day("2013-12-31")])
    assert not badge.is_visible()  # none in range: no badge


def test_opening_a_country_level_event_from_the_text_version(desktop):
    page, _ = desktop
    event = COUNTRY[-1]
    before = page.evaluate(VIEW)
    assert page.evaluate("(id) => GeoStory.openEvent(id)", event["id"])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert event["title"] in popup.inner_text()
    assert page.evaluate(VIEW) == before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_far_away_chips_stay_in_the_frame_and_open_in_place(browser, default_build, size):
    page, watch = open_settled(browser, default_build.out / "index.html", size)
    far = {"Washington": 2, "Moscow": 1}
    chips = page.locator(".gs-chip")
    for step in ("opening", "in", "in", "min"):
        if step == "in":
            page.evaluate(ZOOM_IN)
        elif step == "min":
            page.evaluate(ZOOM_MIN)
        _settle(page)
        frame = page.locator(".gs-map").bounding_box()
        texts = sorted(chips.nth(i).inner_text() for i in range(chips.count()))
        assert [t.lstrip("→ ").strip() for t in texts] == [
            f"{place} ({n})" for place, n in sorted(far.items())
        ], step
        for i in range(chips.count()):
            assert _inside(chips.nth(i).bounding_box(), frame), (step, texts[i])
        for i in range(chips.count()):
            before = page.evaluate(VIEW)
            chips.nth(i).click()
            box = page.locator(".leaflet-popup")
            box.wait_for()
            assert page.evaluate(VIEW) == before, step
            assert _inside(box.bounding_box(), frame), step
            page.keyboard.press("Escape")
            box.wait_for(state="detached")
    assert watch.errors == [] and watch.foreign == []
    page.close()


def test_a_chip_is_a_keyboard_button(desktop):
    page, _ = desktop
    chip = page.locator(".gs-chip", has_text="Moscow")
    assert chip.evaluate("n => n.tagName") == "BUTTON"
    assert "far outside the map" in chip.get_attribute("aria-label")
    chip.focus()
    page.keyboard.press("Enter")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "far outside the map, in Moscow" in popup.inner_text()
    assert page.evaluate("() => document.activeElement.closest('.leaflet-popup') !== null")
    page.keyboard.press("Escape")
    assert page.evaluate("() => document.activeElement.classList.contains('gs-chip')")


def test_rings_are_to_scale_and_never_hide_under_their_marker(desktop):
    page, _ = desktop
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('path.gs-base-ring')]
        .filter(n => getComputedStyle(n).display !== 'none')
        .map(n => n.getBoundingClientRect().width / 2).filter(r => r > 0)"""
    )
    assert all(r >= 14 for r in drawn), drawn  # half the marker and 6 px, or not drawn
    assert page.locator(".gs-ring-label.gs-ring-legible").count() == 0 or all(r > 25 for r in drawn)
    # Arlit's 15 km ring, close up: drawn to scale, and it says so
    bases = json.loads((DEFAULT_STORY / "bases.geojson").read_text(encoding="utf-8"))
    arlit = next(f for f in bases["features"] if f["properties"]["site_id"] == "arlit")
    lon, lat = arlit["geometry"]["coordinates"]
    page.evaluate(
        "([lat, lon]) => void GeoStory.state.map.setView([lat, lon], 99, {animate: false})",
        [lat, lon],
    )
    _settle(page)
    labels = page.locator(".gs-ring-label.gs-ring-legible")
    assert "±15 km" in [labels.nth(i).inner_text() for i in range(labels.count())]


def test_vaguely_dated_events_are_hollow_and_keyed(desktop):
    page, _ = desktop
    vague = [e["id"] for e in EVENTS if e["date_precision"] in ("month", "year")]
    assert vague
    classes = page.evaluate(
        "(ids) => ids.map(id => GeoStory.state.events[id].options.icon.options.html.className)",
        vague,
    )
    assert all("gs-dot-vague" in c for c in classes)
    day = next(
        e["id"]
        for e in EVENTS
        if e["date_precision"] == "day" and e["location_precision"] != "country"
    )
    assert "gs-dot-vague" not in page.evaluate(
        "(id) => GeoStory.state.events[id].options.icon.options.html.className", day
    )
    key = page.locator(".gs-legend").inner_text()
    assert "Date known only to the month or year" in key
    assert "listed on its name" in key


def test_a_chapter_lights_the_chip_or_badge_that_lists_its_events(desktop):
    page, _ = desktop
    page.evaluate("(ids) => GeoStory.highlight(ids)", [COUNTRY[0]["id"], "us-declares-coup"])
    assert page.locator(".gs-area-badge.gs-highlight").count() == 1
    lit = page.locator(".gs-chip.gs-highlight")
    assert lit.count() == 1 and "Washington" in lit.inner_text()
    page.evaluate("() => GeoStory.highlight([])")
    assert page.locator(".gs-chip.gs-highlight, .gs-area-badge.gs-highlight").count() == 0
