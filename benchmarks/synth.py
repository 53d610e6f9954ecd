"""Seeded synthetic stories: N dated points over Niger, as a plain layer and as an events layer.

The same seed gives the same bytes, so two runs (or two machines) measure the same input. The
values are varied enough (random places, words, dates) that gzip cannot shrink them unrealistically.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEED = 20240916  # the day the last US troops left Niger
WEST, SOUTH, EAST, NORTH = 0.2, 11.7, 15.9, 23.5  # a rough bounding box of Niger
FIRST_DAY, LAST_DAY = np.datetime64("2012-01-01"), np.datetime64("2025-12-31")
KINDS = ("features", "events")  # geo/kinds.toml: the plain kind and the events kind
LAYER = "points"
CHUNK = 50_000  # features formatted at a time, so 1M points never sit in memory as dicts

CATEGORIES = {
    "agreement": "#0072b2",
    "withdrawal": "#e69f00",
    "protest": "#009e73",
    "security": "#d55e00",
    "diplomacy": "#cc79a7",
    "aid": "#56b4e9",
}
PLACES = [
    "Niamey",
    "Agadez",
    "Zinder",
    "Maradi",
    "Tahoua",
    "Dosso",
    "Tillabéri",
    "Diffa",
    "Arlit",
    "Birni-N'Konni",
    "Tessaoua",
    "Dogondoutchi",
    "Ayorou",
    "Ouallam",
    "Filingué",
    "Tanout",
    "Mainé-Soroa",
    "Bilma",
    "Dirkou",
    "Madama",
]
VERBS = [
    "Meeting",
    "Patrol",
    "Statement",
    "Visit",
    "Handover",
    "Inspection",
    "Convoy",
    "Rally",
    "Delivery",
    "Briefing",
]
NOUNS = [
    "officials",
    "troops",
    "delegation",
    "envoys",
    "engineers",
    "observers",
    "medics",
    "ministers",
]
SOURCES = (
    ("Reuters", "https://www.reuters.com/world/africa/"),
    ("Associated Press", "https://apnews.com/hub/niger"),
    ("Agence France-Presse", "https://www.afp.com/en/news-hub"),
    ("US Department of Defense", "https://www.defense.gov/News/Releases/"),
    ("Le Sahel", "https://www.lesahel.org/"),
)
PRECISIONS = ("site", "city", "region", "country")
COUNTRY = "Niger"  # what a country-level event's place is: the whole country, not a town


@dataclass(frozen=True)
class StorySpec:
    """One synthetic story: ``n`` points of one kind, and where its folder is written."""

    n: int
    kind: str
    folder: Path

    @property
    def geojson(self) -> Path:
        return self.folder / f"{LAYER}.geojson"

    @property
    def workload(self) -> str:
        return f"{self.kind}-{self.n}"


def spec(n: int, kind: str, root: Path) -> StorySpec:
    return StorySpec(n, kind, root / f"{kind}-{n}")


def write_story(story: StorySpec) -> StorySpec:
    """Write the story's GeoJSON and map.toml; skipped when a finished copy is already there
    (the marker file is written last, so an interrupted write is redone)."""
    done = story.folder / ".complete"
    if done.exists() and done.read_text() == _fingerprint(story):
        return story
    story.folder.mkdir(parents=True, exist_ok=True)
    with story.geojson.open("w", encoding="utf-8") as out:
        out.write('{"type":"FeatureCollection","features":[\n')
        for i, text in enumerate(_feature_chunks(story.n, story.kind)):
            out.write((",\n" if i else "") + text)
        out.write("\n]}\n")
    (story.folder / "map.toml").write_text(map_toml(story), encoding="utf-8")
    done.write_text(_fingerprint(story))
    return story


def _fingerprint(story: StorySpec) -> str:
    """What the story was made from, this generator's code included: a story written by an
    older generator is written again (one from before 7cd076f, cached under the same name,
    was measured until its 10% of country-level events made badges named after towns)."""
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return f"seed={SEED} n={story.n} kind={story.kind} code={code}"


def map_toml(story: StorySpec) -> str:
    """The story's map.toml: a title, and the one layer with its kind and category colours."""
    lines = [
        f'name = "synthetic-{story.kind}-{story.n}"',
        f'title = "Synthetic story: {story.n:,} {story.kind} over Niger"',
        'language = "en"',
        "",
        f"[layers.{LAYER}]",
        f'kind = "{story.kind}"',
        f'title = "Synthetic {story.kind}"',
        'category_field = "category"' if story.kind == "features" else "",
        "",
        f"[layers.{LAYER}.categories]",
        *(f'"{name}" = "{colour}"' for name, colour in CATEGORIES.items()),
    ]
    return "\n".join(line for line in lines) + "\n"


