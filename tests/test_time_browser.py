"""The story in time, in Chromium: the timeline, chapters, deep links and the host page."""

from __future__ import annotations

import datetime as dt

import pytest

from geo.build import build
from geo.dates import span
from tests.browser import Watch, quiet
from tests.conftest import FIXTURES

pytestmark = pytest.mark.browser

MARKERS = """() => [...document.querySelectorAll('.gs-event')].length
  + [...document.querySelectorAll('.marker-cluster')]
      .reduce((n, el) => n + parseInt(el.textContent, 10), 0)
  + [...document.querySelectorAll('.gs-chip, .gs-area-badge')]
      .reduce((n, el) => n + parseInt(el.getAttribute('data-count') || '0', 10), 0)"""
RANGE = "() => document.querySelector('.gs-tl-range').textContent"
CENTER = """() => { const m = GeoStory.state.map, c = m.getCenter();
  return [c.lat, c.lng, m.getZoom()]; }"""
READY = "() => window.GeoStory && GeoStory.state.map && GeoStory.state.timeline"


@pytest.fixture
def open_page(browser, default_build):
    pages = []

    def opener(fragment: str = "", viewport=(1280, 800), reduced: bool = False, clock=False):
        # a clock is its context's: the page then gets a context of its own
        page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, alone=clock)
        if clock:  # the page's timers run on a clock the test can move on at once
            page.clock.install()
        if reduced:
            page.emulate_media(reduced_motion="reduce")
        watch = Watch("file://")
        watch.attach(page)
        warnings: list[str] = []
        page.on("console", lambda m: m.type == "warning" and warnings.append(m.text))
        page.goto((default_build.out / "index.html").as_uri() + fragment)
        page.wait_for_function(READY)
        pages.append(page)
        return page, watch, warnings

    yield opener
    for page in pages:
        page.close()


def events_in(default_build, first: dt.date, last: dt.date) -> int:
    frame = default_build.story.layer("events").frame
    count = 0
    for row in frame.itertuples():
        start, end = span(row.date, row.date_precision, row.end_date)
        count += start <= last and end >= first
    return count


