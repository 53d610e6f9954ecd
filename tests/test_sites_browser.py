"""Sites that say who and when (issue 10), in Chromium: each site in its operator's colour,
filled while a presence lasts and hollow once all have ended at the timeline's date, a badge
counting its events with a popup listing them in date order, and map.toml's annotations."""

from __future__ import annotations

import pytest

from tests.browser import quiet
from tests.test_locator_browser import OVERLAPS

pytestmark = pytest.mark.browser

US, FRANCE, NEUTRAL = "rgb(24, 16, 80)", "rgb(88, 152, 255)", "rgb(31, 31, 31)"

SITES = """() => {
  const out = {};
  const entry = Object.values(GeoStory.state.layers).find((e) => e.doc.symbol === 'site');
  entry.features.forEach((layer, i) => {
    const id = entry.doc.columns[entry.doc.idField][i];
    const symbol = layer.gsSymbol;
    const node = symbol.closest('.gs-base');
    const badge = symbol.parentNode.querySelector('.gs-site-badge');
    out[id] = {
      colour: symbol.isConnected ? getComputedStyle(symbol).boxShadow : null,
      ended: node ? node.classList.contains('gs-ended') : null,
      badge: badge ? badge.textContent : null,
    };
  });
  return out;
}"""

DAY = "(iso) => Math.round(Date.parse(iso) / 86400000)"


def _range(page, start: str, end: str) -> dict:
    page.evaluate(f"([a, b]) => GeoStory.setRange(({DAY})(a), ({DAY})(b))", [start, end])
    quiet(page)
    return page.evaluate(SITES)


def test_sites_have_their_operators_colour_at_the_opening_view(open_map):
    sites = open_map().evaluate(SITES)
    # the whole timeline, to 2026: the US left AB201 (hollow, in US colour); Italy and
    # Russia share AB101 (several: the neutral near-black); France left Madama
    assert US in sites["ab201"]["colour"] and sites["ab201"]["ended"] is True
    assert NEUTRAL in sites["ab101"]["colour"] and sites["ab101"]["ended"] is False
    assert FRANCE in sites["madama"]["colour"] and sites["madama"]["ended"] is True


def test_filled_or_hollow_follows_the_timeline(open_map):
    page = open_map()
    sites = _range(page, "2012-01-01", "2022-01-01")
    assert sites["ab201"]["ended"] is False and US in sites["ab201"]["colour"]
    assert sites["madama"]["ended"] is False
    assert NEUTRAL in sites["ab101"]["colour"]  # US, France, Germany and Italy there
    sites = _range(page, "2012-01-01", "2024-09-01")
    assert sites["ab201"]["ended"] is True and US in sites["ab201"]["colour"]
    sites = _range(page, "2012-01-01", "2024-06-01")
    assert sites["ab201"]["ended"] is False


def test_a_badge_counts_a_sites_events_and_its_popup_lists_them_in_date_order(open_map):
    page = open_map()
    sites = page.evaluate(SITES)
    doc = page.evaluate(
        "() => Object.values(GeoStory.state.layers).find((e) => e.doc.symbol === 'site').doc"
    )
    ids = doc["columns"][doc["idField"]]
    for i, site in enumerate(ids):
        events = doc["columns"]["events"][i] or []
        assert sites[site]["badge"] == (str(len(events)) if events else None)
        days = [e["day"] for e in events]
        assert days == sorted(days)
    assert sites["ab201"]["badge"] == "5" and sites["ab101"]["badge"] == "10"
    page.evaluate(
        """() => { const e = Object.values(GeoStory.state.layers)
          .find((e) => e.doc.symbol === 'site');
          e.markers['ab201'].openPopup(); }"""
    )
    page.wait_for_selector(".gs-site-events")
    listed = page.locator(".gs-site-events button").all_inner_texts()
    assert len(listed) == 5
    assert listed[0].startswith("19 April 2016") and listed[-1].startswith("5 August 2024")
    page.locator(".gs-site-events button").last.click()
    page.wait_for_selector(".leaflet-popup .gs-popup:not(.gs-bases)")
    heading = page.locator(".leaflet-popup h2").first.inner_text()
    assert "Air Base 201" in heading


def test_annotations_show_at_1280_and_never_overlap_labels_or_markers(open_map):
    page = open_map((1280, 800))
    box = page.locator(".gs-annotation .gs-note-box")
    assert box.count() == 1 and box.is_visible()
    assert "$110 m" in box.inner_text()
    found = page.evaluate(OVERLAPS)
    assert box.inner_text() in found["labels"]
    # the annotation's own collisions (other workers' overlaps are their tests' business)
    assert [o for o in found["overlaps"] if box.inner_text() in o] == []


def test_annotations_leave_phones_alone(open_map):
    page = open_map((375, 667))
    assert not page.locator(".gs-annotation .gs-note-box").is_visible()
