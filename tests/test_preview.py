"""The static preview: a 1200x630 PNG of the story, drawn without a browser, same bytes twice."""

from __future__ import annotations

import ast
import itertools
import json
import math
import random
import struct
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.image import imread

from geo import preview, statuses
from geo.build import read_story
from geo.combine import Story
from geo.kindmods import story_scenes
from geo.render import SEA
from geo.scene import key_rows
from tests.conftest import DEFAULT_STORY, FIXTURES


@pytest.fixture(scope="module")
def story():
    return read_story(DEFAULT_STORY)


@pytest.fixture(scope="module")
def png(story, tmp_path_factory):
    path = tmp_path_factory.mktemp("preview") / "preview.png"
    preview.write_preview(story, story_scenes(story), path)
    return path


def _write(story: Story, path: Path) -> np.ndarray:
    """The story's preview, drawn from its scenes as the build draws it; its pixels."""
    preview.write_preview(story, story_scenes(story), path)
    return _pixels(path)


def _pixels(path) -> np.ndarray:
    """The picture as 0..255 RGBA."""
    return np.round(imread(path) * 255).astype(int)


def _count(pixels: np.ndarray, colour, tolerance: int = 3) -> int:
    """Pixels within ``tolerance`` of an RGB colour (0..1 floats) on every channel."""
    target = np.round(np.array(colour) * 255).astype(int)
    return int((np.abs(pixels[..., :3] - target).max(axis=-1) <= tolerance).sum())


def _chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    types, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        types.append(data[at + 4 : at + 8])
        at += 12 + length
    return types


def test_preview_is_a_1200x630_opaque_png(png):
    pixels = _pixels(png)
    assert pixels.shape == (630, 1200, 4)
    assert (pixels[..., 3] == 255).all()
    # Nothing that changes from build to build: no software version, no time stamp.
    assert {b"tEXt", b"iTXt", b"zTXt", b"tIME"}.isdisjoint(_chunks(png.read_bytes()))


def test_preview_is_not_blank(png):
    pixels = _pixels(png)
    assert pixels[..., :3].std() > 20
    assert len(np.unique(pixels[..., :3].reshape(-1, 3), axis=0)) > 200


@pytest.mark.parametrize(
    ("layer", "key", "share"),
    [
        ("countries", "focus_fill_color", 0.02),  # Niger, emphasised
        ("countries", "fill_color", 0.10),  # its neighbours
        ("land", "fill_color", 0.01),  # other countries
    ],
)
def test_preview_has_the_web_maps_fills(story, png, layer, key, share):
    colour = to_rgb(next(lay for lay in story.layers if lay.name == layer).config.style[key])
    assert _count(_pixels(png), colour) > share * 1200 * 630


def test_preview_has_sea_and_event_colours(story, png):
    pixels = _pixels(png)
    assert _count(pixels, to_rgb(SEA)) > 0.01 * 1200 * 630
    on_map = pixels[:, 600:]  # the map is on the right, the legend on the left
    events = story.layer("events").config
    for category in ("agreement", "deployment", "withdrawal", "diplomacy"):  # many, in view
        assert _count(on_map, to_rgb(events.categories[category]), 8) > 100, category


def test_same_story_same_bytes(story, png, tmp_path):
    again = tmp_path / "again.png"
    preview.write_preview(story, story_scenes(story), again)
    assert again.read_bytes() == png.read_bytes()


def test_plain_folder_without_map_toml(tmp_path):
    story = read_story(FIXTURES / "good" / "plain")
    pixels = _write(story, tmp_path / "plain.png")
    assert pixels.shape == (630, 1200, 4)
    # The first plain layer (areas) is filled as its scene says, over the sea.
    areas = story_scenes(story)[0]
    assert areas.name == "areas"
    assert _count(pixels, _over(areas.symbol.fill, areas.symbol.fill_opacity, SEA)) > 2000


def _over(colour: str, opacity: float, under: str) -> np.ndarray:
    """``colour`` at ``opacity`` over ``under``, as RGB 0..1."""
    return opacity * np.array(to_rgb(colour)) + (1 - opacity) * np.array(to_rgb(under))


