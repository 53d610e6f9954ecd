"""The text version (the page's <section class="gs-text">): what the map shows, as text, for
readers without JavaScript or sight of the map. Engine tests on a small story made from the
export fixture; the default story's text version is checked in test_niger_facts.py."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from geo.build import build
from tests.conftest import FIXTURES, ROOT
from tests.test_figures import figures_story

VOID = {"meta", "link", "br", "img", "input", "hr", "col", "source", "wbr", "area", "base"}
HOSTILE = '<img src=x onerror=alert(1)> {{ 7*7 }} "quoted" & more'


class _Tree(HTMLParser):
    """The page as an ElementTree (the standard library's parser; lxml is not a dependency)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = ET.Element("document")
        self.open = [self.root]

    def handle_starttag(self, tag, attrs):
        element = ET.SubElement(self.open[-1], tag, {k: v or "" for k, v in attrs})
        if tag not in VOID:
            self.open.append(element)

    def handle_startendtag(self, tag, attrs):
        ET.SubElement(self.open[-1], tag, {k: v or "" for k, v in attrs})

    def handle_endtag(self, tag):
        for i in range(len(self.open) - 1, 0, -1):
            if self.open[i].tag == tag:
                del self.open[i:]
                return

    def handle_data(self, data):
        node = self.open[-1]
        if len(node):
            node[-1].tail = (node[-1].tail or "") + data
        else:
            node.text = (node.text or "") + data


def text_version(html: str) -> ET.Element:
    """The page's <section class="gs-text">, parsed."""
    start = html.index('<section class="gs-text"')
    parser = _Tree()
    parser.feed(html[start : html.index("</section>", start) + len("</section>")])
    (section,) = parser.root
    return section


def words(element: ET.Element) -> str:
    """An element's text, whitespace collapsed, as a reader gets it."""
    return re.sub(r"\s+", " ", "".join(element.itertext())).strip()


def by_id(section: ET.Element, ident: str) -> ET.Element:
    found = section.find(f".//*[@id='{ident}']")
    assert found is not None, ident
    return found


def details(section: ET.Element, summary_start: str) -> ET.Element:
    for d in section.iter("details"):
        if words(d.find("summary")).startswith(summary_start):
            return d
    raise AssertionError(f"no section {summary_start!r}")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> ET.Element:
    """The export fixture with a figures table, a hostile country note, built in-process."""
    folder = tmp_path_factory.mktemp("text")
    story = figures_story(folder)
    countries = json.loads((story / "countries.geojson").read_text(encoding="utf-8"))
    burkina = next(f for f in countries["features"] if f["properties"]["id"] == "burkina-faso")
    burkina["properties"].update(
        note=HOSTILE, note_source_name="<b>Source</b>", note_source_url="https://e.org/?a=1&b=2"
    )
    (story / "countries.geojson").write_text(json.dumps(countries), encoding="utf-8")
    result = build(story, folder / "dist")
    return text_version((result.out / "index.html").read_text(encoding="utf-8"))


def test_sections_in_order_under_one_heading(page):
    assert words(page.find("h2")) == "Text version of the map"
    assert page.get("aria-labelledby") == page.find("h2").get("id")
    summaries = [words(d.find("summary")) for d in page.iter("details")]
    assert summaries == [
        "All 4 events in date order, with sources",
        "Foreign military sites: 2 sites, with who was there, when, and sources",
        "Countries: notes on 2 countries, with sources",
        "Troops <b>in</b> Niger (6 figures, with sources)",
    ]


def test_each_site_with_where_how_well_known_and_show_on_map(page):
    site = by_id(page, "gs-bases--air-base-101")
    text = words(site)
    assert text.startswith(
        "Base aérienne 101, Niamey. In Niger. Position ±2.5 km (the site itself)."
    )
    assert "Beside Niamey's airport" in text  # the location note
    button = site.find("button")
    assert (button.get("data-layer"), button.get("data-event")) == ("bases", "air-base-101")
    assert "hidden" in button.attrib  # shown by the script, which alone can open the map


def test_each_presence_with_its_period_as_precise_as_its_source(page):
    (presence,) = by_id(page, "gs-bases--air-base-101").find("ul")
    text = words(presence)
    assert text.startswith("United States, February 2013 – 7 July 2024. Status: ended (as of")
    times = [(t.get("datetime"), t.text) for t in presence.iter("time")]
    assert times == [
        ("2013-02", "February 2013"),  # a month stays a month
        ("2024-07-07", "7 July 2024"),  # the end
        ("2024-07-07", "7 July 2024"),  # the status date
    ]
    link = presence.find("a")
    assert link.get("href").startswith("https://") and link.get("rel") == "noopener noreferrer"
    (other,) = by_id(page, "gs-bases--air-base-201").find("ul")
    assert next(t.get("datetime") for t in other.iter("time")) == "2016"  # a year stays a year
    assert "United States, 2016 – end unknown. Status: ended" in words(other)


def test_country_notes_with_their_sources_and_escaped(page):
    section = details(page, "Countries:")
    niger = by_id(section, "gs-countries--niger")
    assert words(niger) == "Niger. Capitale : Niamey ; région d'Agadès Source: Natural Earth."
    assert niger.find("a").get("href") == "https://www.naturalearthdata.com/"
    burkina = by_id(section, "gs-countries--burkina-faso")
    assert HOSTILE in words(burkina)  # shown as text, never run
    assert burkina.find(".//img") is None and burkina.find(".//b") is None
    assert words(burkina.find("a")) == "<b>Source</b>"
    assert burkina.find("a").get("href") == "https://e.org/?a=1&b=2"


def test_figures_table_lists_every_row_with_its_source(page):
    figures = details(page, "Troops <b>in</b> Niger")
    rows = figures.findall(".//tbody/tr")
    assert [r.get("id") for r in rows][:2] == ["gs-figures-1-a-2017-06", "gs-figures-1-a-2017-06-b"]
    cells = [[words(td) for td in r.findall("td")] for r in rows]
    assert cells[0] == [
        "June 2017", "États-Unis", "about 575", "Savage Differs: a-2017-06-b"
    ]  # fmt: skip
    assert cells[1][2] == "about 645" and cells[4][2] == "157 left"
    assert rows[0].find(".//time").get("datetime") == "2017-06"
    assert rows[2].find(".//time").get("datetime") == "2017"
    headings = [words(th) for th in figures.findall(".//thead/tr/th")]
    assert headings == ["Date", "Operator", "Figure", "Source and note"]
    note = rows[0].find(".//span[@class='gs-figure-note']")
    assert words(note) == "Differs: a-2017-06-b"
    # the title is text: its markup is shown, not run
    assert words(figures.find("summary")).startswith("Troops <b>in</b> Niger")


def test_figures_chart_has_one_mark_per_charted_figure_and_a_key(page):
    figures = details(page, "Troops <b>in</b> Niger")
    svg = figures.find(".//figure/svg")
    assert svg.get("role") == "img" and svg.get("viewbox")
    marks = [c for c in svg.iter("circle") if c.get("class") == "gs-mark"]
    assert len(marks) == 5  # "several hundred" gives no single number: listed, not charted
    key = [words(li) for li in figures.findall(".//figcaption/ul/li")]
    assert key[:2] == ["États-Unis", "France"]
    assert "Not charted, as they give no single number: 2023, several hundred." in words(
        figures.find(".//figcaption")
    )


def test_element_ids_are_unique(page):
    ids = [e.get("id") for e in page.iter() if e.get("id")]
    assert len(ids) == len(set(ids))


def test_the_page_draws_what_the_kinds_give():
    """No output asks which kind a layer is: the template and the page code know no kind."""
    template = (ROOT / "geo/templates/page.html").read_text(encoding="utf-8")
    section = template[template.index('<section class="gs-text"') :]
    assert not re.search(r"\b(bases|countries|kind)\b", section)
    render = (ROOT / "geo/render.py").read_text(encoding="utf-8")
    assert not re.search(r"""["'](bases|countries)["']""", render)


def test_a_story_without_sites_notes_or_tables_gets_only_its_events(tmp_path):
    story = tmp_path / "story"
    shutil.copytree(FIXTURES / "export_story", story)
    for name in ("bases.geojson",):
        (story / name).unlink()
    toml = (story / "map.toml").read_text(encoding="utf-8")
    (story / "map.toml").write_text(toml.replace('[layers.bases]\nkind = "bases"\n', ""))
    countries = json.loads((story / "countries.geojson").read_text(encoding="utf-8"))
    for feature in countries["features"]:
        for key in ("note", "note_source_name", "note_source_url"):
            feature["properties"].pop(key, None)
    (story / "countries.geojson").write_text(json.dumps(countries), encoding="utf-8")
    result = build(story, tmp_path / "dist")
    section = text_version((result.out / "index.html").read_text(encoding="utf-8"))
    assert [d.get("id") for d in section.iter("details")] == ["gs-events"]


def test_page_without_anything_to_list_has_no_text_version(tmp_path):
    result = build(FIXTURES / "good" / "plain", tmp_path / "dist")
    assert 'class="gs-text"' not in (result.out / "index.html").read_text(encoding="utf-8")


def test_builds_stay_byte_identical(tmp_path):
    first = build(figures_story(tmp_path / "a"), tmp_path / "a" / "dist")
    second = build(figures_story(tmp_path / "b"), tmp_path / "b" / "dist")
    for name in (Path("index.html"), Path("data/figures.csv")):
        assert (first.out / name).read_bytes() == (second.out / name).read_bytes(), name


# --- in the browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("text-browser")
    return build(figures_story(folder), folder / "dist").out / "index.html"


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 375])
def test_opened_text_version_is_axe_clean_and_fits(browser, built_page, width):
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_page(viewport={"width": width, "height": 800})
    page.goto(built_page.as_uri())
    page.wait_for_function("() => window.GeoStory && GeoStory.state.map")
    for summary in page.locator(".gs-text details > summary").all():
        summary.click()
    violations = Axe().run(page, context=".gs-text").response["violations"]
    assert [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations] == []
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width  # no sideways
    page.close()


@pytest.mark.browser
def test_show_on_map_opens_a_site(browser, built_page):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(built_page.as_uri())
    page.wait_for_function("() => window.GeoStory && GeoStory.state.map")
    page.locator(".gs-text details > summary", has_text="Foreign military sites").click()
    page.locator("#gs-bases--air-base-201").get_by_role("button", name="Show on map").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "Base aérienne 201, Agadès" in popup.inner_text()
    assert errors == []
    page.close()
