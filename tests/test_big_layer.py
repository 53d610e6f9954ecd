"""A large clustered point layer: packed in the page document (and only then), unpacked to the
same columns the small path writes; its page stays one reproducible, offline file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter

from geo import assets, contract
from geo.build import build, read_story
from geo.shapes import Arcs

HOSTILE = "<img src=x onerror=alert(1)> ${alert(1)} {{ 7*7 }}"
DATA = re.compile(r'<script type="application/json" id="gs-data">(.*?)</script>', re.DOTALL)
CATEGORIES = {"agreement": "#0072b2", "protest": "#009e73", "security": "#d55e00"}


def write_story(folder: Path, n: int, seed: int = 7) -> Path:
    """``n`` seeded events over Niger: a few share one place, one has a hostile title."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lon = np.round(rng.uniform(0.5, 15.5, n), 5)
    lat = np.round(rng.uniform(12.0, 23.0, n), 5)
    lon[:5], lat[:5] = 2.1111, 13.5111  # five events at one place: a pile at every zoom
    days = rng.integers(0, 3650, n)
    features = []
    for i in range(n):
        date = str(np.datetime64("2014-01-01") + np.timedelta64(int(days[i]), "D"))
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [float(lon[i]), float(lat[i])]},
                "properties": {
                    "id": f"ev-{i:05d}",
                    "date": date,
                    "date_precision": "day",
                    "title": HOSTILE if i == 1 else f"Event {i}",
                    "description": f"Synthetic event {i}. {HOSTILE if i == 2 else ''}",
                    "category": list(CATEGORIES)[i % 3],
                    "place": "Niamey" if i < 5 else f"Place {i % 40}",
                    "location_precision": "city",
                    "source_name": "Example source",
                    "source_url": f"https://example.org/events/{i}",
                },
            }
        )
    (folder / "events.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    colours = "\n".join(f'"{k}" = "{v}"' for k, v in CATEGORIES.items())
    (folder / "map.toml").write_text(
        f'name = "big"\ntitle = "Many events"\n\n[layers.events]\nkind = "events"\n'
        f'title = "Events"\n\n[layers.events.categories]\n{colours}\n',
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def big_story(tmp_path_factory) -> Path:
    return write_story(tmp_path_factory.mktemp("big") / "story", contract.LARGE_LAYER + 500)


@pytest.fixture(scope="module")
def big_build(big_story, tmp_path_factory):
    return build(big_story, tmp_path_factory.mktemp("big-out") / "dist")


def page_document(out: Path) -> dict:
    return json.loads(DATA.search((out / "index.html").read_text(encoding="utf-8"))[1])


def test_a_large_layer_is_packed_and_follows_the_contract(big_build):
    doc = page_document(big_build.out)
    TypeAdapter(contract.PageDoc).validate_python(doc, strict=True)
    layer = doc["layers"][0]
    assert layer["count"] == contract.LARGE_LAYER + 500
    assert layer["packed"]["threshold"] == contract.LARGE_LAYER
    assert layer["columns"] == {} and "lon" not in layer and layer["start"] is None
    encodings = {k: c["encoding"] for k, c in layer["packed"]["columns"].items()}
    assert encodings["category"] == "dict" and encodings["id"] == "json"


def test_packed_columns_round_trip(big_story, big_build):
    """Unpacked, a packed layer gives what the small path writes (lon and lat on the grid)."""
    story = read_story(big_story)
    scene = next(s for s in story.scenes if s.kind == "events")
    plain = contract.layer_document(scene, Arcs(1e-5), large=10**9)
    packed = page_document(big_build.out)["layers"][0]
    assert "packed" not in plain
    got = contract.unpack(packed["packed"], packed["count"])
    assert got["columns"] == plain["columns"]
    assert got["start"] == plain["start"] and got["end"] == plain["end"]
    for key in ("lon", "lat"):
        assert np.allclose(got[key], plain[key], atol=contract.PACKED_GRID / 2 + 1e-9)
    assert {k: v for k, v in packed.items() if k != "packed"} == {
        **{k: v for k, v in plain.items() if k not in ("lon", "lat")},
        "columns": {},
        "start": None,
        "end": None,
    }


def test_packing_each_kind_of_column():
    import pandas as pd

    n = 40
    columns = {
        "text": pd.Series([f"t{i}" for i in range(n)]),  # all distinct: JSON
        "few": pd.Series(["a", None, "b", "a"] * 10),  # dictionary, with a null
        "flags": pd.Series([True, False] * 20),
        "numbers": pd.Series([1.5, float("nan")] * 20),
        "lists": pd.Series([[{"k": i}] for i in range(n)]),
        "empty": pd.Series([None] * n, dtype=object),
    }
    for name, series in columns.items():
        packed = contract.pack_column(series)
        assert contract.unpack_column(packed, n) == contract._column(series), name
    assert contract.pack_column(columns["few"])["encoding"] == "dict"
    assert contract.pack_column(columns["text"])["encoding"] == "json"
    days = [None, 0, 19000, -5, None]
    assert contract.unpack_column(contract.pack_ints(days), 5) == days
    digits = [3, 1, 4, 1, 5]
    assert contract.unpack_column(contract.pack_ints(digits, delta=True), 5) == digits


def test_threshold_and_scripts(big_build):
    html = (big_build.out / "index.html").read_text(encoding="utf-8")
    assert "Supercluster" in html and "DecompressionStream" in html
    small = "".join(assets.scripts())
    assert "Supercluster" not in small and "drawBig" not in small and "<big>" not in small
    big = "".join(assets.scripts(large=True))
    assert "drawBig" in big and "binned" in big


def test_small_layers_are_not_packed(tmp_path):
    out = build(write_story(tmp_path / "s", contract.LARGE_LAYER), tmp_path / "dist").out
    layer = page_document(out)["layers"][0]
    assert "packed" not in layer and len(layer["lon"]) == contract.LARGE_LAYER
    assert "Supercluster" not in (out / "index.html").read_text(encoding="utf-8")


def test_large_pages_are_byte_identical(big_story, big_build, tmp_path):
    again = build(big_story, tmp_path / "dist")
    assert (again.out / "index.html").read_bytes() == (big_build.out / "index.html").read_bytes()


def test_the_hostile_text_is_packed_as_text(big_build):
    html = (big_build.out / "index.html").read_text(encoding="utf-8")
    assert "<img src=x" not in html.split('id="gs-data"')[1].split("</script>")[0]
    assert "onerror=alert(1)" not in re.sub(r"&lt;img src=x onerror=alert\(1\)&gt;", "", html)
