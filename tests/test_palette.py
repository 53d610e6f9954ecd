"""The default story's event colours stay apart for colour-blind readers: every pair of
categories, and each category against the site diamonds and the clusters, is at least
``MIN_DISTANCE`` apart in CAM02-UCS, in normal vision and under full deuteranopia and
protanopia (colorspacious' Machado et al. simulation at severity 100).

The sites' operator colours (map.toml's [layers.bases.operators]) stay ``MIN_DISTANCE`` apart
from each other, from the near-black of a site with several operators and from the clusters,
and ``OPERATOR_EVENT_DISTANCE`` (as much) from every event colour. Eight event colours and three
operator colours fill most of what a deuteranope or protanope tells apart: both palettes were
moved together (a search of the sRGB cube in steps of 8, each colour kept near its hue and
lightness, the operators dark enough to read on the land, CAM02-UCS J' < 72)."""

from __future__ import annotations

import itertools
import re

import pytest

from geo.kinds import tomllib  # tomllib, or tomli before Python 3.11
from tests.conftest import DEFAULT_STORY, ROOT

colorspacious = pytest.importorskip("colorspacious", reason="pip install colorspacious")

# The issue measured about 18 between pairs that readers confused: stay clear of that.
MIN_DISTANCE = 20.0
OPERATOR_EVENT_DISTANCE = 20.0
VISION = {
    "normal": None,
    "deuteranopia": {"name": "sRGB1+CVD", "cvd_type": "deuteranomaly", "severity": 100},
    "protanopia": {"name": "sRGB1+CVD", "cvd_type": "protanomaly", "severity": 100},
}


def _categories() -> dict[str, str]:
    config = tomllib.loads((DEFAULT_STORY / "map.toml").read_text(encoding="utf-8"))
    return dict(config["layers"]["events"]["categories"])


def _operators() -> dict[str, str]:
    """Operator colours, each once (operators may share one: 'Italy' and 'Germany')."""
    config = tomllib.loads((DEFAULT_STORY / "map.toml").read_text(encoding="utf-8"))
    colours = config["layers"]["bases"]["operators"]
    return {c: " / ".join(k for k, v in colours.items() if v == c) for c in colours.values()}


def _site_colour() -> str:
    kinds = tomllib.loads((ROOT / "geo/kinds.toml").read_text(encoding="utf-8"))
    config = tomllib.loads((DEFAULT_STORY / "map.toml").read_text(encoding="utf-8"))
    style = {**kinds["bases"]["style"], **config["layers"]["bases"].get("style", {})}
    return style.get("fill_color") or style["color"]


def _cluster_colour() -> str:
    css = (ROOT / "geo/templates/story.css").read_text(encoding="utf-8")
    return re.search(r"\.marker-cluster div \{[^}]*background: (#[0-9a-fA-F]{6})", css)[1]


def _seen(colour: str, vision: str) -> list[float]:
    rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    space = VISION[vision]
    if space is None:
        return rgb
    seen = colorspacious.cspace_convert(rgb, space, "sRGB1")
    return [min(max(float(v), 0.0), 1.0) for v in seen]


def _distance(a: str, b: str, vision: str) -> float:
    return float(
        colorspacious.deltaE(
            _seen(a, vision), _seen(b, vision), input_space="sRGB1", uniform_space="CAM02-UCS"
        )
    )


def _pairs() -> list[tuple[str, str, str, str]]:
    colours = _categories()
    out = [(a, colours[a], b, colours[b]) for a, b in itertools.combinations(colours, 2)]
    for symbol, colour in (("site", _site_colour()), ("cluster", _cluster_colour())):
        out += [(name, value, symbol, colour) for name, value in colours.items()]
    return out


def test_the_story_colours_every_category_apart_from_the_site_and_cluster_symbols():
    colours = _categories()
    assert len(colours) == 8
    assert _site_colour().lower() == "#1f1f1f" and _cluster_colour().lower() == "#333333"


@pytest.mark.parametrize("vision", list(VISION))
def test_event_colours_stay_apart_for_colour_blind_readers(vision):
    close = [
        f"{a} {ca} / {b} {cb}: {d:.1f}"
        for a, ca, b, cb in _pairs()
        if (d := _distance(ca, cb, vision)) < MIN_DISTANCE
    ]
    assert close == [], f"closer than {MIN_DISTANCE} under {vision}"


def test_the_measure_sees_the_problems_it_is_for():
    """Black operations against black sites, and Okabe–Ito's vermillion against a brown
    under protanopia, were too close: the test would have said so."""
    assert _distance("#000000", "#1f1f1f", "normal") < MIN_DISTANCE
    assert _distance("#d55e00", "#8c6d31", "protanopia") < MIN_DISTANCE
    assert _distance("#0072b2", "#cc79a7", "protanopia") < MIN_DISTANCE


def _operator_pairs() -> tuple[list, list]:
    """(pairs that must stay MIN_DISTANCE apart, pairs that must stay OPERATOR_EVENT_DISTANCE)."""
    ops = [(name, colour) for colour, name in _operators().items()]
    near = [(a, ca, b, cb) for (a, ca), (b, cb) in itertools.combinations(ops, 2)]
    for symbol, colour in (("several operators", _site_colour()), ("cluster", _cluster_colour())):
        near += [(name, value, symbol, colour) for name, value in ops]
    events = [(a, ca, b, cb) for a, ca in ops for b, cb in _categories().items()]
    return near, events


def test_the_story_colours_its_sites_by_operator():
    names = " / ".join(_operators().values())
    for operator in ("United States", "France", "Russia"):
        assert operator in names
    assert len(_operators()) == 3
    # dark enough to read on the land: CAM02-UCS lightness J' under 72
    for colour, name in _operators().items():
        rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        assert colorspacious.cspace_convert(rgb, "sRGB1", "CAM02-UCS")[0] < 72, name


@pytest.mark.parametrize("vision", list(VISION))
def test_operator_colours_stay_apart_for_colour_blind_readers(vision):
    near, events = _operator_pairs()
    close = [
        f"{a} {ca} / {b} {cb}: {d:.1f}"
        for limit, pairs in ((MIN_DISTANCE, near), (OPERATOR_EVENT_DISTANCE, events))
        for a, ca, b, cb in pairs
        if (d := _distance(ca, cb, vision)) < limit
    ]
    assert close == [], f"operator colours too close under {vision}"