def test_moving_the_range_with_the_keyboard_shows_only_what_it_holds(open_page, default_build):
    page, watch, _ = open_page()
    assert page.evaluate(MARKERS) == 43
    start, end = page.locator(".gs-tl-handle-0"), page.locator(".gs-tl-handle-1")
    start.focus()
    for _ in range(12):  # Page Up: a year at a time, from January 2012
        page.keyboard.press("PageUp")
    end.focus()
    page.keyboard.press("PageDown")
    page.keyboard.press("PageDown")  # from December 2026
    expected = events_in(default_build, dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert page.evaluate(RANGE) == f"January 2024 – December 2024 · {expected} of 43 events"
    page.wait_for_function(f"() => ({MARKERS})() === {expected}")
    assert start.get_attribute("aria-valuetext") == "January 2024"
    page.keyboard.press("Home")  # the end handle cannot pass the start
    assert end.get_attribute("aria-valuetext") == "January 2024"
    page.locator(".gs-tl-all").click()
    page.wait_for_function(f"() => ({MARKERS})() === 43")
    live = page.locator(".gs-timeline [aria-live=polite]")
    page.wait_for_function("el => el.textContent.includes('43 of 43')", arg=live.element_handle())
    assert watch.errors == []


def test_sites_are_drawn_ended_once_every_presence_has_ended(open_page):
    page, _, _ = open_page("#time=2013-01..2013-12")
    assert page.locator(".gs-base.gs-ended").count() == 0
    page.goto(page.url.split("#")[0] + "#time=2025-01..2025-12")
    page.reload()
    page.wait_for_function(READY)
    ended = page.locator(".gs-base.gs-ended").count()
    assert 0 < ended < page.locator(".gs-base").count()  # the US left; Russia stayed at 101
    page.locator(".gs-base[title^='Air Base 201']").click()
    present = page.locator(".leaflet-popup-content .gs-present").inner_text()
    assert present.startswith("On 31 December 2025: ")  # who was there at the range's end


def test_play_advances_and_pauses(open_page):
    page, _, _ = open_page(clock=True)
    play = page.locator(".gs-tl-play")
    play.click()
    assert play.get_attribute("aria-pressed") == "true"
    first = page.evaluate(RANGE)
    page.clock.run_for(700)  # a step of the play
    second = page.evaluate(RANGE)
    assert second != first
    page.clock.run_for(700)
    assert page.evaluate(RANGE) != second
    play.click()
    assert play.get_attribute("aria-pressed") == "false"
    paused = page.evaluate(RANGE)
    page.clock.run_for(2100)  # three steps' time
    assert page.evaluate(RANGE) == paused


def test_deep_link_to_an_event_opens_it_at_its_date(open_page):
    page, watch, _ = open_page("#event=junta-ends-sofa")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "Junta ends the US–Niger SOFA" in popup.inner_text()
    assert page.evaluate(RANGE).startswith("January 2012 – March 2024")
    assert popup.locator(".gs-permalink a").get_attribute("href") == "#event=junta-ends-sofa"
    assert watch.errors == []


def test_deep_links_to_a_time_and_a_view(open_page):
    page, _, _ = open_page("#time=2024-03..2024-09")
    assert page.evaluate(RANGE).startswith("March 2024 – September 2024")
    page, _, _ = open_page("#view=13.5,2.1,8")
    lat, lon, zoom = page.evaluate(CENTER)
    assert (round(lat, 1), round(lon, 1), zoom) == (13.5, 2.1, 8)


@pytest.mark.parametrize(
    "fragment", ["#event=no-such-event", "#time=soon", "#view=a,b", "#chapter=99"]
)
def test_a_bad_deep_link_keeps_the_default_view_with_a_warning(open_page, fragment):
    page, watch, warnings = open_page(fragment)
    assert page.evaluate(RANGE).startswith("January 2012 – December 2026")
    assert any(w.startswith("geo-story: ") for w in warnings), warnings
    assert watch.errors == []


def test_chapters_step_the_view_the_timeline_and_the_fragment(open_page):
    page, _, _ = open_page("#chapter=2", reduced=True)
    assert page.locator(".gs-ch-title").inner_text() == "The coup"
    assert page.evaluate(RANGE).startswith("July 2023 – December 2023")
    assert page.locator(".gs-ch-progress").inner_text() == "2 / 6"
    before = page.evaluate(CENTER)
    page.locator(".gs-ch-next").click()
    assert page.evaluate(CENTER) != before  # reduced motion: the map jumps at once, no flight
    assert page.evaluate("() => location.hash") == "#chapter=3"
    assert page.locator(".gs-ch-title").inner_text() == "France leaves"
    highlighted = page.locator(".gs-highlight")
    assert highlighted.count() >= 1
    page.locator(".gs-ch-explore").click()  # leave the chapters, come back
    assert page.locator(".gs-ch-body").is_hidden()
    assert page.evaluate(RANGE).startswith("January 2012 – December 2026")
    page.locator(".gs-ch-explore").click()
    assert page.locator(".gs-ch-title").inner_text() == "France leaves"


def test_keyboard_only_reader_steps_chapters_from_the_map(open_page):
    page, _, _ = open_page("#chapter=1", reduced=True)
    page.locator(".gs-map").focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("() => location.hash") == "#chapter=2"
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("() => location.hash") == "#chapter=1"
    page.locator(".gs-ch-next").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("() => location.hash") == "#chapter=2"


def test_the_host_page_drives_the_map_by_post_message(browser, default_build, tmp_path):
    article = tmp_path / "article.html"
    src = (default_build.out / "index.html").as_uri()
    article.write_text(
        f'<iframe id="map" src="{src}" width="900" height="700" sandbox="allow-scripts"></iframe>',
        encoding="utf-8",
    )
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(article.as_uri())
    frame = page.frame_locator("#map")
    inner = next(f for f in page.frames if f.url.startswith(src))
    inner.wait_for_function(READY)
    page.evaluate(
        "() => document.getElementById('map').contentWindow"
        ".postMessage({type: 'geo-story:goto', chapter: 3}, '*')"
    )
    frame.locator(".gs-ch-title", has_text="France leaves").wait_for()
    assert inner.evaluate("() => location.hash") == "#chapter=3"  # kept inside the sandbox
    page.evaluate(
        "() => document.getElementById('map').contentWindow"
        ".postMessage({type: 'geo-story:goto', time: '2024-03..2024-09'}, '*')"
    )
    inner.wait_for_function(f"() => ({RANGE})().startsWith('March 2024 – September 2024')")
    # the map's own window is not its parent: its messages are ignored
    # (a listener added after the page's runs after it: the page has seen the message)
    inner.evaluate(
        """() => new Promise((done) => {
      window.addEventListener('message', () => done(), {once: true});
      window.postMessage({type: 'geo-story:goto', chapter: 1}, '*');
    })"""
    )
    quiet(inner)
    assert inner.evaluate(RANGE).startswith("March 2024 – September 2024")
    page.close()


@pytest.mark.parametrize(("story", "timeline"), [("plain", False), ("dated", True)])
def test_a_plain_story_gets_a_timeline_only_when_it_has_dates(browser, tmp_path, story, timeline):
    result = build(FIXTURES / "good" / story, tmp_path / "dist")
    page = browser.new_page()
    page.goto((result.out / "index.html").as_uri())
    page.wait_for_function("() => window.GeoStory && GeoStory.state.map")
    assert page.locator(".gs-timeline").count() == (1 if timeline else 0)
    if timeline:
        assert page.evaluate(RANGE) == "January 2021 – December 2023 · 3 of 3 features"
    page.close()


@pytest.mark.parametrize("fragment", ["", "#chapter=2", "#event=coup-bazoum-detained"])
def test_the_page_is_axe_clean(open_page, fragment):
    from axe_playwright_python.sync_playwright import Axe

    page, _, _ = open_page(fragment)
    quiet(page)  # a popup opened by the fragment has faded in: its heading is checked too
    violations = Axe().run(page).response["violations"]
    assert [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations] == []
