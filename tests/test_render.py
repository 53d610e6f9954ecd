"""The page as bytes: escaping, date formats, reproducibility, nothing fetched from elsewhere."""

from __future__ import annotations

import datetime as dt
import json
import re

import jinja2
import pytest

from geo import popups
from geo.build import build
from geo.render import to_js
from tests.conftest import DEFAULT_STORY

EVENT = {
    "date": dt.date(2024, 3, 16),
    "date_precision": "day",
    "end_date": None,
    "title": "<img src=x onerror=alert(1)>",
    "description": "Niger's junta & the US",
    "place": "Niamey",
    "in_country": "Niger",
    "location_precision": "city",
    "precision_km": None,
    "category": "agreement ended",
    "note": None,
    "source_name": "Tag24 (AFP)",
    "source_url": "https://www.tag24.com/world/a",
}


@pytest.mark.parametrize(
    ("date", "precision", "text"),
    [
        (dt.date(2024, 3, 16), "day", "16 March 2024"),
        (dt.date(2024, 3, 1), "month", "March 2024"),
        (dt.date(2012, 1, 1), "year", "2012"),
    ],
)
def test_dates_are_as_precise_as_their_source(date, precision, text):
    assert popups.format_date(date, precision) == text


def test_date_ranges():
    assert (
        popups.format_range(dt.date(2024, 3, 12), dt.date(2024, 3, 14), "day") == "12–14 March 2024"
    )
    assert (
        popups.format_range(dt.date(2023, 10, 1), dt.date(2023, 12, 1), "month")
        == "October 2023 – December 2023"
    )


def test_event_popup_escapes_text_and_links_source():
    html = popups.event_popup(EVENT)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert "Niger&#39;s junta &amp; the US" in html
    assert (
        '<a href="https://www.tag24.com/world/a" target="_blank" '
        'rel="noopener noreferrer">Tag24 (AFP)</a>'
    ) in html
    assert "16 March 2024" in html and "Niamey, in Niger" in html
    assert "Location: approximate: city level" in html


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,x",
        "//evil.example",
        "ftp://example.org/x",
        "JaVaScRiPt:alert(1)",
    ],
)
def test_only_http_links_become_links(url):
    assert "<a " not in popups.event_popup({**EVENT, "source_url": url})
    assert "<a " not in popups.feature_popup({"link": url}, ["link"], None)


def test_to_js_is_inert_in_a_script_and_in_jinja():
    hostile = {"t": "</script><script>alert(1)</script> {{ 7*7 }} {% raw %} {# x #} ${1+1}"}
    text = to_js(hostile)
    assert "</" not in text and "{{" not in text and "{%" not in text and "{#" not in text
    assert json.loads(text) == hostile
    assert jinja2.Template(text).render() == text  # branca's second Jinja pass changes nothing


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
    assert html.count("<script>") >= 4  # Leaflet, markercluster, gesture handling, the story


def test_page_links_to_the_data(default_build):
    html = (default_build.out / "index.html").read_text(encoding="utf-8")
    assert "Get the data" in html
    for name in ("data/niger-us-military.gpkg", "data/events.geojson", "data/events.csv"):
        assert f'href="{name}"' in html
        assert (default_build.out / name).is_file()
