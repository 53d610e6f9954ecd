"""The map inside someone else's article: scrolling, sizing, keyboard, text alternative."""

from __future__ import annotations

import pytest

from geo.build import build
from geo.dates import as_written
from geo.embed import snippet
from tests.browser import Watch, serve, tab_to
from tests.conftest import DEFAULT_STORY

pytestmark = pytest.mark.browser

SENTENCE = "Niger's junta ended military cooperation with the United States. "
PARAGRAPH = "<p>" + SENTENCE * 12 + "</p>"


def article(embed: str) -> str:
    """A long article page with the snippet in the middle, as a CMS would render it."""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Article</title>"
        "<link rel='icon' href='data:,'>"
        "<style>body{max-width:720px;margin:0 auto;font:18px/1.6 serif}</style></head><body>"
        + PARAGRAPH * 8
        + embed
        + PARAGRAPH * 8
        + "</body></html>"
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The default story published under a local web server, with article pages beside it."""
    root = tmp_path_factory.mktemp("site")
    with serve(root) as url:
        result = build(DEFAULT_STORY, root / "map", base_url=url + "map")
        for name, auto in (("article.html", False), ("article-auto.html", True)):
            (root / name).write_text(article(snippet(result.story, url + "map", auto)))
        yield result, url


def open_article(browser, url: str, name: str, width: int = 1280, height: int = 800):
    page = browser.new_page(viewport={"width": width, "height": height})
    watch = Watch(url)
    watch.attach(page)
    page.goto(url + name)
    page.locator("iframe").scroll_into_view_if_needed()
    frame = page.frame_locator("iframe")
    frame.locator(".gs-map").wait_for()
    inner = next(f for f in page.frames if f.url.endswith("/map/index.html"))
    inner.wait_for_function("() => window.GeoStory && GeoStory.state.eventLayer")
    return page, inner, watch


def test_snippet_is_a_good_citizen(published):
    result, url = published
    html = snippet(result.story, url + "map", auto_height=False)
    for attribute in (
        'title="Map: Niger ends military cooperation with the United States"',
        'loading="lazy"',
        'allow="fullscreen"',
        f'src="{url}map/index.html"',
        'sandbox="allow-scripts allow-popups allow-popups-to-escape-sandbox allow-downloads"',
        "width:100%",
        "aspect-ratio:",
    ):
        assert attribute in html
    assert "allow-same-origin" not in html and "<script" not in html
    assert (result.out / "embed.html").read_text() == html


def test_wheel_scrolls_the_article_not_the_map(browser, published):
    _, url = published
    page, inner, watch = open_article(browser, url, "article.html")
    box = page.locator("iframe").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    zoom = inner.evaluate("() => GeoStory.state.map.getZoom()")
    before = page.evaluate("() => window.scrollY")
    page.mouse.wheel(0, 400)
    page.wait_for_function(f"() => window.scrollY > {before}")
    assert inner.evaluate("() => GeoStory.state.map.getZoom()") == zoom
    box = page.locator("iframe").bounding_box()  # the page scrolled: find the map again
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.keyboard.down("Control")
    for _ in range(3):  # a real ctrl+scroll is a burst of wheel events
        page.mouse.wheel(0, -200)
    inner.wait_for_function(f"() => GeoStory.state.map.getZoom() > {zoom}")  # ctrl still held
    page.keyboard.up("Control")
    assert watch.errors == [] and watch.foreign == []
    page.close()


def test_auto_height_variant_fits_the_frame_to_the_page(browser, published):
    _, url = published
    page, inner, _ = open_article(browser, url, "article-auto.html")
    frame = page.locator("iframe")
    page.wait_for_function(
        "() => document.querySelector('iframe').hasAttribute('data-auto-height')"
    )
    inner.wait_for_function("() => document.documentElement.classList.contains('gs-autoheight')")
    reported = inner.evaluate("() => Math.ceil(document.body.getBoundingClientRect().height)")
    page.wait_for_function(
        f"() => Math.abs(document.querySelector('iframe').getBoundingClientRect().height"
        f" - {reported}) <= 1"
    )
    # Opening the event list grows the frame with it: nothing is cut off or scrolls inside.
    inner.locator("#gs-events summary").click()
    grown = reported + 500
    page.wait_for_function(f"() => document.querySelector('iframe').offsetHeight > {grown}")
    inner_height = inner.evaluate("() => document.documentElement.scrollHeight")
    assert inner_height <= frame.bounding_box()["height"] + 1
    page.close()


@pytest.mark.parametrize(("width", "height"), [(375, 667), (1280, 800)])
def test_map_and_legend_fit(browser, published, width, height, tmp_path):
    _, url = published
    page, inner, _ = open_article(browser, url, "article.html", width, height)
    frame_box = page.locator("iframe").bounding_box()
    assert frame_box["width"] <= width
    for selector in (".gs-map", ".gs-legend", ".leaflet-control-zoom", ".gs-fullscreen"):
        box = inner.locator(selector).bounding_box()
        assert box and box["width"] > 0, selector
        assert box["x"] >= frame_box["x"] - 1, selector
        assert box["x"] + box["width"] <= frame_box["x"] + frame_box["width"] + 1, selector
        assert box["y"] + box["height"] <= frame_box["y"] + frame_box["height"] + 1, selector
    # The key is open text above the map on every screen, never a button, never over the map.
    key, map_box = (
        inner.locator(".gs-legend").bounding_box(),
        inner.locator(".gs-map").bounding_box(),
    )
    assert inner.locator(".gs-legend details, .gs-legend summary").count() == 0
    assert key["y"] + key["height"] <= map_box["y"] + 1
    assert map_box["height"] >= 150  # the key leaves the map room
    page.screenshot(path=tmp_path / f"embed-{width}x{height}.png")
    page.close()


def test_keyboard_reaches_an_event_and_opens_it(browser, published):
    _, url = published
    page = browser.new_page()
    page.goto(url + "map/index.html")
    page.wait_for_function("() => window.GeoStory && GeoStory.state.eventLayer")
    # Opened on its own, the map zooms with the wheel as usual: no gesture handling.
    assert page.evaluate(
        "() => [GeoStory.state.map.gestureHandling.enabled(),"
        " GeoStory.state.map.scrollWheelZoom.enabled()]"
    ) == [False, True]
    tab_to(page, "gs-event", 60)
    title = page.evaluate("() => document.activeElement.title")
    page.keyboard.press("Enter")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert title.split(": ", 1)[1] in popup.inner_text()
    assert page.evaluate("() => document.activeElement.classList.contains('leaflet-popup-content')")
    page.keyboard.press("Tab")  # into the popup: its source link
    assert page.evaluate("() => document.activeElement.tagName") == "A"
    page.close()


def test_text_alternative_lists_every_event_with_date_and_source(browser, published):
    result, url = published
    events = result.story.layer("events").frame
    page = browser.new_page(java_script_enabled=False)
    page.goto(url + "map/index.html")
    items = page.locator("#gs-events li")
    assert items.count() == len(events)
    page.locator("#gs-events summary").click()
    for i, (_, event) in enumerate(events.sort_values(["date", "id"]).iterrows()):
        item = items.nth(i)
        assert event["title"] in item.inner_text()
        # HTML's own forms for a date known to the month or the year: "2017-11", "2018"
        written = as_written(event["date"], event["date_precision"])
        assert item.locator("time").get_attribute("datetime") == written
        assert item.locator("a[rel~=noopener]").get_attribute("href") == event["source_url"]
        assert item.locator("a.gs-permalink").get_attribute("href") == f"#event={event['id']}"
        if isinstance(event["note"], str):  # the caveat travels to the text version
            assert event["note"] in item.inner_text()
    # Without JavaScript the reader sees the static map, not an empty box.
    assert page.locator(".gs-preview").is_visible()
    assert not page.locator(".gs-map-box").is_visible()
    page.close()


def test_page_metadata_for_readers_and_link_previews(published):
    result, url = published
    html = (result.out / "index.html").read_text()
    assert '<html lang="en">' in html
    assert "<title>Niger ends military cooperation with the United States</title>" in html
    assert '<meta name="description" content="Map of Niger' in html
    assert f'<meta property="og:image" content="{url}map/preview.png">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert 'aria-describedby="gs-desc"' in html


CONTRAST = """() => {
  const lum = (c) => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => {
      v = v / 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const bg = (el) => { for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c; }
    return 'rgb(255, 255, 255)'; };
  const out = [];
  for (const el of document.querySelectorAll('h1, .gs-sub, .gs-credit, summary, a, li, p')) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    // WCAG 1.4.3 exempts inactive controls
    if (el.closest('.leaflet-disabled, [aria-disabled=true], :disabled')) continue;
    const [a, b] = [lum(getComputedStyle(el).color), lum(bg(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) out.push(el.tagName + '.' + el.className + ': ' + ratio.toFixed(2));
  }
  return out;
}"""


def test_text_colours_pass_wcag_aa(browser, published):
    _, url = published
    page = browser.new_page()
    page.goto(url + "map/index.html")
    page.wait_for_function("() => window.GeoStory && GeoStory.state.eventLayer")
    page.locator("#gs-events summary").click()
    page.locator(".gs-data > summary").click()
    page.locator(".gs-data-base > summary").click()  # the base layers, folded inside
    assert page.evaluate(CONTRAST) == []
    page.close()
