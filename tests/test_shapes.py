"""Polygons and lines reach the page small (geo/shapes.py) and come out where they were: on a
grid finer than half a pixel, with shared borders still shared, drawn so by story.js."""

from __future__ import annotations

import base64
import json
import re

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from geo.shapes import encode, quantum, varints
from tests.conftest import DEFAULT_STORY


def decode(shapes: dict) -> list:
    """The page's geometries back, as story.js reads them (zigzag LEB128, then sums)."""
    values, shift, current = [], 0, 0
    for byte in base64.b64decode(shapes["coords"]):
        current |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            values.append((current >> 1) ^ -(current & 1))
            current, shift = 0, 0
    ints = np.cumsum(np.array(values, dtype=np.int64).reshape(-1, 2), axis=0)
    kind = getattr(shapely.GeometryType, re.sub(r"(?<!^)(?=[A-Z])", "", shapes["type"]).upper())
    offsets = tuple(np.array(o, dtype=np.int64) for o in shapes["offsets"])
    return list(shapely.from_ragged_array(kind, ints * shapes["quantum"], offsets))


def test_varints_take_one_byte_for_small_steps_and_keep_large_ones():
    values = np.array([0, 1, -1, 63, -64, 64, 300, -300, 2**40, -(2**40)], dtype=np.int64)
    data = varints(values)
    assert len(varints(np.array([63, -64]))) == 2  # small steps, either way: a byte each
    line = decode(
        {
            "type": "LineString",
            "quantum": 1,
            "coords": base64.b64encode(data).decode(),
            "offsets": [[0, 5]],
        }
    )[0]
    steps = np.diff(shapely.get_coordinates(line), axis=0, prepend=[[0, 0]])
    assert steps.ravel().tolist() == values.tolist()


def test_grid_is_finer_than_half_a_pixel_at_the_deepest_zoom():
    for zoom in range(0, 19):
        half_pixel = 360 / (256 * 2**zoom) / 2
        assert quantum(zoom) <= half_pixel or quantum(zoom) == 1e-5
    assert quantum(9) == 1e-3  # the default story's maximum zoom: about 110 m


def test_polygons_with_holes_multipolygons_and_lines_come_back_on_the_grid():
    shapes = [
        Polygon([(0, 0), (4, 0), (4, 4), (0, 0)], [[(1, 0.5), (3, 0.5), (3, 2.5), (1, 0.5)]]),
        MultiPolygon([Polygon([(5, 5), (6, 5), (6, 6)]), Polygon([(-7, -7), (-6, -7), (-6, -6)])]),
    ]
    back = decode(encode(shapes, 1e-4))
    assert [g.geom_type for g in back] == ["MultiPolygon", "MultiPolygon"]
    for original, decoded in zip(shapes, back, strict=True):
        assert original.hausdorff_distance(decoded) <= 1e-4 / 2 * 1.5
        assert len(shapely.get_coordinates(decoded)) == len(shapely.get_coordinates(original))
    lines = decode(encode([LineString([(0.123456, 13.5), (2.1, 13.51)])], 1e-4))
    assert np.allclose(shapely.get_coordinates(lines[0]), [[0.1235, 13.5], [2.1, 13.51]])


def test_points_mixed_with_polygons_stay_geojson():
    assert encode([Point(0, 0), Polygon([(0, 0), (1, 0), (1, 1)])], 1e-3) is None
    assert encode([Polygon()], 1e-3) is None


def test_shared_borders_stay_shared():
    """Niger and each neighbour meet along the same vertices on the page as in the layer."""
    countries = gpd.read_file(DEFAULT_STORY / "countries.geojson")
    back = decode(encode(countries.geometry.values, quantum(9)))
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
    doc = json.loads(re.search(r'id="gs-data">(.*?)</script>', html, re.S).group(1))
    layer = next(d for d in doc["layers"] if d["name"] == "countries")
    expected = decode(layer["shapes"])
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
    grid = layer["shapes"]["quantum"]
    for page_vertices, geometry in zip(drawn, decode(layer["shapes"]), strict=True):
        assert grid_points(shapely.MultiPoint(page_vertices), grid) == grid_points(geometry, grid)
