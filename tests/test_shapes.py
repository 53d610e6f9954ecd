"""Polygons and lines reach the page small (geo/shapes.py) and come out where they were: on a
grid finer than half a pixel, each border written once however many shapes share it, drawn so
by story.js."""

from __future__ import annotations

import base64
import itertools
import json
import re

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from geo.shapes import Arcs, quantum, varints
from tests.conftest import DEFAULT_STORY


def numbers(text: str) -> list[int]:
    """Zigzag LEB128 varints back, as story.js reads them."""
    values, shift, current = [], 0, 0
    for byte in base64.b64decode(text):
        current |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            values.append((current >> 1) ^ -(current & 1))
            current, shift = 0, 0
    return values


def arc_points(arcs: dict) -> list[np.ndarray]:
    """The page's arcs as integer grid points."""
    steps = np.cumsum(np.array(numbers(arcs["coords"]), dtype=np.int64).reshape(-1, 2), axis=0)
    ends = np.cumsum(numbers(arcs["lengths"]))
    return np.split(steps, ends[:-1])


def encode(geometries, grid: float) -> tuple[dict, dict] | None:
    """One layer alone as the page writes it: its arcs, its shapes (None: left as GeoJSON)."""
    arcs = Arcs(grid)
    shapes = arcs.add(geometries)
    return None if shapes is None else (arcs.finish(), shapes)


def decode(arcs: dict, shapes: dict) -> list:
    """A layer's geometries back from the page's arcs, as story.js reads them."""
    every, refs = arc_points(arcs), numbers(shapes["refs"])
    offsets = [np.array(o, dtype=np.int64) for o in shapes["offsets"]]
    chains, starts = [], [0]
    for a, b in zip(offsets[0][:-1], offsets[0][1:], strict=True):
        parts = [every[r] if r >= 0 else every[~r][::-1] for r in refs[a:b]]
        chains.append(np.concatenate([parts[0]] + [p[1:] for p in parts[1:]]))
        starts.append(starts[-1] + len(chains[-1]))
    kind = getattr(shapely.GeometryType, re.sub(r"(?<!^)(?=[A-Z])", "", shapes["type"]).upper())
    vertices = np.concatenate(chains) * arcs["quantum"]
    return list(shapely.from_ragged_array(kind, vertices, (np.array(starts), *offsets[1:])))


def test_varints_take_one_byte_for_small_steps_and_keep_large_ones():
    values = np.array([0, 1, -1, 63, -64, 64, 300, -300, 2**40, -(2**40)], dtype=np.int64)
    assert len(varints(np.array([63, -64]))) == 2  # small steps, either way: a byte each
    assert numbers(base64.b64encode(varints(values)).decode()) == values.tolist()


def test_grid_is_finer_than_half_a_pixel_at_the_deepest_zoom():
    for zoom in range(0, 19):
        half_pixel = 360 / (256 * 2**zoom) / 2
        assert quantum(zoom) <= half_pixel or quantum(zoom) == 1e-5
    assert quantum(9) == 1e-3  # the default story's maximum zoom: about 110 m


def same_shape(original, decoded, grid: float) -> bool:
    """The same vertices in the same order, wherever a ring starts (a polygon may come back as
    a multipolygon)."""
    a, b = (MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in (original, decoded))
    return shapely.normalize(a).equals_exact(shapely.normalize(b), grid / 2 * 1.5)


def test_polygons_with_holes_multipolygons_and_lines_come_back_on_the_grid():
    shapes = [
        Polygon([(0, 0), (4, 0), (4, 4), (0, 0)], [[(1, 0.5), (3, 0.5), (3, 2.5), (1, 0.5)]]),
        MultiPolygon([Polygon([(5, 5), (6, 5), (6, 6)]), Polygon([(-7, -7), (-6, -7), (-6, -6)])]),
    ]
    back = decode(*encode(shapes, 1e-4))
    assert [g.geom_type for g in back] == ["MultiPolygon", "MultiPolygon"]
    for original, decoded in zip(shapes, back, strict=True):
        assert same_shape(original, decoded, 1e-4)
        assert len(shapely.get_coordinates(decoded)) == len(shapely.get_coordinates(original))
    lines = decode(*encode([LineString([(0.123456, 13.5), (2.1, 13.51)])], 1e-4))
    assert np.allclose(shapely.get_coordinates(lines[0]), [[0.1235, 13.5], [2.1, 13.51]])


