"""The page as bytes: the page document's contract, escaping, CSP, reproducibility, offline."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re

import jinja2
import pytest
from pydantic import TypeAdapter

from geo import contract, text
from geo.build import build
from geo.folium_compat import js_string
from tests.conftest import DEFAULT_STORY, ROOT

DATA = re.compile(r'<script type="application/json" id="gs-data">(.*?)</script>', re.DOTALL)


def page_document(html: str) -> dict:
    return json.loads(DATA.search(html)[1])


@pytest.mark.parametrize(
    ("date", "precision", "shown"),
    [
        (dt.date(2024, 3, 16), "day", "16 March 2024"),
        (dt.date(2024, 3, 1), "month", "March 2024"),
        (dt.date(2012, 1, 1), "year", "2012"),
    ],
)
def test_dates_are_as_precise_as_their_source(date, precision, shown):
    assert text.format_date(date, precision) == shown


def test_date_ranges():
    assert (
        text.format_range(dt.date(2024, 3, 12), dt.date(2024, 3, 14), "day") == "12–14 March 2024"
    )
    assert (
        text.format_range(dt.date(2023, 10, 1), dt.date(2023, 12, 1), "month")
        == "October 2023 – December 2023"
    )


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "data:text/html,x", "//evil.example", "ftp://x.org/a", "JaVaScRiPt:x"],
)
def test_only_http_urls_are_links(url):
    assert not text.is_link(url)
    assert text.is_link("https://example.org/a")


def test_page_document_follows_its_contract(default_build):
    html = (default_build.out / "index.html").read_text(encoding="utf-8")
    doc = page_document(html)
    TypeAdapter(contract.PageDoc).validate_python(doc, strict=True)
    layer_keys = set(contract.LayerDoc.__annotations__)
    for layer in doc["layers"]:
        assert set(layer) <= layer_keys, set(layer) - layer_keys
        assert {"name", "columns", "popup", "count"} <= set(layer)
        assert all(len(values) == layer["count"] for values in layer["columns"].values())
    # The script documents the same contract: every key of every TypedDict is in its JSDoc.
    script = (ROOT / "geo/templates/story.js").read_text(encoding="utf-8")
    for typed in (contract.LayerDoc, contract.PageDoc, contract.ViewDoc):
        typedef = re.search(r"@typedef \{\{(.*?)\}\} " + typed.__name__, script, re.DOTALL)
        assert typedef, typed.__name__
        for key in typed.__annotations__:
            assert re.search(rf"\b{key}\??:", typedef[1]), (typed.__name__, key)


def test_page_document_is_columnar_without_html(default_build):
    doc = page_document((default_build.out / "index.html").read_text(encoding="utf-8"))
    events = next(layer for layer in doc["layers"] if layer["kind"] == "events")
    assert events["count"] == 43 and len(events["lon"]) == 43
    assert "<" not in json.dumps(doc)  # no HTML anywhere: popups are built in the browser


def test_page_json_is_inert_in_a_script():
    hostile = "</script><script>alert(1)</script> {{ 7*7 }} {% raw %} <!-- \u2028"
    doc = {"version": 1, "t": hostile}
    encoded = contract.to_json(doc)
    assert "</" not in encoded and "<!--" not in encoded and "\u2028" not in encoded
    assert json.loads(encoded) == doc


def test_js_strings_are_inert_in_branca_second_jinja_pass():
    value = "x{{ 7*7 }}{% raw %}</script>"
    literal = js_string(value)
    assert jinja2.Template(literal).render() == literal
    assert json.loads(literal) == value and "</" not in literal


def test_content_security_policy_allows_exactly_the_pages_scripts(default_build):
    html = (default_build.out / "index.html").read_text(encoding="utf-8")
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)[1]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'" and directives["connect-src"] == "'none'"
    allowed = set(directives["script-src"].split())
    inline = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    assert len(inline) >= 5  # theme switch, Leaflet, markercluster, gesture handling, the story, …
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed
    assert len(allowed) == len(set(inline))  # nothing else may run
    assert "http" not in directives["script-src"] + directives["img-src"]


def test_builds_are_byte_identical(default_build, tmp_path):
    again = build(
        DEFAULT_STORY, tmp_path / "dist", exports=("kml", "shapefile", "flatgeobuf", "geoparquet")
    )
    assert again.files == default_build.files
    for name in default_build.files:
        assert (again.out / name).read_bytes() == (default_build.out / name).read_bytes(), name


def test_page_loads_nothing_from_elsewhere(default_build):
    html = (default_build.out / "index.html").read_text(encoding="utf-8")
    assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)="(https?:)?//', html)
    assert "url(http" not in html and "@import" not in html
    assert "{z}/{x}/{y}" not in html  # no tile basemap unless --tiles
    assert "jquery" not in html.lower() and "bootstrap" not in html.lower()


def test_page_links_to_the_data(default_build):
    html = (default_build.out / "index.html").read_text(encoding="utf-8")
    assert "Get the data" in html
    for name in ("data/niger-us-military.gpkg", "data/events.geojson", "data/events.csv"):
        assert f'href="{name}"' in html
        assert (default_build.out / name).is_file()
