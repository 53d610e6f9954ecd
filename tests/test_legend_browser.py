"""The key and the popups as a newsroom graphics editor checks them, in Chromium: the key is
page text above the map, whole on every screen and never over the map; a click anywhere in
Niger opens Niger's own popup; popups speak in human field names."""

from __future__ import annotations

import shutil

import pytest
import shapely

from geo.build import build
from tests.browser import SETTLED, quiet
from tests.conftest import DEFAULT_STORY

pytestmark = pytest.mark.browser

SIZES = [(1280, 800), (1024, 768), (640, 480), (375, 667), (390, 844)]
RAW_NAMES = ("type_en", "iso_3166_2", "iso_a3", "name_fr", "in_country", "note_source")

# Every row and item of the key that is not fully shown: outside the window, or cut by an
# ancestor that clips its overflow (a scrolling box, a fixed height).
CLIPPED = """() => {
  const out = [];
  const inside = (r, b) => r.left >= b.left - 0.5 && r.right <= b.right + 0.5 &&
    r.top >= b.top - 0.5 && r.bottom <= b.bottom + 0.5;
  const view = {left: 0, top: 0, right: innerWidth, bottom: innerHeight};
  for (const node of document.querySelectorAll('.gs-legend li, .gs-legend .gs-approx')) {
    const r = node.getBoundingClientRect();
    const name = node.textContent.trim().slice(0, 40);
    if (!r.width || !r.height || getComputedStyle(node).visibility === 'hidden') {
      out.push('not shown: ' + name); continue;
    }
    if (!inside(r, view)) out.push('outside the window: ' + name);
    for (let a = node.parentElement; a && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a);
      const clips = s.overflowX !== 'visible' || s.overflowY !== 'visible';
      if (clips && !inside(r, a.getBoundingClientRect())) out.push('clipped: ' + name);
    }
  }
  return out;
}"""

# The container point of a latitude and longitude, in the page's coordinates.
AT = """([lat, lon]) => {
  const m = GeoStory.state.map, p = m.latLngToContainerPoint([lat, lon]);
  const box = m.getContainer().getBoundingClientRect();
  return [box.left + p.x, box.top + p.y];
}"""

VIEW = (
    "() => { const m = GeoStory.state.map, c = m.getCenter(); return [c.lat, c.lng, m.getZoom()]; }"
)
RESET = """([lat, lon, zoom]) => {
  const m = GeoStory.state.map;
  m.closePopup();
  m.stop(); // a popup's pan may still run: it would move the map under the next click
  m.setView([lat, lon], zoom, {animate: false});
}"""


# What a click at (x, y) reaches: a drawn shape of a layer, or something else.
HIT = """([x, y]) => {
  const node = document.elementFromPoint(x, y);
  if (!node) return null;
  // a site's uncertainty ring is the site's: its popup, not the country's
  if (node.closest('.leaflet-marker-icon, .leaflet-control, .leaflet-popup, .gs-base-ring')) {
    return 'marker';
  }
  return node.tagName.toLowerCase();
}"""

# RESET, then once no popup is left and no animation runs, and two frames have drawn the
# shapes where the view now is: what a click at the point of [lat, lon] would reach (HIT).
RESET_AND_AIM = f"""async ([view, lat, lon]) => {{
  ({RESET})(view);
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  while (document.querySelector('.leaflet-popup') || !({SETTLED})()) await frame();
  await frame();
  await frame();
  const [x, y] = ({AT})([lat, lon]);
  return [x, y, ({HIT})([x, y])];
}}"""
# Once a popup is open: the text of its heading and its whole text, as a reader sees them.
POPUP_TEXT = """async () => {
  let node;
  while (!(node = document.querySelector('.leaflet-popup-content'))) {
    await new Promise((r) => requestAnimationFrame(r));
  }
  const h2 = node.querySelector('h2');
  return [h2 ? h2.innerText : null, node.innerText];
}"""