def test_a_border_two_polygons_share_is_written_once_and_both_come_back():
    west = Polygon([(0, 0), (1, 0), (1, 0.5), (1.2, 0.8), (1, 1), (0, 1)])
    east = Polygon([(1, 0), (2, 0), (2, 1), (1, 1), (1.2, 0.8), (1, 0.5)])  # the other way
    lake = Polygon([(5, 5), (6, 5), (6, 6)])
    arcs = Arcs(1e-3)
    first, second = arcs.add([west, lake]), arcs.add([east, lake.reverse()])
    page = arcs.finish()
    # the border once (4 vertices), each side's rest (4 and 4), the lake once (4); apart: 22
    assert sum(len(a) for a in arc_points(page)) == 16
    for layer, originals in ((first, [west, lake]), (second, [east, lake.reverse()])):
        for original, decoded in zip(originals, decode(page, layer), strict=True):
            assert same_shape(original, decoded, 1e-3)


def test_points_mixed_with_polygons_stay_geojson():
    assert encode([Point(0, 0), Polygon([(0, 0), (1, 0), (1, 1)])], 1e-3) is None
    assert encode([Polygon()], 1e-3) is None


def page_document(html: str) -> dict:
    return json.loads(re.search(r'id="gs-data">(.*?)</script>', html, re.S).group(1))


def test_the_default_page_writes_each_border_once(default_build):
    """No stretch of border is on the page twice: not Niger's with Mali, not Niger's outline
    under its regions, not Mali's with Mauritania (countries and the land beyond)."""
    doc = page_document((default_build.out / "index.html").read_text(encoding="utf-8"))
    segments = [  # each arc's own (a line may double back on itself)
        {tuple(sorted((tuple(p), tuple(q)))) for p, q in itertools.pairwise(arc)}
        for arc in arc_points(doc["arcs"])
    ]
    assert sum(map(len, segments)) == len(set().union(*segments))
    layers = [d for d in doc["layers"] if "shapes" in d]
    drawn = sum(
        len(shapely.get_coordinates(g)) for d in layers for g in decode(doc["arcs"], d["shapes"])
    )
    assert sum(len(a) for a in arc_points(doc["arcs"])) < 0.8 * drawn


def test_shared_borders_stay_shared():
    """Niger and each neighbour meet along the same vertices on the page as in the layer."""
    countries = gpd.read_file(DEFAULT_STORY / "countries.geojson")
    back = decode(*encode(countries.geometry.values, quantum(9)))
    niger = countries.index[countries["iso_a3"] == "NER"][0]

    grid = quantum(9)
    for other in countries.index.drop(niger):
        shared = grid_points(countries.geometry[niger], grid) & grid_points(
            countries.geometry[other], grid
        )
        if shared:  # every vertex the two shared is a vertex of both on the page
            assert shared <= grid_points(back[niger], grid), countries["name"][other]
            assert shared <= grid_points(back[other], grid), countries["name"][other]


def grid_points(geometry, grid: float) -> set[tuple[int, int]]:
    return set(map(tuple, np.rint(shapely.get_coordinates(geometry) / grid).astype(int).tolist()))


@pytest.mark.browser
def test_the_page_draws_the_decoded_borders(browser, default_build):
    """story.js turns the varints into the same vertices as the Python decoder."""
    html = (default_build.out / "index.html").read_text(encoding="utf-8")
    doc = page_document(html)
    layer = next(d for d in doc["layers"] if d["name"] == "countries")
    expected = decode(doc["arcs"], layer["shapes"])
    page = browser.new_page()
    page.goto((default_build.out / "index.html").as_uri())
    page.wait_for_function("() => window.GeoStory && GeoStory.state.map")
    drawn = page.evaluate("""() => GeoStory.state.layers.countries.features.map((f) => {
      const out = [];
      const walk = (x) => Array.isArray(x) ? x.forEach(walk) : out.push([x.lng, x.lat]);
      f.eachLayer((part) => walk(part.getLatLngs()));
      return out;
    })""")
    page.close()
    assert len(drawn) == len(expected)
    grid = doc["arcs"]["quantum"]
    for page_vertices, geometry in zip(drawn, expected, strict=True):
        assert grid_points(shapely.MultiPoint(page_vertices), grid) == grid_points(geometry, grid)
