"""Random small stories, hostile and careless: every one builds (exit 0) or is refused with a
message (exit 2); none ends in a traceback or "build failed", and ``--check`` agrees with the
build.

Each example writes a story to a temporary folder: a few layer files with odd names, features
with random properties (unicode, huge and non-finite numbers, nested values, reserved names) and
random geometries (empty, invalid, 3D, out of range, malformed), and sometimes a map.toml whose
values have wrong types or ranges. Set GEO_FUZZ_EXAMPLES to run more of them.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.cli import main
from geo.story import LAYER_KEYS, STYLE_KEYS, TOP_KEYS

EXAMPLES = int(os.environ.get("GEO_FUZZ_EXAMPLES", "35"))

# --- layer files and their features ---------------------------------------------------------

NAME_CHARS = st.characters(
    codec="utf-8", exclude_characters="/\0", exclude_categories=("Cs",), max_codepoint=0x2FFF
)
LAYER_NAMES = st.one_of(
    st.sampled_from(["events", "bases", "places", "countries", "roads", "Roads", "région"]),
    st.sampled_from(["my-layer", "2024.events", "-x", ".hidden", "a b", "layer_styles", "é"]),
    st.text(NAME_CHARS, min_size=1, max_size=8),
)
KEYS = st.one_of(
    st.sampled_from(["id", "name", "Name", "geometry", "fid", "OGC_FID", "", " ", "lon", "lat"]),
    st.sampled_from(["in_country", "category", "title", "date", "precision_km", "population"]),
    st.text(max_size=6),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), 10**30, 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["2024-03-16", "2024-02-30", "javascript:alert(1)", "https://example.org/"]),
    st.sampled_from(["\ud800", "a\udfff", "<script>alert(1)</script>", "{{ 7*7 }}", "\u202e"]),
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3)
)
LON = st.floats(min_value=-5, max_value=15)
LAT = st.floats(min_value=5, max_value=25)
POSITION = st.tuples(LON, LAT).map(list)
BAD_NUMBER = st.sampled_from([float("nan"), float("inf"), 1e300, 400.0, -91.0])


def _ring(x: float, y: float, d: float) -> list[list[float]]:
    return [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]


GEOMETRIES = st.one_of(
    POSITION.map(lambda p: {"type": "Point", "coordinates": p}),
    st.tuples(LON, LAT, st.floats(-100, 9000)).map(
        lambda p: {"type": "Point", "coordinates": list(p)}
    ),
    st.lists(POSITION, min_size=2, max_size=4).map(
        lambda ps: {"type": "LineString", "coordinates": ps}
    ),
    st.tuples(LON, LAT, st.floats(0.01, 3)).map(
        lambda t: {"type": "Polygon", "coordinates": [_ring(*t)]}
    ),
    st.lists(POSITION, min_size=1, max_size=3).map(
        lambda ps: {"type": "MultiPoint", "coordinates": ps}
    ),
    st.sampled_from(
        [
            {"type": "Point", "coordinates": []},
            {"type": "MultiPolygon", "coordinates": []},
            {"type": "LineString", "coordinates": [[1, 13]]},
            {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]},
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]},
            {"type": "Point", "coordinates": "2,13"},
            {"type": "Point", "coordinates": [2]},
            {"type": "Circle", "coordinates": [2, 13]},
            {"type": "GeometryCollection", "geometries": []},
            {"type": "Point", "coordinates": [13.5, 2.1, 1, 2]},
        ]
    ),
    BAD_NUMBER.map(lambda v: {"type": "Point", "coordinates": [v, 13]}),
)
IDS = st.one_of(st.none(), st.text(max_size=6), st.integers(), st.booleans(), VALUES)

EVENT = {
    "id": "coup",
    "date": "2023-07-26",
    "date_precision": "day",
    "title": "Coup",
    "description": "The guard detains the president.",
    "place": "Niamey",
    "location_precision": "city",
    "category": "coup",
    "source_name": "Reuters",
    "source_url": "https://www.reuters.com/",
}
BASE = {
    "id": "ab101",
    "site_id": "ab101",
    "site": "Air Base 101",
    "operator": "United States",
    "status": "ended",
    "status_date": "2024-07-07",
    "status_precision": "day",
    "precision_km": 2.5,
    "location_precision": "site",
    "country": "NER",
    "source_name": "DoD",
    "source_url": "https://www.defense.gov/",
}
PLACE = {"id": "niamey", "name": "Niamey", "rank": "national capital", "country": "NER"}
COUNTRY = {"id": "ner", "name": "Niger", "name_fr": "Niger", "iso_a3": "NER", "role": "focus"}
TEMPLATES = {"events": EVENT, "bases": BASE, "places": PLACE, "countries": COUNTRY}


@st.composite
def features(draw: st.DrawFn, kind: str) -> list[dict[str, Any]]:
    """One or two features: a valid record of the kind, sometimes spoiled, or random ones."""
    out = []
    for _ in range(draw(st.integers(1, 2))):
        template = TEMPLATES.get(kind, {})
        props = dict(template) if draw(st.booleans()) else {}
        props.update(draw(st.dictionaries(KEYS, VALUES, max_size=3)))
        if kind == "countries" and draw(st.booleans()):
            geometry = {"type": "Polygon", "coordinates": [_ring(0, 11, 15)]}
        elif kind in TEMPLATES and draw(st.booleans()):
            geometry = {"type": "Point", "coordinates": [2.1, 13.5]}
        else:
            geometry = draw(GEOMETRIES)
        feature = {"type": "Feature", "properties": props, "geometry": geometry}
        fid = draw(IDS)
        if fid is not None:
            feature["id"] = fid
        out.append(feature)
    return out


# --- map.toml --------------------------------------------------------------------------------

TOML_SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["#1a2b3c", "#zzzzzz", "4,3", "4 -3", "0 0", "en", "https://example.org/"]),
)
TOML_VALUES = st.recursive(
    TOML_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=2)
    ),
    max_leaves=6,
)


def toml_value(value: Any) -> str:
    """A value written as TOML (inline tables and arrays; strings as JSON-escaped basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


@st.composite
def map_toml(draw: st.DrawFn, layers: dict[str, str]) -> str | None:
    """None (no map.toml), or one naming each layer's kind with some random keys."""
    if draw(st.booleans()):
        return None
    lines = []
    for key in draw(st.lists(st.sampled_from([*TOP_KEYS, "colour"]), max_size=2, unique=True)):
        if key != "layers":
            lines.append(f"{key} = {toml_value(draw(TOML_VALUES))}")
    if draw(st.booleans()):
        lines.append(
            "order = " + toml_value(draw(st.lists(st.sampled_from([*layers, 3]), max_size=3)))
        )
    for name, kind in layers.items():
        lines.append(f"[layers.{json.dumps(name)}]")
        lines.append(f'kind = "{kind}"')
        lines.append(f"file = {json.dumps(name + '.geojson')}")
        for key in draw(st.lists(st.sampled_from([*LAYER_KEYS]), max_size=2, unique=True)):
            if key not in ("kind", "file", "style"):
                lines.append(f"{key} = {toml_value(draw(TOML_VALUES))}")
        style = draw(st.dictionaries(st.sampled_from([*STYLE_KEYS]), TOML_SCALARS, max_size=2))
        if style:
            lines.append(f"style = {toml_value(style)}")
    return "\n".join(lines) + "\n"


@st.composite
def stories(draw: st.DrawFn) -> tuple[dict[str, Any], str | None]:
    """Layer file name -> GeoJSON document, and the map.toml text (or None)."""
    names = draw(st.lists(LAYER_NAMES, min_size=1, max_size=3, unique=True))
    layer_kinds = {n: draw(st.sampled_from(["features", *sorted(TEMPLATES)])) for n in names}
    files = {}
    for name, kind in layer_kinds.items():
        doc: dict[str, Any] = {"type": "FeatureCollection", "features": draw(features(kind))}
        files[f"{name}.geojson"] = doc
    return files, draw(map_toml(layer_kinds))


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def write(folder: Path, files: dict[str, Any], toml: str | None) -> None:
    for name, doc in files.items():
        (folder / name).write_text(json.dumps(doc), encoding="utf-8")
    if toml is not None:
        (folder / "map.toml").write_text(toml, encoding="utf-8", errors="surrogatepass")


@settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=20),  # a hang, not a slow machine
    database=None,
    derandomize="GEO_FUZZ_EXAMPLES" not in os.environ,  # the same examples on every CI run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(stories())
def test_random_story_builds_or_is_refused_with_a_message(story):
    files, toml = story
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "story"
        folder.mkdir()
        write(folder, files, toml)
        checked, check_err = run([str(folder), "--check"])
        built, build_err = run([str(folder), "--out", str(Path(tmp) / "dist"), "-q"])
    for err in (check_err, build_err):
        assert "Traceback" not in err and "build failed" not in err, err
    assert checked == built, (check_err, build_err)
    assert built in (0, 2), build_err
    if built == 2:
        assert "error: " in build_err and "nothing was written" in build_err, build_err