def test_category_field_on_a_plain_layer(tmp_path):
    """Zones coloured by their status, events by their phase: each in its category's colour,
    with a legend row per category, as the page's key lists them (the top layer first)."""
    story = read_story(FIXTURES / "good" / "categories")
    scenes = story_scenes(story)
    zones = next(s for s in scenes if s.name == "zones")
    colours = {"open": "#009e73", "closed": "#cc79a7"}  # as the fixture's map.toml says
    assert {v: zones.categories.symbols[v].fill for v in colours} == colours
    pixels = _write(story, tmp_path / "categories.png")
    opacity = zones.symbol.fill_opacity
    for value, colour in colours.items():
        assert _count(pixels, _over(colour, opacity, SEA)) > 2000, value
    events = next(s for s in scenes if s.name == "events")
    for value, colour in {"before": "#0072b2", "after": "#d55e00"}.items():
        assert events.categories.symbols[value].fill == colour
        assert _count(pixels[:, 480:], to_rgb(colour), 8) > 20, value  # the dots, on the map
    rows = preview.plan(story, scenes).legend.rows
    key = key_rows(scenes, timeline=False)
    assert [r.text for r in rows] == [e.label for row in key for e in row.entries]
    assert {e.label for s in scenes for e in s.legend} == {r.text for r in rows}
    assert [r.text for r in rows if r.entry in zones.legend] == ["closed", "open"]
    for row in rows:
        if row.entry in zones.legend:  # the swatch: the category's fill, as on the map
            swatch = pixels[
                round(row.mid) - 4 : round(row.mid) + 4, round(row.x) + 3 : round(row.x) + 19
            ]
            fill = _over(colours[row.text], opacity, preview.PAPER)
            assert _count(swatch, fill) == swatch.shape[0] * swatch.shape[1], row.text


def test_hidden_scenes_are_left_out(tmp_path):
    story = read_story(FIXTURES / "good" / "categories")
    scenes = tuple(replace(s, show=s.name != "zones") for s in story_scenes(story))
    out = tmp_path / "hidden.png"
    preview.write_preview(story, scenes, out)
    zones = next(s for s in scenes if s.name == "zones")
    fill = _over("#009e73", zones.symbol.fill_opacity, SEA)
    assert _count(_pixels(out), fill) == 0
    texts = [r.text for r in preview.plan(story, scenes).legend.rows]
    assert texts and not {"open", "closed"} & set(texts)


def _overlap(a: preview.Box, b: preview.Box) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def _assert_apart(placed: Sequence[preview.PlacedLabel], box: preview.Box) -> None:
    for a, b in itertools.combinations(placed, 2):
        assert not _overlap(a.box, b.box), (a.text, b.text)
    for label in placed:  # whole, on the map
        inner = label.box
        assert box.x <= inner.x and inner.x + inner.w <= box.x + box.w, label.text
        assert box.y <= inner.y and inner.y + inner.h <= box.y + box.h, label.text


def test_labels_never_overlap(story):
    """By priority, highest first: a label that would overlap one already placed, or a marker,
    is left off (or moved just beside its spot)."""
    scenes = story_scenes(story)
    plan = preview.plan(story, scenes)
    placed = plan.labels
    texts = {label.label.text for label in placed}
    assert {"Niger", "Algeria", "Mali", "Chad", "Algiers", "Abuja"} <= texts
    _assert_apart(placed, plan.layout.frame.box)
    priorities = [label.label.priority for label in placed]
    assert priorities == sorted(priorities, reverse=True)  # placed highest first
    markers = [  # events and sites are in the way too
        preview.Box(x - 6, y - 6, 12, 12)
        for marks in plan.marks
        if marks.scene.symbol.shape in ("event", "diamond")
        for x, y in marks.xy
    ]
    assert len(markers) > 40
    for label in placed:
        assert not any(_overlap(label.box, m) for m in markers), label.text


def test_crowded_labels_never_overlap(tmp_path):
    """Three hundred places around one town: as many labels as fit, none over another."""
    rng = np.random.default_rng(5)
    coordinates = [(2.1 + dx, 13.5 + dy) for dx, dy in rng.normal(0, 1.5, (300, 2))]
    story = _point_story(tmp_path, "places", coordinates)
    plan = preview.plan(story, story_scenes(story))
    assert 10 < len(plan.labels) < 300
    _assert_apart(plan.labels, plan.layout.frame.box)


