"""Refresh the README's screenshots of the default map (docs/map.png, docs/map-phone.png).

Run after `python build_map.py`: python scripts/screenshot.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.browser import launch  # noqa: E402  (the tests' Chromium flags, in one place)

SHOTS = {"map.png": (1280, 800), "map-phone.png": (375, 667)}


def main() -> None:
    page_url = (ROOT / "dist" / "index.html").as_uri()
    with sync_playwright() as p:
        browser = launch(p)
        for name, (width, height) in SHOTS.items():
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(page_url)
            page.wait_for_function("() => window.GeoStory && GeoStory.state.eventLayer")
            page.screenshot(path=ROOT / "docs" / name)
            print(f"wrote docs/{name}")
        browser.close()


if __name__ == "__main__":
    main()
