"""Drive Debian's Chromium with Playwright: launch flags, page watching, a localhost server."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


# Added to every page before its own scripts: counts the page's pending short timeouts (a late
# declutter, a cluster or zoom animation's end, a debounced redraw), so a test can wait until
# they have all run instead of sleeping a fixed time. The timeouts run as before. Longer ones
# (over half a second: the timeline's announcement to screen readers) are not waited for.
TIMERS = """(() => {
  const pending = new Set(), set = window.setTimeout, clear = window.clearTimeout;
  window.setTimeout = function (fn, ms, ...args) {
    if (typeof fn !== 'function' || ms > 500) return set.apply(window, arguments);
    const id = set.call(window, function () {
      pending.delete(id);
      return fn.apply(this, args);
    }, ms);
    pending.add(id);
    return id;
  };
  window.clearTimeout = function (id) {
    pending.delete(id);
    return clear.call(window, id);
  };
  Object.defineProperty(window, '__testPendingTimers', {get: () => pending.size});
})()"""

# Two frames: what the page drew after a change is on the screen.
FRAMES = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
# No timeout pending and no zoom or cluster animation running.
QUIET = (
    "() => window.__testPendingTimers === 0 &&"
    " !document.querySelector('.leaflet-zoom-anim, .leaflet-cluster-anim')"
)


def quiet(page) -> None:
    """Wait until the page has run every pending timeout and finished its animations (the
    late declutter after a zoom, markercluster's spreading), then for two more frames."""
    page.wait_for_function(QUIET)
    page.evaluate(FRAMES)
    page.wait_for_function(QUIET)


class Browser:
    """Chromium with one shared context: ``new_page`` opens a page in it (sized and with the
    motion preference asked for) rather than a new context per page, which costs more. Other
    context options (no JavaScript, ...) still get a context of their own, as does a page
    ``alone=True``: one whose context-wide state (``page.clock``) must not reach other pages."""

    def __init__(self, chromium):
        self.chromium = chromium
        self.context = chromium.new_context()
        self.context.add_init_script(TIMERS)

    def new_page(self, viewport=None, reduced_motion=None, alone=False, **options):
        if options or alone:
            page = self.chromium.new_page(
                viewport=viewport, reduced_motion=reduced_motion, **options
            )
            page.add_init_script(TIMERS)
            return page
        page = self.context.new_page()
        size = viewport or {"width": 1280, "height": 720}  # Playwright's default
        page.set_viewport_size(size)
        page.emulate_media(reduced_motion=reduced_motion or "no-preference")
        return page

    def close(self) -> None:
        self.context.close()
        self.chromium.close()


@dataclass
class Watch:
    """What a page did that a reader would not want: errors, and requests to other origins."""

    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", self._request)
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def _request(self, request) -> None:
        url = request.url
        if not (url.startswith(self.origin) or url.startswith("data:")):
            self.foreign.append(url)


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve a folder on 127.0.0.1 (a free port) for the duration; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


# A story's map is up, and no zoom or cluster animation is running.
READY = "() => window.GeoStory && GeoStory.state.map && GeoStory.state.eventLayer"
SETTLED = "() => !document.querySelector('.leaflet-zoom-anim, .leaflet-cluster-anim')"


def open_settled(browser, index: Path, size: tuple[int, int], still: bool = True):
    """A page of ``size`` on ``index`` (a file), watched, once its map has settled: no
    animation running, and two frames drawn since (tests that need the late declutter after
    a zoom wait for it with ``quiet``).

    ``still``: as a reader who asked for reduced motion (no zoom or cluster animations), which
    the page honours; the end states are a moving reader's, reached without waiting on
    animations. Tests of what happens while the map moves pass ``still=False``."""
    motion = "reduce" if still else "no-preference"
    page = browser.new_page(viewport={"width": size[0], "height": size[1]}, reduced_motion=motion)
    watch = Watch("file://")
    watch.attach(page)
    page.goto(index.as_uri())
    page.wait_for_function(READY)
    page.wait_for_function(SETTLED)
    page.evaluate(FRAMES)
    page.wait_for_function(SETTLED)
    return page, watch


def tab_to(page, css_class: str, presses: int) -> None:
    """Press Tab, as a keyboard reader does, until an element of ``css_class`` has the focus;
    fail after ``presses``."""
    import pytest

    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("(c) => document.activeElement.classList.contains(c)", css_class):
            return
    pytest.fail(f"Tab never reached a .{css_class} in {presses} presses")