def test_wide_story_with_dollar_sign_in_title(tmp_path):
    """A wide view goes under a banner; '$' in text is a dollar sign, not TeX."""
    line = {"type": "LineString", "coordinates": [[0, 10], [20, 14], [40, 11], [60, 15]]}
    doc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"name": "route"}, "geometry": line}],
    }
    (tmp_path / "route.geojson").write_text(json.dumps(doc))
    (tmp_path / "map.toml").write_text(
        'title = "A $5 road across the Sahel"\ncredit = "' + "Credit line. " * 40 + '"\n'
    )
    pixels = _write(read_story(tmp_path), tmp_path / "wide.png")
    assert pixels.shape == (630, 1200, 4)
    assert (pixels[:60, 1000:, :3] == 255).all()  # a white banner across the top...
    assert _count(pixels[200:500], to_rgb(SEA)) > 0.9 * 300 * 1200  # ...over a full-width map


def test_events_in_one_spot_are_spread_apart():
    far = (500.0, 100.0)
    spot = [(100.0, 100.0)] * 12
    placed = preview._spread([*spot, far])
    assert placed[-1] == far
    dots = np.array(placed[:-1])
    gaps = np.linalg.norm(dots[:, None] - dots[None], axis=-1) + np.eye(len(dots)) * 99
    assert gaps.min() > preview.EVENT_PX * 0.85  # dots just touch
    assert np.linalg.norm(dots - spot[0], axis=1).max() < 4 * preview.EVENT_PX  # still near


# --- hostile or careless input: the preview finishes, whatever the story ------------------------

POINT_FIELDS = {
    "events": {
        "date": "2024-03-16",
        "date_precision": "day",
        "title": "An event",
        "description": "What happened.",
        "place": "Niamey",
        "location_precision": "city",
        "category": "agreement",
        "source_name": "A source",
        "source_url": "https://example.org/",
    },
    "bases": {
        "site": "A site",
        "operator": "United States",
        "status": "active",
        "status_date": "2024",
        "status_precision": "year",
        "precision_km": 10,
        "location_precision": "city",
        "country": "NER",
        "source_name": "A source",
        "source_url": "https://example.org/",
    },
    "places": {"name": "Niamey", "rank": "national capital"},
}


def _point_story(
    folder: Path, kind: str, coordinates: list[tuple[float, float]], title: str = "A story"
) -> Story:
    """A story of one point layer of ``kind`` (no countries layer), its features valid."""
    features = [
        {
            "type": "Feature",
            "properties": {"id": f"f{i}", "site_id": f"s{i}", **POINT_FIELDS[kind]},
            "geometry": {"type": "Point", "coordinates": list(xy)},
        }
        for i, xy in enumerate(coordinates)
    ]
    (folder / f"{kind}.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features})
    )
    (folder / "map.toml").write_text(f'title = "{title}"\n[layers.{kind}]\nkind = "{kind}"\n')
    return read_story(folder)


def _with_layer(story: Story, kind: str, **changes) -> Story:
    """The story with its layer of ``kind`` changed, past validation: the preview must hold
    even where validation has a gap."""
    layers = tuple(
        replace(lay, **changes) if lay.config.kind == kind else lay for lay in story.layers
    )
    return replace(story, layers=layers)


@pytest.mark.parametrize("kind", ["events", "bases", "places"])
def test_story_without_countries(tmp_path, kind):
    story = _point_story(tmp_path, kind, [(2.1, 13.5), (8.0, 17.0)])
    assert _write(story, tmp_path / "preview.png").shape == (630, 1200, 4)


def test_circle_larger_than_the_map_covers_it(tmp_path):
    """A base's circle of 1e12 km is cut to the map, not drawn (for hours) in full."""
    story = _point_story(tmp_path, "bases", [(2.1, 13.5), (8.0, 17.0)])
    bases = story.layer("bases")
    huge = _with_layer(story, "bases", web=bases.web.assign(precision_km=1e12))
    pixels = _write(huge, tmp_path / "huge.png")
    assert _count(pixels, to_rgb(SEA)) == 0  # the circle's tint is over all the sea