@pytest.mark.xdist_group("legend-read")
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_key_row_is_fully_visible(read_map, size):
    page = read_map(size)
    rows = page.locator(".gs-legend-row")
    assert 1 <= rows.count() <= 6
    assert page.evaluate(CLIPPED) == []
    # open text, not a map control, never folded into a button
    assert page.locator(".gs-legend details, .gs-legend summary").count() == 0
    assert page.locator(".leaflet-container .gs-legend, .gs-legend .leaflet-control").count() == 0
    text = page.locator(".gs-legend").inner_text()
    assert "Events:" in text and "Foreign military sites" in text
    for base in ("Other countries", "Lakes", "Rivers", "Niger's regions", "Towns and capitals"):
        assert base not in text, base
    assert page.evaluate("() => document.documentElement.scrollWidth") <= size[0]


@pytest.mark.xdist_group("legend-read")
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_key_never_covers_the_map(read_map, size):
    page = read_map(size)
    key = page.locator(".gs-legend").bounding_box()
    frame = page.locator(".gs-map").bounding_box()
    assert key["y"] + key["height"] <= frame["y"] + 0.5  # above the map, not over it
    assert key["x"] >= 0 and key["x"] + key["width"] <= size[0]
    assert frame["height"] >= 250  # the key leaves the map a useful height
    if size[0] < 480:  # on a phone the key is compact: a quarter of the screen at most
        assert key["height"] <= size[1] / 4, key["height"]


# The full-screen element and where the key and the map are, in the page's coordinates.
FULL = """() => {
  const box = (sel) => { const r = document.querySelector(sel).getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height}; };
  const full = document.fullscreenElement;
  return {
    full: full ? full.className : null,
    key: full ? !!full.querySelector('.gs-legend') : false,
    map: full ? !!full.querySelector('.gs-map') : false,
    legend: box('.gs-legend'), frame: box('.gs-map'),
    leaflet: GeoStory.state.map.getSize().y,
    width: innerWidth, height: innerHeight,
  };
}"""


@pytest.mark.parametrize(
    "size", [(1280, 800), (640, 480), (375, 667)], ids=lambda s: f"{s[0]}x{s[1]}"
)
def test_full_screen_keeps_the_key_above_the_map(open_map, size):
    page = open_map(size)
    page.locator(".gs-fullscreen").click()  # a user's gesture: the page may go full screen
    page.wait_for_function("() => !!document.fullscreenElement")
    quiet(page)  # the resize has reached Leaflet
    at = page.evaluate(FULL)
    assert at["key"] and at["map"], at["full"]  # the key goes full screen with the map
    assert page.evaluate(CLIPPED) == []  # every row of the key whole
    key, frame = at["legend"], at["frame"]
    assert key["top"] >= -0.5 and key["bottom"] <= frame["top"] + 0.5  # above, never over it
    # the map takes the rest of the screen, and Leaflet knows its new size
    assert abs(frame["bottom"] - at["height"]) <= 1 and frame["left"] <= 0.5
    assert abs(frame["right"] - at["width"]) <= 1
    assert frame["height"] >= at["height"] * 0.5
    assert abs(at["leaflet"] - frame["height"]) <= 1
    page.locator(".gs-fullscreen").click()  # and the same button leaves full screen
    page.wait_for_function("() => !document.fullscreenElement")


def test_a_row_dims_while_its_layer_is_hidden(open_map):
    page = open_map()
    frame = page.locator(".gs-map").bounding_box()
    row = page.locator(".gs-legend-row[data-layer='events']")
    page.hover(".leaflet-control-layers")
    box = page.locator(".leaflet-control-layers label", has_text="Events").locator("input")
    box.uncheck()
    assert "gs-off" in row.get_attribute("class")
    box.check()
    assert "gs-off" not in row.get_attribute("class")
    assert page.locator(".gs-map").bounding_box() == frame  # the key does not move the map


