"""The locator map as a newsroom would check it, in Chromium: labels that never collide, sites
on top, a frame the land fills, popups clear of the controls, Escape and focus."""

from __future__ import annotations

import pytest

from tests.browser import FRAMES, SETTLED, quiet

pytestmark = pytest.mark.browser

SIZES = [(1280, 800), (640, 480), (375, 667)]

# Visible label/label and label/marker overlaps: the boxes of the label texts against each
# other (a country's badge, "Niger · 3", is a label) and against every marker icon (events,
# clusters, sites) that is not a label, every site's event count and every far-away chip.
OVERLAPS = """() => {
  const shown = (n) => {
    const r = n.getBoundingClientRect();
    const s = getComputedStyle(n);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' ? r : null;
  };
  const hit = (a, b) =>
    a.left < b.right && a.right > b.left && a.top < b.bottom && a.bottom > b.top;
  const labels = [...document.querySelectorAll('.gs-label span')]
    .map((n) => [n.textContent, shown(n)]).filter((x) => x[1]);
  // obstacles: events, clusters, sites, a site's event count, the far-away chips at the edge
  const obstacles = '.leaflet-marker-icon:not(.gs-label), .gs-site-badge, .gs-chip';
  const markers = [...document.querySelectorAll(obstacles)]
    .map((n) => [n.title || n.textContent || n.className, shown(n)]).filter((x) => x[1]);
  // a chip or a country's badge is never hidden while it lists events
  const asides = [...document.querySelectorAll('.gs-chip, .gs-area-badge')]
    .filter((n) => Number(n.getAttribute('data-count')) > 0)
    .map((n) => [n.textContent, !!shown(n.querySelector('span') || n)]);
  const found = [];
  // a label cut by the frame's edge collides with the frame
  const frame = document.querySelector('.gs-map').getBoundingClientRect();
  labels.forEach((a) => {
    const r = a[1];
    const cut = r.left < frame.left || r.right > frame.right || r.top < frame.top ||
      r.bottom > frame.bottom;
    const seen = r.right > frame.left && r.left < frame.right && r.bottom > frame.top &&
      r.top < frame.bottom;
    if (cut && seen) found.push(a[0] + ' / the frame');
  });
  labels.forEach((a, i) => {
    labels.slice(i + 1).forEach((b) => { if (hit(a[1], b[1])) found.push(a[0] + ' / ' + b[0]); });
    markers.forEach((m) => { if (hit(a[1], m[1])) found.push(a[0] + ' / ' + m[0]); });
  });
  return {
    labels: labels.map((x) => x[0]),
    overlaps: found,
    asides: asides.map((x) => x[0]),
    hiddenAsides: asides.filter((x) => !x[1]).map((x) => x[0]),
  };
}"""

VIEW = """() => { const m = GeoStory.state.map, c = m.getCenter();
  return [c.lat, c.lng, m.getZoom()]; }"""

# How far (in pixels, positive = outside) the map's view reaches beyond its maxBounds.
BEYOND = """() => {
  const m = GeoStory.state.map;
  const limit = L.latLngBounds(GeoStory.state.doc.view.maxBounds);
  const size = m.getSize();
  const nw = m.latLngToContainerPoint(limit.getNorthWest());
  const se = m.latLngToContainerPoint(limit.getSouthEast());
  return Math.max(nw.x, nw.y, size.x - se.x, size.y - se.y);
}"""


def settle(page, labels: bool = True) -> None:
    """No animation runs; with ``labels``, the late declutter has placed them too."""
    page.wait_for_function(SETTLED)
    if labels:
        quiet(page)
    else:
        page.evaluate(FRAMES)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_labels_collide_with_no_label_and_no_marker(open_map, size):
    page = open_map(size, still=False)  # labels give way again once the animations settle
    found = page.evaluate(OVERLAPS)
    assert found["overlaps"] == []
    assert found["hiddenAsides"] == []
    # the chips (Washington, Moscow) and Niger's badge are on the map, and they count
    assert any("Moscow" in text for text in found["asides"]), found["asides"]
    assert any(text.startswith("Niger ·") for text in found["asides"]), found["asides"]
    # the story's own names are on the map: its country, and on a desktop its key sites
    assert "Niger" in found["labels"]
    if size[0] >= 1280:
        assert {"Air Base 101 (Niamey)", "Air Base 201 (Agadez)"} <= set(found["labels"])
    for steps in (1, 2, 3):  # and after every zoom
        page.evaluate(
            f"() => void GeoStory.state.map.setZoom(GeoStory.state.map.getMinZoom() + {steps})"
        )
        settle(page)
        found = page.evaluate(OVERLAPS)
        assert found["overlaps"] == [], (steps, found["overlaps"])
        assert found["hiddenAsides"] == [], (steps, found["hiddenAsides"])
        assert found["labels"], steps


