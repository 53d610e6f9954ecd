"""Whatever map.toml says about colour, category or visibility has the same effect in every
output: the web page, the PNG preview, the QGIS styles and the KML all draw the same scene."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from geo.build import build

AREA = {
    "type": "Feature",
    "properties": {"name": "zone", "status": "open"},
    "geometry": {"type": "Polygon", "coordinates": [[[0, 10], [8, 10], [8, 18], [0, 18], [0, 10]]]},
}
CLOSED = {**AREA, "properties": {"name": "other", "status": "closed"}}
CLOSED["geometry"] = {
    "type": "Polygon",
    "coordinates": [[[9, 10], [16, 10], [16, 18], [9, 18], [9, 10]]],
}

# map.toml style key -> (value, what the web page's Leaflet style has, the QML option)
STYLE = {
    "color": ("#3b1f7a", ("color", "#3b1f7a"), ("line_color", "59,31,122,255")),
    "fill_color": ("#1b9e77", ("fillColor", "#1b9e77"), ("color", "27,158,119,255")),
    "fill_opacity": (0.5, ("fillOpacity", 0.5), ("color", None)),
    "opacity": (0.4, ("opacity", 0.4), ("line_color", None)),
    "weight": (3.5, ("weight", 3.5), ("line_width", "3.5")),
    "dash_array": ("6 2", ("dashArray", "6 2"), ("customdash", "6;2")),
}


def story(tmp_path, layer_toml: str, features=(AREA, CLOSED)):
    folder = tmp_path / "story"
    folder.mkdir()
    (folder / "zones.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": list(features)})
    )
    (folder / "map.toml").write_text(f'title = "Agree"\n\n[layers.zones]\n{layer_toml}\n')
    return build(folder, tmp_path / "dist", exports=("kml",))


def web_layer(result) -> dict:
    html = (result.out / "index.html").read_text(encoding="utf-8")
    doc = json.loads(re.search(r'id="gs-data">(.*?)</script>', html, re.DOTALL)[1])
    return doc["layers"][0]


def qml_symbols(result) -> list[dict[str, str]]:
    import sqlite3

    with sqlite3.connect(result.out / "data" / f"{result.story.config.name}.gpkg") as db:
        (qml,) = db.execute("SELECT styleQML FROM layer_styles").fetchone()
    root = ET.fromstring(qml.split("\n", 1)[1])
    return [
        {o.get("name"): o.get("value") for o in layer.iter("Option") if o.get("name")}
        for layer in root.iter("layer")
    ]


def kml_colours(result) -> set[str]:
    kml = (result.out / "data" / f"{result.story.config.name}.kml").read_text(encoding="utf-8")
    return set(re.findall(r"<color>([0-9a-f]{8})</color>", kml))


def preview_has(result, colour: str) -> bool:
    pixels = np.asarray(Image.open(io.BytesIO((result.out / "preview.png").read_bytes())))
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return bool((np.abs(pixels[..., :3].astype(int) - rgb).max(axis=-1) <= 3).sum() > 50)


def kml_colour(colour: str, alpha: int = 255) -> str:
    r, g, b = (colour[i : i + 2] for i in (1, 3, 5))
    return f"{alpha:02x}{b}{g}{r}"


@pytest.mark.parametrize("key", sorted(STYLE))
def test_every_style_key_reaches_every_output(tmp_path, key):
    value, (web_key, web_value), (qml_key, qml_value) = STYLE[key]
    toml_value = json.dumps(value)
    opaque = ", fill_opacity = 1" if key in ("color", "fill_color") else ""  # pure in the PNG
    result = story(tmp_path, f"style = {{ {key} = {toml_value}{opaque} }}")
    assert web_layer(result)["style"][web_key] == web_value
    symbols = qml_symbols(result)
    found = [s[qml_key] for s in symbols if qml_key in s]
    if qml_value is None:  # an opacity: the alpha channel of that colour
        alpha = str(round(value * 255))
        assert any(v.endswith("," + alpha) for v in found), found
    else:
        assert qml_value in found, found
    if key in ("color", "fill_color"):
        assert any(c[2:] == kml_colour(value)[2:] for c in kml_colours(result))
        assert preview_has(result, value) or key == "color"  # a 1 px stroke may blend


def test_categories_colour_the_web_page_the_preview_qgis_and_kml_alike(tmp_path):
    result = story(
        tmp_path,
        'category_field = "status"\ncategories = { open = "#009e73", closed = "#cc79a7" }\n'
        "style = { fill_opacity = 1 }",
    )
    layer = web_layer(result)
    assert layer["categoryField"] == "status"
    assert {k: v["fillColor"] for k, v in layer["categoryStyles"].items()} == {
        "open": "#009e73",
        "closed": "#cc79a7",
    }
    fills = {s["color"] for s in qml_symbols(result) if "color" in s}
    assert {"0,158,115,255", "204,121,167,255"} <= fills
    assert {kml_colour("#009e73"), kml_colour("#cc79a7")} <= kml_colours(result)
    assert preview_has(result, "#009e73") and preview_has(result, "#cc79a7")


def test_a_hidden_layer_is_hidden_on_the_page_and_in_the_preview(tmp_path):
    result = story(tmp_path, 'show = false\nstyle = { fill_color = "#1b9e77", fill_opacity = 1 }')
    assert web_layer(result)["show"] is False
    assert not preview_has(result, "#1b9e77")
    assert qml_symbols(result)  # the data still carries its style for QGIS


# --- the default story: sites by operator, country-wide events (issues 8 and 10) ---------------


def test_sites_by_operator_and_country_wide_events_agree_in_every_output(default_build):
    """Air Base 201's US presence is in the US colour (map.toml's operators) on the page's key,
    in the QGIS style, in the KML and in the preview; the events placed only to Niger are held
    aside everywhere: listed on the page's "Niger" badge, not drawn by QGIS, in a KML folder
    of their own, a badge in the preview, never a point at Niger's reference point."""
    from geo import preview, statuses
    from geo.exports.qgis import classified_by
    from geo.exports.tables import all_tables, scene_of, table_style

    story = default_build.story
    us = dict(story.layer("bases").config.operators)["United States"]
    # the web page: the sites' key has the US colour; the events' area column marks 3 events
    scene = scene_of(story, story.layer("events"))
    country_wide = {
        i for i, a in zip(scene.frame["id"], statuses.area_values(scene), strict=True) if a
    }
    assert len(country_wide) == 3
    assert any(e.color == us for e in scene_of(story, story.layer("bases")).legend)
    # QGIS: presences by operator; country-wide events classified as NULL (not drawn)
    styles = {t.name: table_style(t, scene_of(story, t.layer)) for t in all_tables(story)}
    assert styles["bases"].field == "operator"
    assert styles["bases"].symbol_for("United States").fill == us
    assert "location_precision" in classified_by(styles["events"])
    # KML: the site's placemark in the US colour; the country-wide events in their own folder
    root = ET.parse(default_build.out / "data" / f"{story.config.name}.kml").getroot()
    ns = "{http://www.opengis.net/kml/2.2}"
    document = root.find(f"{ns}Document")
    colours = {
        s.get("id"): s.find(f"{ns}IconStyle/{ns}color").text
        for s in document.iter(f"{ns}Style")
        if s.find(f"{ns}IconStyle/{ns}color") is not None
    }

    def ids(folder):
        return {
            p.find(f"{ns}ExtendedData/{ns}Data[@name='id']/{ns}value").text: p
            for p in folder.findall(f"{ns}Placemark")
        }

    folders = {f.find(f"{ns}name").text: f for f in document.iter(f"{ns}Folder")}
    ab201 = ids(folders["Foreign military sites"])["ab201-us"]
    assert colours[ab201.find(f"{ns}styleUrl").text[1:]] == kml_colour(us)
    wide = folders["Niger (country-wide)"]
    assert set(ids(wide)) == country_wide
    assert country_wide.isdisjoint(ids(folders["Events"]))
    for placemark in ids(wide).values():
        assert "the whole of Niger" in placemark.find(f"{ns}description").text
    # the preview: the US colour at Air Base 201, and no event at Niger's reference point
    plan = preview.plan(story, story.scenes)
    sites = next(m for m in plan.marks if m.scene.name == "bases")
    row = list(sites.scene.frame["id"]).index("ab201")
    x, y = sites.xy[list(sites.rows).index(row)]
    pixels = np.asarray(Image.open(io.BytesIO((default_build.out / "preview.png").read_bytes())))
    around = pixels[round(y) - 8 : round(y) + 9, round(x) - 8 : round(x) + 9, :3].astype(int)
    rgb = np.array([int(us[i : i + 2], 16) for i in (1, 3, 5)])
    assert (np.abs(around - rgb).max(axis=-1) <= 6).sum() > 15
    events = next(m for m in plan.marks if m.scene.name == "events")
    rx, ry = plan.layout.frame.to_px(8.0, 16.0)
    assert not any(abs(ex - rx) < 3 and abs(ey - ry) < 3 for ex, ey in events.xy)
    assert any(p.text == "Niger \u00b7 3" for p in plan.labels)


@pytest.mark.gdal
def test_gdal_reads_the_country_wide_events_as_a_layer_of_their_own(default_build):
    """What a GIS user sees opening the KML: the events layer without the three country-wide
    events, and a "Niger (country-wide)" layer with them, every attribute kept."""
    import subprocess

    from tests.conftest import require_tool

    ogrinfo = require_tool("ogrinfo", "apt-get install gdal-bin")
    kml = default_build.out / "data" / f"{default_build.story.config.name}.kml"

    def count(layer: str) -> int:
        run = subprocess.run(
            [ogrinfo, "-ro", "-so", str(kml), layer], capture_output=True, text=True, check=True
        )
        return int(re.search(r"Feature Count: (\d+)", run.stdout)[1])

    total = len(default_build.story.layer("events").frame)
    assert count("Niger (country-wide)") == 3
    assert count("Events") == total - 3
