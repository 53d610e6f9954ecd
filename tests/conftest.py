"""Shared fixtures. Tools the tests drive for real (Chromium, GDAL, QGIS) are required in CI.

Set GEO_REQUIRE_TOOLS=1 (``.ci/run`` does) to turn a missing tool into a failure; elsewhere a
test that needs a missing tool is skipped with a message saying what to install.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEFAULT_STORY = ROOT / "layers"


def require_tool(path_or_name: str, install_hint: str) -> str:
    """Return the tool's path, or skip (fail when GEO_REQUIRE_TOOLS=1) if it is missing."""
    found = (
        shutil.which(path_or_name)
        if "/" not in path_or_name
        else (path_or_name if os.access(path_or_name, os.X_OK) else None)
    )
    if found:
        return found
    message = f"{path_or_name} not found: install it with {install_hint}"
    if os.environ.get("GEO_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{message} (GEO_REQUIRE_TOOLS=1: CI must not skip this test)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def default_build(tmp_path_factory: pytest.TempPathFactory):
    """The default story built once for the whole session (with every export format)."""
    from geo.build import build
    from geo.exports import EXTRA_FORMATS

    out = tmp_path_factory.mktemp("default") / "dist"
    return build(DEFAULT_STORY, out, exports=EXTRA_FORMATS)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright, shared by the browser tests."""
    from tests.browser import CHROMIUM, Browser, launch

    require_tool(CHROMIUM, "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        shared = Browser(launch(playwright))
        yield shared
        shared.close()


@pytest.fixture
def open_map(browser, default_build):
    """Open the default map (or the build in ``out``) at a size, settled; afterwards, check
    that no page logged an error or asked another origin for anything."""
    from tests.browser import open_settled

    pages = []

    def opener(size=(1280, 800), out=None, still=True):
        index = (out or default_build.out) / "index.html"
        page, watch = open_settled(browser, index, size, still)
        pages.append((page, watch))
        return page

    yield opener
    for page, watch in pages:
        assert watch.errors == [] and watch.foreign == []
        page.close()


@pytest.fixture(scope="module")
def _shared_maps(browser, default_build):
    pages: dict = {}
    yield pages
    for page, watch in pages.values():
        page.close()
        assert watch.errors == [] and watch.foreign == []


@pytest.fixture
def read_map(_shared_maps, browser, default_build):
    """Like ``open_map`` (the default map), for tests that only read the page: one page per
    size, shared by the module's tests (``--dist loadfile`` keeps a module on one worker; the
    tests are also marked ``xdist_group`` for ``--dist loadgroup``). A test must leave the page
    as it found it; each checks that it logged no error."""
    from tests.browser import open_settled

    used = []

    def opener(size=(1280, 800), still=True):
        key = (size, still)
        if key not in _shared_maps:
            _shared_maps[key] = open_settled(browser, default_build.out / "index.html", size, still)
        used.append(_shared_maps[key][1])
        return _shared_maps[key][0]

    yield opener
    for watch in used:
        assert watch.errors == [] and watch.foreign == []