@pytest.mark.xdist_group("locator-read")
def test_every_site_is_on_top_at_its_own_pixel(read_map, default_build):
    page = read_map()
    on_top = page.evaluate("""() => [...document.querySelectorAll('.gs-base')].map((n) => {
      const r = n.getBoundingClientRect();
      const x = r.left + r.width / 2, y = r.top + r.height / 2;
      // a site over a cluster lets clicks through to it (pointer-events), but is drawn above
      const over = n.classList.contains('gs-over-cluster');
      if (over) n.style.pointerEvents = 'auto';
      const top = document.elementFromPoint(x, y);
      if (over) n.style.pointerEvents = '';
      return [n.title, n.contains(top)];
    })""")
    sites = default_build.story.layer("bases").frame["site_id"].nunique()
    assert len(on_top) == sites
    assert [title for title, top in on_top if not top] == []
    # the sites' own pane draws above every event and cluster
    panes = page.evaluate("""() => [...document.querySelectorAll('.leaflet-pane')]
      .filter((p) => p.querySelector(':scope > .leaflet-marker-icon'))
      .map((p) => [p.className, Number(getComputedStyle(p).zIndex)])""")
    site_pane = [z for name, z in panes if "gs-sites" in name]
    assert site_pane and all(z < site_pane[0] for name, z in panes if "gs-sites" not in name)


@pytest.mark.parametrize("how", ["keyboard", "click"])
def test_escape_closes_the_popup_and_focus_returns_to_its_marker(open_map, how):
    page = open_map()
    if how == "keyboard":
        page.locator(".gs-map").focus()
        for _ in range(80):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.classList.contains('gs-event')"):
                break
        else:
            pytest.fail("no event marker is reachable with Tab")
        page.evaluate("() => document.activeElement.setAttribute('data-test-opener', '1')")
        page.keyboard.press("Enter")
    else:
        marker = page.locator(".gs-event-aes-charter")  # Bamako: on its own
        marker.evaluate("(n) => n.setAttribute('data-test-opener', '1')")
        marker.click()
    page.locator(".leaflet-popup-content").wait_for()
    if how == "keyboard":  # the popup took the focus
        assert page.evaluate("() => !!document.activeElement.closest('.leaflet-popup')"), (
            "the popup did not take the focus"
        )
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('.leaflet-popup')")
    assert page.evaluate("() => document.activeElement.hasAttribute('data-test-opener')")


@pytest.mark.xdist_group("locator-read")
def test_attribution_keeps_the_leaflet_link_without_a_flag(read_map):
    page = read_map()
    box = page.locator(".leaflet-control-attribution")
    link = box.locator("a[href='https://leafletjs.com']")
    assert link.count() == 1 and link.inner_text() == "Leaflet"
    assert box.locator("svg, img").count() == 0
    assert "🇺🇦" not in box.inner_text()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_land_fills_every_view_and_reset_returns_to_the_opening(open_map, size):
    page = open_map(size)
    opening = page.evaluate(VIEW)
    assert page.evaluate(BEYOND) <= 1
    page.evaluate("() => void GeoStory.state.map.setZoom(0, {animate: false})")
    settle(page, labels=False)
    assert page.evaluate("() => GeoStory.state.map.getZoom() === GeoStory.state.map.getMinZoom()")
    assert page.evaluate(BEYOND) <= 1  # zoomed out as far as it goes: no void beyond the land
    for dx, dy in ((-5000, 0), (5000, 0), (0, -5000), (0, 5000)):
        page.evaluate(f"() => void GeoStory.state.map.panBy([{dx}, {dy}], {{animate: false}})")
        settle(page, labels=False)
        assert page.evaluate(BEYOND) <= 1, (dx, dy)
    page.evaluate("() => void GeoStory.state.map.setView([13.5, 2.1], 8, {animate: false})")
    settle(page, labels=False)
    reset = page.get_by_role("button", name="Reset the map to its opening view")
    reset.click()
    settle(page, labels=False)
    back = page.evaluate(VIEW)
    assert back == pytest.approx(opening, abs=1e-6)


@pytest.mark.parametrize("size", [(1280, 800), (375, 667)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("event_id", ["junta-ends-sofa", "aes-charter", "cia-drone-base-dirkou"])
def test_controls_never_cover_a_popup(open_map, size, event_id):
    page = open_map(size)
    page.evaluate(f"() => GeoStory.openEvent({event_id!r})")
    page.locator(".leaflet-popup-content").wait_for()
    settle(page)
    covered = page.evaluate("""() => {
      const p = document.querySelector('.leaflet-popup-content-wrapper').getBoundingClientRect();
      const hit = (a, b) =>
        a.left < b.right && a.right > b.left && a.top < b.bottom && a.bottom > b.top;
      return [...document.querySelectorAll(
        '.leaflet-control-zoom, .gs-fullscreen, .gs-reset, .leaflet-control-layers')]
        .filter((c) => hit(p, c.getBoundingClientRect())).map((c) => c.className);
    }""")
    assert covered == []


def test_long_site_notes_go_behind_a_details_disclosure(open_map):
    page = open_map()
    page.locator(".gs-base[title^='Air Base 101']").focus()  # over the Niamey cluster
    page.keyboard.press("Enter")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    details = popup.locator("details.gs-details")
    assert details.count() >= 1
    assert details.first.locator("summary").inner_text() == "Details"
    assert not details.first.evaluate("(d) => d.open")
    assert popup.locator("p.gs-note").count() == 0  # no research notes in the open