def test_line_symbols_are_keyed_as_lines(open_map, tmp_path):
    """Put back in the key by map.toml, rivers are a line and lakes a filled square."""
    story = tmp_path / "story"
    shutil.copytree(DEFAULT_STORY, story)
    toml = (story / "map.toml").read_text(encoding="utf-8")
    for layer in ("rivers", "lakes"):
        toml = toml.replace(f"[layers.{layer}]\n", f"[layers.{layer}]\nlegend = true\n")
    (story / "map.toml").write_text(toml, encoding="utf-8")
    result = build(story, tmp_path / "dist")
    page = open_map(out=result.out)
    river = page.locator(".gs-legend-row[data-layer='rivers'] .gs-key").bounding_box()
    lake = page.locator(".gs-legend-row[data-layer='lakes'] .gs-key").bounding_box()
    assert river["width"] >= 3 * river["height"] and river["height"] <= 4
    assert lake["width"] == pytest.approx(lake["height"], abs=1)
    assert page.evaluate(CLIPPED) == []


def niger_points(default_build) -> list[tuple[float, float]]:
    """Spots well inside Niger, clear of every marker and river (where a click belongs to
    them): near Tahoua and Agadez first, then a grid over the whole country, then spots on
    the dashed borders between its regions (where the regions once took the click)."""
    key = id(default_build)
    if key in _SPOTS:
        return _SPOTS[key]
    story = default_build.story
    countries = story.layer("countries").frame
    niger = countries[countries["role"] == "focus"].geometry.iloc[0]
    points = [g for name in ("places", "bases", "events") for g in story.layer(name).frame.geometry]
    rivers = shapely.union_all(list(story.layer("rivers").frame.geometry))
    clear = shapely.union_all([p.buffer(0.6) for p in points] + [rivers.buffer(0.4)])
    inner = niger.buffer(-0.5)
    named = [(15.6, 5.8), (17.6, 8.6)]  # north-east of Tahoua, north of Agadez
    grid = [(lat, lon) for lat in (13.5, 15, 16.5, 18, 19.5, 21) for lon in range(1, 16, 2)]
    regions = list(story.layer("niger_regions").web.geometry)
    borders = shapely.union_all(
        [
            a.boundary.intersection(b.boundary)
            for i, a in enumerate(regions)
            for b in regions[i + 1 :]
        ]
    )
    along = [borders.interpolate(f, normalized=True) for f in (0.1, 0.3, 0.5, 0.7, 0.9)]
    on_borders = [(round(g.y, 5), round(g.x, 5)) for g in along]
    out = []
    for lat, lon in named + grid + on_borders:
        spot = shapely.Point(lon, lat)
        if inner.contains(spot) and not clear.contains(spot):
            out.append((lat, lon))
    assert out[:2] == named and set(out) & set(on_borders)
    _SPOTS[key] = out
    return out


_SPOTS: dict[int, list[tuple[float, float]]] = {}  # by build: the same for every screen size