@pytest.mark.parametrize(
    "style",
    [
        {"weight": 1e9, "radius": 1e9},
        {"dash_array": "1e-9 1e-9"},
        {"dash_array": "0 0"},
        {"dash_array": "-4 3"},
        {"fill_opacity": 5, "opacity": -1},
        {"weight": math.nan, "radius": math.inf, "fill_opacity": math.nan},
    ],
)
def test_any_style_sizes_are_drawn_within_the_picture(tmp_path, style):
    zone = {
        "type": "Polygon",
        "coordinates": [[[-60, -50], [70, -50], [70, 60], [-60, 60], [-60, -50]]],
    }
    feature = {"type": "Feature", "properties": {"name": "zone"}, "geometry": zone}
    (tmp_path / "zone.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [feature]})
    )
    story = _point_story(tmp_path, "bases", [(2.1, 13.5), (2.2, 13.6)])  # zone is a plain layer
    for kind in ("bases", "features"):
        config = next(lay.config for lay in story.layers if lay.config.kind == kind)
        story = _with_layer(story, kind, config=replace(config, style={**config.style, **style}))
    assert _write(story, tmp_path / "styled.png").shape == (630, 1200, 4)


def _measure() -> preview.Measure:
    figure = Figure(figsize=(12, 6.3), dpi=preview.DPI)
    return preview.Measure(FigureCanvasAgg(figure).get_renderer())


@pytest.mark.parametrize(
    "title", ["W" * 3000, ("Sahel " * 500)[:3000]], ids=["one-word", "with-spaces"]
)
def test_long_title_is_shortened_to_fit(tmp_path, title):
    """Shortened by a search for the cut, not one letter at a time (which took 90 s)."""
    story = _point_story(tmp_path, "events", [(2.1, 13.5), (8.0, 17.0)], title=title)
    measure = _measure()
    layout = preview._layout(story, measure)
    assert 1 <= len(layout.title) <= 3
    assert all(measure.width(line, "title") <= layout.head.w for line in layout.title)
    assert layout.title[-1].endswith("…")


def test_shortened_text_keeps_every_word_that_fits():
    measure, text, width = _measure(), "Foreign military sites in Niger and the events", 300
    short = measure.shorten(text, "legend", width)
    kept = short.removesuffix("…").split()
    assert short.endswith("…") and measure.width(short, "legend") <= width
    assert text.startswith(" ".join(kept))
    one_more = " ".join(text.split()[: len(kept) + 1]) + "…"
    assert measure.width(one_more, "legend") > width


def test_spread_groups_never_overlap():
    rng = random.Random(7)
    cities = [(rng.uniform(0, 700), rng.uniform(0, 630)) for _ in range(12)]
    points = [
        (x + rng.gauss(0, 20), y + rng.gauss(0, 20)) for x, y in rng.choices(cities, k=1500)
    ] + [(rng.uniform(0, 700), rng.uniform(0, 630)) for _ in range(500)]
    groups = preview._groups(points)
    assert sorted(i for g in groups for i in g.members) == list(range(len(points)))
    for a, b in itertools.combinations(groups, 2):
        assert not a.overlaps(b)


def test_twenty_thousand_events(tmp_path):
    """Spreading the dots of 20,000 events takes a grid, not a comparison of every pair."""
    story = _point_story(tmp_path, "events", [(2.1, 13.5), (8.0, 17.0)])
    rng = np.random.default_rng(3)
    lon = np.concatenate([rng.normal(2.1, 0.3, 10_000), rng.uniform(-2, 12, 10_000)])
    lat = np.concatenate([rng.normal(13.5, 0.3, 10_000), rng.uniform(8, 22, 10_000)])
    layer = story.layer("events")
    rows = layer.web.iloc[np.arange(20_000) % len(layer.web)].reset_index(drop=True)
    many = rows.assign(id=[f"e{i}" for i in range(20_000)]).set_geometry(
        gpd.points_from_xy(lon, lat, crs=rows.crs)
    )
    many_story = _with_layer(story, "events", web=many)
    pixels = _write(many_story, tmp_path / "many.png")
    (events,) = story_scenes(many_story)
    colour = to_rgb(events.categories.symbols["agreement"].fill)
    assert _count(pixels, colour, 8) > 1000


