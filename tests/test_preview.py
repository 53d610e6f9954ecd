"""The static preview: a 1200x630 PNG of the story, drawn without a browser, same bytes twice."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from geo import preview
from geo.build import check
from geo.render import SEA
from geo.styles import PALETTE
from tests.conftest import DEFAULT_STORY, FIXTURES


@pytest.fixture(scope="module")
def story():
    return check(DEFAULT_STORY)


@pytest.fixture(scope="module")
def png(story, tmp_path_factory):
    path = tmp_path_factory.mktemp("preview") / "preview.png"
    preview.write_preview(story, path)
    return path


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
    events = story.layer_of_kind("events").config
    for category in ("agreement", "deployment", "withdrawal", "diplomacy"):  # many, in view
        assert _count(on_map, to_rgb(events.categories[category]), 8) > 100, category


def test_same_story_same_bytes(story, png, tmp_path):
    again = tmp_path / "again.png"
    preview.write_preview(story, again)
    assert again.read_bytes() == png.read_bytes()


def test_plain_folder_without_map_toml(tmp_path):
    story = check(FIXTURES / "good" / "plain")
    out = tmp_path / "plain.png"
    preview.write_preview(story, out)
    pixels = _pixels(out)
    assert pixels.shape == (630, 1200, 4)
    # The first plain layer (areas) is filled with the web map's first automatic colour.
    areas = story.layers[0]
    assert areas.name == "areas"
    opacity = areas.config.style["fill_opacity"]
    fill = opacity * np.array(to_rgb(PALETTE[0])) + (1 - opacity) * np.array(to_rgb(SEA))
    assert _count(pixels, fill) > 2000


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
    out = tmp_path / "wide.png"
    preview.write_preview(check(tmp_path), out)
    pixels = _pixels(out)
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