@pytest.mark.parametrize("size", [(1280, 800), (375, 667)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_click_anywhere_in_niger_opens_nigers_popup(open_map, default_build, size):
    """Regions do not swallow the focus country's clicks: Niger's popup, with its note on the
    16 March 2024 end of the Status of Forces Agreement, opens wherever a reader clicks."""
    page = open_map(size)
    spots = niger_points(default_build)
    assert len(spots) >= 8
    opened = []
    view = page.evaluate(VIEW)
    for lat, lon in spots:
        # back to the opening view, no popup, the shapes redrawn: what a click there reaches
        x, y, hit = page.evaluate(RESET_AND_AIM, [view, lat, lon])
        if hit != "path":
            continue  # a label's box or a control: not where this test clicks
        page.mouse.click(x, y)
        heading, text = page.evaluate(POPUP_TEXT)
        assert heading == "Niger", (lat, lon, text)
        assert "16 Mar 2024" in text and "Status of Forces Agreement" in text
        assert "Focus of the story" in text
        opened.append((lat, lon))
    # near Tahoua on every screen; north of Agadez where its events' cluster leaves room
    assert len(opened) >= 6 and spots[0] in opened
    if size[0] >= 1280:
        assert spots[1] in opened


# Points on the drawn outlines of Niger's regions: [x, y] in the page, and [lat, lon].
ON_OUTLINES = """(f) => GeoStory.state.layers.niger_regions.features.map((layer) => {
  const path = layer.getLayers()[0]._path, m = GeoStory.state.map;
  const at = path.getPointAtLength(path.getTotalLength() * f);
  const p = new DOMPoint(at.x, at.y).matrixTransform(path.getScreenCTM());
  const box = m.getContainer().getBoundingClientRect();
  const ll = m.containerPointToLatLng([p.x - box.left, p.y - box.top]);
  return [p.x, p.y, ll.lat, ll.lng];
})"""


def test_a_click_on_a_regions_outline_reaches_niger(open_map, default_build):
    """Exactly on the dashed line between two regions, where a region's popup ("Type: Region,
    iso_3166_2 NE-7") used to answer: Niger's own popup opens."""
    page = open_map()
    countries = default_build.story.layer("countries").frame
    inner = countries[countries["role"] == "focus"].geometry.iloc[0].buffer(-0.3)
    view = page.evaluate(VIEW)
    opened = 0
    for f in (0.13, 0.37, 0.61, 0.85):
        for x, y, lat, lon in page.evaluate(ON_OUTLINES, f):
            if not inner.contains(shapely.Point(lon, lat)):
                continue  # on Niger's own border: half the click is a neighbour's
            page.evaluate(RESET, view)
            page.wait_for_function("() => !document.querySelector('.leaflet-popup')")
            if page.evaluate(HIT, [x, y]) != "path":
                continue  # under a marker
            page.mouse.click(x, y)
            heading = page.locator(".leaflet-popup-content h2")
            heading.wait_for()
            assert heading.inner_text() == "Niger", (lat, lon)
            opened += 1
    assert opened >= 5


@pytest.mark.xdist_group("legend-read")
def test_popups_show_no_raw_field_names(read_map):
    """Every popup of every layer, built as a click builds it, speaks in readable names."""
    page = read_map()
    found = page.evaluate("""() => {
      const out = [];
      for (const [name, entry] of Object.entries(GeoStory.state.layers)) {
        const doc = entry.doc;
        if (!doc.interactive || !doc.popup.length) continue;
        for (let i = 0; i < doc.count; i++) {
          const node = GeoStory.popup(doc, i);
          out.push([name, node.textContent,
            [...node.querySelectorAll('th')].map((th) => th.textContent)]);
        }
      }
      return out;
    }""")
    layers = {name for name, _, _ in found}
    assert {"countries", "places", "rivers", "lakes", "bases", "events"} <= layers
    assert "niger_regions" not in layers  # outlines only: the country under them answers
    for name, text, heads in found:
        for raw in RAW_NAMES:
            assert raw not in text, (name, raw)
        assert all("_" not in h and h[:1] == h[:1].upper() for h in heads), (name, heads)
        assert "NE-" not in text, name  # no ISO 3166-2 region codes
    places = [heads for name, _, heads in found if name == "places"]
    assert places and all(h == ["Rank", "Population", "Country"] for h in places)


def test_a_town_popup_says_its_country_by_name(open_map):
    page = open_map()
    entry = "GeoStory.state.layers.places"
    index = page.evaluate(f"() => {entry}.doc.columns.name.indexOf('Tahoua')")
    x, y = page.evaluate(
        f"() => {{ const l = {entry}.features[{index}], m = GeoStory.state.map;"
        " const p = m.latLngToContainerPoint(l.getLatLng());"
        " const b = m.getContainer().getBoundingClientRect(); return [b.left + p.x, b.top + p.y]; }"
    )
    page.mouse.click(x, y)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    rows = popup.locator("tr").all_inner_texts()
    assert [r.split("\t")[0] for r in rows] == ["Rank", "Population", "Country"]
    assert rows[-1].split("\t")[1] == "Niger"