def test_preview_never_swallows_ctrl_c():
    """No handler in preview.py that could catch KeyboardInterrupt."""
    tree = ast.parse(Path(preview.__file__).read_text())
    handlers = [node for node in ast.walk(tree) if isinstance(node, ast.ExceptHandler)]
    assert all(handler.type is not None for handler in handlers)  # no bare except
    caught = {getattr(n, "id", None) for h in handlers if h.type for n in ast.walk(h.type)}
    assert not caught & {"BaseException", "KeyboardInterrupt"}


# --- sites by operator, country-wide events as a badge (issues 8 and 10) -----------------------


def _marks_of(plan: preview.Plan, layer: str) -> preview.Marks:
    return next(m for m in plan.marks if m.scene.name == layer)


def _near(pixels: np.ndarray, xy, colour: str, reach: int = 8) -> int:
    """Pixels of ``colour`` within ``reach`` pixels of ``xy`` (a marker's centre)."""
    x, y = (round(float(v)) for v in xy)
    return _count(pixels[y - reach : y + reach + 1, x - reach : x + reach + 1], to_rgb(colour), 6)


def test_sites_are_drawn_in_their_operators_colour_as_of_the_data_date(story, png):
    """As the web page at the timeline's end (map.toml's data_as_of): Air Base 201, whose US
    presence ended in 2024, is a hollow diamond in the US colour; Air Base 101, where Italy and
    Russia both are, is filled in the layer's neutral colour."""
    plan = preview.plan(story, story_scenes(story))
    sites = _marks_of(plan, "bases")
    ids = sites.scene.frame["id"].tolist()
    at = {ids[r]: i for i, r in enumerate(sites.rows)}
    operators = dict(story.layer("bases").config.operators)
    pixels = _pixels(png)
    us = operators["United States"]
    assert _near(pixels, sites.xy[at["ab201"]], us) > 15
    assert sites.symbols[at["ab201"]].fill == us and sites.hollow[at["ab201"]]
    x, y = (round(float(v)) for v in sites.xy[at["ab201"]])
    assert (pixels[y, x, :3] == 255).all()  # hollow: white inside
    assert not sites.hollow[at["ab101"]]
    assert sites.symbols[at["ab101"]].fill == sites.scene.symbol.fill
    france = operators["France"]
    assert sites.symbols[at["madama"]].fill == france
    assert _near(pixels, sites.xy[at["madama"]], france) > 15
    # the key explains the colours, and the hollow diamond as of the data's date
    labels = [row.text for row in plan.legend.rows]
    assert "France" in labels and "Presence ended (by 29 January 2026)" in labels


def test_key_sites_are_labelled_by_the_place_labels_rule(story):
    plan = preview.plan(story, story_scenes(story))
    sites = [p for p in plan.labels if p.label.role == "site"]
    assert {"Dirkou airfield", "Madama (old fort)", "Diffa"} <= {p.text for p in sites}
    texts = [p.label.text for p in plan.labels]
    assert texts.count("Arlit") == 1  # a site named after its town: the name once


def test_country_wide_events_are_a_badge_at_the_countrys_name_not_points(story, png):
    """The three events placed only to Niger are not dots at Niger's reference point
    (16°N 8°E): a "Niger · 3" badge goes by the country's name, as on the web page."""
    scenes = story_scenes(story)
    plan = preview.plan(story, scenes)
    events = _marks_of(plan, "events")
    areas = statuses.area_values(events.scene)
    assert areas.count("Niger") == 3 and set(areas) == {None, "Niger"}
    assert all(areas[r] is None for r in events.rows)
    frame = plan.layout.frame
    rx, ry = frame.to_px(8.0, 16.0)
    assert not any(math.hypot(x - rx, y - ry) < 3 for x, y in events.xy)
    (badge,) = [p for p in plan.labels if p.style == "badge"]
    assert badge.text == "Niger \u00b7 3"
    niger = next(p for p in plan.labels if p.label.text == "Niger")
    assert math.dist((badge.x, badge.y), (niger.x, niger.y)) < 80
    _assert_apart(plan.labels, frame.box)
    box = badge.box  # drawn: the badge's dark background is there
    pixels = _pixels(png)[round(box.y) : round(box.y + box.h), round(box.x) : round(box.x + box.w)]
    assert _count(pixels, to_rgb(preview.BADGE), 6) > 0.3 * box.w * box.h