def _feature_chunks(n: int, kind: str) -> Iterator[str]:
    """The features as GeoJSON text, CHUNK at a time, from one seeded generator."""
    rng = np.random.default_rng(SEED)
    for start in range(0, n, CHUNK):
        yield _format_chunk(rng, start, min(CHUNK, n - start), kind)


def _format_chunk(rng: np.random.Generator, start: int, size: int, kind: str) -> str:
    cols = _columns(rng, size)
    features = []
    for j in range(size):
        props = _properties(start + j, kind, {k: v[j] for k, v in cols.items()})
        geometry = {"type": "Point", "coordinates": [cols["lon"][j], cols["lat"][j]]}
        features.append(
            json.dumps(
                {"type": "Feature", "properties": props, "geometry": geometry},
                ensure_ascii=False,
                separators=(",", ":"),
            )
        )
    return ",\n".join(features)


def _columns(rng: np.random.Generator, size: int) -> dict[str, list]:
    """Random values for ``size`` features, drawn column by column (fast, and seeded)."""
    days = int((LAST_DAY - FIRST_DAY).astype(int)) + 1
    dates = FIRST_DAY + rng.integers(0, days, size).astype("timedelta64[D]")
    return {
        "lon": np.round(rng.uniform(WEST, EAST, size), 5).tolist(),
        "lat": np.round(rng.uniform(SOUTH, NORTH, size), 5).tolist(),
        "date": dates.astype(str).tolist(),
        "category": rng.choice(list(CATEGORIES), size).tolist(),
        "value": np.round(rng.gamma(2.0, 150.0, size), 1).tolist(),
        "source": rng.integers(0, len(SOURCES), size).tolist(),
        "place": rng.choice(PLACES, size).tolist(),
        "verb": rng.choice(VERBS, size).tolist(),
        "noun": rng.choice(NOUNS, size).tolist(),
        # country-level events are few in conflict data (ACLED's geo_precision 3 is rare)
        "precision": rng.choice(PRECISIONS, size, p=[0.2, 0.55, 0.24, 0.01]).tolist(),
        "ref": rng.integers(0, 10**9, size).tolist(),
    }


def _properties(i: int, kind: str, row: dict) -> dict:
    """One feature's properties; an events feature also carries what kinds.toml requires."""
    source_name, source_root = SOURCES[row["source"]]
    props = {
        "id": f"{'ev' if kind == 'events' else 'pt'}-{i:07d}",
        "date": row["date"],
        "title": f"{row['verb']} of {row['noun']} in {row['place']}",
        "category": row["category"],
        "value": row["value"],
        "source_name": source_name,
        "source_url": f"{source_root}{row['ref']:09d}",
    }
    if kind == "events":
        props |= {
            "date_precision": "day",
            "description": f"{row['verb']} of {row['noun']} reported near {row['place']} "
            f"on {row['date']} (synthetic record {i}).",
            "place": COUNTRY if row["precision"] == "country" else row["place"],
            "location_precision": row["precision"],
        }
    return props
