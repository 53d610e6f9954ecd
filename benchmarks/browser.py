"""Open a page in headless Chromium on file:// and time it the same way for both tools.

Both pages use Leaflet. An init script (run before any page script) traps the moment Leaflet
sets ``window.L`` and adds an ``L.Map`` init hook, so every map the page makes is caught without
the page's help. Measured, from inside the page with ``performance.now()``:

- drawn: from navigation start until the document has been parsed (readyState is no longer
  "loading": every page script has run; images such as tiles are not waited for), every
  Leaflet map has fired 'load', one of them has a vector path, a canvas or a marker
  in its panes, and two animation frames have passed since (so that DOM was styled and painted);
- zoom: ``map.setZoom(z + 1, {animate: false})`` until 'zoomend' and two animation frames;
- pan: ``map.panBy([256, 128], {animate: false})`` until 'moveend' and two animation frames;
- heap: ``Runtime.getHeapUsage().usedSize`` over CDP, after ``HeapProfiler.collectGarbage``,
  once the map is drawn (before the zoom and pan).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.assets import Router
from tests.browser import ARGS, CHROMIUM  # the same Chromium, launched as the tests do

if TYPE_CHECKING:  # playwright is imported only when a page is opened
    from playwright.sync_api import Browser, BrowserContext, Page

VIEWPORT = {"width": 1280, "height": 800}

HOOK = """
(() => {
  const bench = (window.__bench = { maps: [] });
  Object.defineProperty(window, "L", {
    configurable: true,
    enumerable: true,
    get() { return undefined; },
    set(leaflet) {
      // Leaflet assigns window.L once, after defining L.Map: hook it, then become plain data
      Object.defineProperty(window, "L", {
        value: leaflet, writable: true, configurable: true, enumerable: true,
      });
      if (leaflet && leaflet.Map) leaflet.Map.addInitHook(function () { bench.maps.push(this); });
    },
  });
})();
"""

# Every wait in the page gives up at its deadline, since page.evaluate itself has no timeout.
FRAMES = """
  const deadline = performance.now() + limitMs;
  const late = () => new Error("timeout: not done within " + limitMs + " ms");
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  const event = (m, name) => new Promise((resolve, reject) => {
    m.once(name, resolve);
    setTimeout(() => reject(late()), Math.max(deadline - performance.now(), 0));
  });
"""

DRAWN = (
    "async (limitMs) => {"
    + FRAMES
    + """
  const maps = () => (window.__bench ? window.__bench.maps : []);
  const drawn = () =>
    document.readyState !== "loading" &&
    maps().length > 0 &&
    maps().every((m) => m._loaded) &&
    maps().some((m) => m.getContainer().querySelector(
      ".leaflet-overlay-pane path, .leaflet-overlay-pane canvas, .leaflet-marker-pane > *"));
  while (!drawn()) {
    if (performance.now() > deadline) throw late();
    await frame();
  }
  await frame();
  await frame();
  const at = performance.now();
  const panes = maps()[0].getContainer();
  const nav = performance.getEntriesByType("navigation")[0];
  return {
    drawn_ms: at,
    response_end_ms: nav.responseEnd,
    dom_content_loaded_ms: nav.domContentLoadedEventEnd,
    paths: panes.querySelectorAll(".leaflet-overlay-pane path").length,
    markers: panes.querySelectorAll(".leaflet-marker-pane > *").length,
    maps: maps().length,
  };
}"""
)


def timed(setup: str, action: str, until: str) -> str:
    """JS that times ``action`` on the first map until its ``until`` event and two frames."""
    return (
        "async (limitMs) => {"
        + FRAMES
        + f"""
  const m = window.__bench.maps[0];
  {setup}
  const t0 = performance.now();
  const ended = event(m, "{until}");
  {action};
  await ended;
  await frame();
  await frame();
  return {{ ms: performance.now() - t0, from: from, to: m.getZoom() }};
}}"""
    )


ZOOM = timed(
    "const from = m.getZoom(), to = from + 1 <= m.getMaxZoom() ? from + 1 : from - 1;",
    "m.setZoom(to, { animate: false })",
    "zoomend",
)
PAN = timed("const from = m.getZoom();", "m.panBy([256, 128], { animate: false })", "moveend")


@dataclass
class PageRun:
    """One opening of the page; ``status`` is "ok", "failed" or "timeout"."""

    status: str
    drawn_ms: float | None = None
    zoom_ms: float | None = None
    pan_ms: float | None = None
    heap_bytes: int | None = None
    detail: str = ""
    counts: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def measure(html: Path, router: Router, repeat: int, timeout_s: float) -> dict:
    """Open ``html`` ``repeat`` times (a fresh browser context each) and give the medians."""
    from playwright.sync_api import sync_playwright

    runs: list[PageRun] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for _ in range(repeat):
                runs.append(_open_once(browser, html, router, timeout_s))
                if runs[-1].status != "ok":
                    break  # a page that failed or hung once is not tried again
        finally:
            browser.close()
    return summarise(runs)


def _open_once(browser: Browser, html: Path, router: Router, timeout_s: float) -> PageRun:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.set_default_timeout(timeout_s * 1000)
    context.add_init_script(HOOK)
    context.route("**/*", router.handle)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)[:200]))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text[:200]))
    try:
        page.goto(html.resolve().as_uri(), wait_until="domcontentloaded", timeout=timeout_s * 1000)
        limit_ms = timeout_s * 1000
        drawn = page.evaluate(DRAWN, limit_ms)
        heap = _heap_after_gc(context, page)
        zoom = page.evaluate(ZOOM, limit_ms)
        pan = page.evaluate(PAN, limit_ms)
    except PlaywrightTimeout as exc:
        return PageRun("timeout", detail=str(exc).splitlines()[0], errors=errors)
    except PlaywrightError as exc:
        detail = str(exc).splitlines()[0]
        status = "timeout" if "timeout: not done" in detail else "failed"
        return PageRun(status, detail=detail, errors=errors)
    finally:
        context.close()
    keys = ("paths", "markers", "maps", "response_end_ms", "dom_content_loaded_ms")
    counts = {k: drawn[k] for k in keys} | {"zoom": [zoom["from"], zoom["to"]]}
    return PageRun(
        "ok", drawn["drawn_ms"], zoom["ms"], pan["ms"], heap, counts=counts, errors=errors
    )


def _heap_after_gc(context: BrowserContext, page: Page) -> int:
    cdp = context.new_cdp_session(page)
    cdp.send("HeapProfiler.enable")
    cdp.send("HeapProfiler.collectGarbage")
    used = int(cdp.send("Runtime.getHeapUsage")["usedSize"])
    cdp.send("HeapProfiler.disable")
    cdp.detach()
    return used


def summarise(runs: list[PageRun]) -> dict:
    """Medians over the successful runs; the status is the worst run's."""
    ok = [r for r in runs if r.status == "ok"]
    worst = next((r for r in runs if r.status != "ok"), None)
    out: dict = {
        "status": worst.status if worst else "ok",
        "detail": worst.detail if worst else "",
        "runs": [asdict(r) for r in runs],
    }
    for key in ("drawn_ms", "zoom_ms", "pan_ms", "heap_bytes"):
        values = [getattr(r, key) for r in ok if getattr(r, key) is not None]
        out[key] = statistics.median(values) if values and not worst else None
    return out


def chromium_version() -> str:
    import subprocess

    try:
        return subprocess.run(
            [CHROMIUM, "--version"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not found"
