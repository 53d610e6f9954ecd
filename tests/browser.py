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


def open_settled(browser, index: Path, size: tuple[int, int], pause_ms: int, still: bool = True):
    """A page of ``size`` on ``index`` (a file), watched, once its map has settled.

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
    page.wait_for_timeout(pause_ms)
    return page, watch
