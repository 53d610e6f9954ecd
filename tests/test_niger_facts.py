"""Facts of the default Niger story, apart from the engine's tests.

The fact table (shared/data/facts.md) lists the sources read for every fact; layers/sources.csv is
its machine-readable copy, so these checks need nothing outside the repository. Standard library
only, and fast: no geometry is read beyond the JSON. The last section reads the built page's text
version and data (the session's default build).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with tomli, a dependency there
    import tomli as tomllib

LAYERS = Path(__file__).resolve().parent.parent / "layers"

TROOP_COLUMNS = [
    "id", "country", "operator", "date", "date_precision",
    "count", "count_text", "measure", "source_name", "source_url", "note",
]  # fmt: skip
DATE_FORMS = {"year": r"\d{4}", "month": r"\d{4}-\d{2}", "day": r"\d{4}-\d{2}-\d{2}"}
HTTP = re.compile(r"https?://\S+\Z")


def features(name: str) -> list[dict]:
    with (LAYERS / f"{name}.geojson").open(encoding="utf-8") as f:
        return [feature["properties"] for feature in json.load(f)["features"]]


def rows(name: str) -> list[dict]:
    with (LAYERS / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def sources() -> dict[str, set[str]]:
    by_fact: dict[str, set[str]] = defaultdict(set)
    for row in rows("sources.csv"):
        by_fact[row["fact_id"]].add(row["source_url"])
    return by_fact


@pytest.fixture(scope="module")
def troops() -> list[dict]:
    return rows("troops.csv")


def cited() -> list[dict]:
    """Every event and base presence: the features that carry one source each."""
    return features("events") + features("bases")


def texts() -> list[tuple[str, str]]:
    """(where, text) for every text a reader of the layers sees; links are not text."""
    found = []
    for path in sorted(LAYERS.glob("*.geojson")):
        for props in features(path.stem):
            for key, value in props.items():
                if isinstance(value, str) and not key.endswith("url"):
                    found.append((f"{path.name}:{props.get('id', props.get('name'))}.{key}", value))
    with (LAYERS / "map.toml").open("rb") as f:
        story = tomllib.load(f)
    for key in ("title", "subtitle", "description", "credit", "licence"):
        if key in story:
            found.append((f"map.toml:{key}", story[key]))
    for name in ("troops.csv", "sources.csv"):
        for row in rows(name):
            for key, value in row.items():
                if not key.endswith("url"):
                    found.append((f"{name}:{row.get('id') or row.get('fact_id')}.{key}", value))
    return found


# --- citations --------------------------------------------------------------------------------


def test_sources_csv_is_well_formed():
    table = rows("sources.csv")
    assert table and list(table[0]) == ["fact_id", "source_name", "source_url"]
    for row in table:
        assert row["fact_id"] and row["source_name"].strip(), row
        assert HTTP.match(row["source_url"]), row
    pairs = [(row["fact_id"], row["source_url"]) for row in table]
    assert len(pairs) == len(set(pairs)), "a source is listed twice for the same fact"


def test_every_event_and_base_has_sources_listed(sources):
    missing = [props["id"] for props in cited() if not sources.get(props["id"])]
    assert missing == []


@pytest.mark.parametrize("props", cited(), ids=lambda props: props["id"])
def test_cited_source_is_one_the_fact_table_lists(props, sources):
    assert props["source_url"] in sources[props["id"]], (
        f"{props['id']} cites {props['source_url']}, which the fact table does not list for it"
    )


def test_sources_csv_names_only_known_facts(sources, troops):
    known = {props["id"] for props in cited()} | {row["id"] for row in troops}
    assert set(sources) - known == set()


def test_one_name_per_source_url():
    names: dict[str, set[str]] = defaultdict(set)
    for row in rows("sources.csv"):
        names[row["source_url"]].add(row["source_name"])
    for props in cited():
        names[props["source_url"]].add(props["source_name"])
    assert {url: n for url, n in names.items() if len(n) > 1} == {}


def test_country_notes_cite_a_listed_source():
    listed = {row["source_url"] for row in rows("sources.csv")}
    for props in features("countries"):
        if "note" in props:
            assert props["note_source_url"] in listed, props["id"]


def test_no_wire_agency_the_url_does_not_show():
    """The Lincoln Daily News page was credited to Reuters; neither its URL nor facts.md says so."""
    drones = next(p for p in features("events") if p["id"] == "armed-drones-deployed")
    assert drones["source_name"] == "Lincoln Daily News"


# --- troop figures ----------------------------------------------------------------------------


def test_troops_columns_and_ids(troops):
    with (LAYERS / "troops.csv").open(encoding="utf-8", newline="") as f:
        assert next(csv.reader(f)) == TROOP_COLUMNS
    ids = [row["id"] for row in troops]
    assert len(ids) == len(set(ids))
    assert {row["operator"] for row in troops} <= {"United States", "France"}


@pytest.mark.parametrize("row", rows("troops.csv"), ids=lambda row: row["id"])
def test_troop_row_is_sourced_and_dated(row, sources):
    assert HTTP.match(row["source_url"]), row["source_url"]
    assert row["source_name"].strip()
    assert row["source_url"] in sources[row["id"]]
    assert row["date_precision"] in DATE_FORMS
    assert re.fullmatch(DATE_FORMS[row["date_precision"]], row["date"]), row["date"]
    assert row["count_text"].strip()
    if row["count"]:
        # a single number: count_text words exactly that number
        assert re.fullmatch(r"\d+", row["count"])
        assert re.sub(r"\D", "", row["count_text"]) == row["count"]
    else:
        # only an approximation: say so, as the source words it
        assert re.match(r"(about|some|more than|fewer than|up to) ", row["count_text"]), row


def find(troops, operator, date, count_text):
    return [
        row
        for row in troops
        if row["operator"] == operator and row["date"] == date and row["count_text"] == count_text
    ]


@pytest.mark.parametrize(
    ("operator", "date", "count_text"),
    [
        ("United States", "2017-06", "about 575"),
        ("United States", "2017-06", "about 645"),
        ("United States", "2017", "about 800"),
        ("United States", "2018-06", "about 730"),
        ("France", "2023-12-13", "1,346 gone"),
        ("France", "2023-12-13", "157 left"),
    ],
)
def test_figures_missing_from_the_map_are_in_troops_csv(troops, operator, date, count_text):
    assert len(find(troops, operator, date, count_text)) == 1


def test_june_2017_conflict_rows_point_at_each_other(troops):
    (savage,) = find(troops, "United States", "2017-06", "about 575")
    (drive,) = find(troops, "United States", "2017-06", "about 645")
    assert savage["source_url"] != drive["source_url"]
    assert drive["id"] in savage["note"] and savage["id"] in drive["note"]


def test_dec_2023_figure_and_its_caveat(troops):
    (letter,) = find(troops, "United States", "2023-12-07", "648")
    assert letter["count"] == "648" and "uniformed military only" in letter["note"]


def test_1346_gone_is_not_a_presence(troops):
    """The chart joins figures of one operator and measure: the French personnel who had left
    are not a level of those in Niger."""
    measures = {row["id"]: row["measure"] for row in troops}
    assert measures.pop("fr-2023-12-13-gone") == "had left Niger"
    assert set(measures.values()) == {"in Niger"}


def test_troops_csv_is_a_table_of_the_story():
    with (LAYERS / "map.toml").open("rb") as f:
        table = tomllib.load(f)["tables"]["troops"]
    assert table == {
        "kind": "figures",
        "file": "troops.csv",
        "title": "Troop figures: US and French military personnel in Niger, 2013–2024",
        "series": "operator",
        "unit": "personnel",
    }


def test_about_1000_in_april_2024_carries_the_648_caveat():
    event = next(p for p in features("events") if p["id"] == "us-agrees-to-withdraw")
    assert "648" in event.get("note", "") and "uniformed military only" in event["note"]


# --- words ------------------------------------------------------------------------------------

# facts.md never says "Nigerian": nothing in the layers is about Nigeria's people or state.
NIGERIAN_ALLOWED: set[str] = set()


def test_nigerien_not_nigerian():
    wrong = [
        (where, text)
        for where, text in texts()
        if re.search(r"\bnigerians?\b", text, re.IGNORECASE) and where not in NIGERIAN_ALLOWED
    ]
    assert wrong == []


@pytest.mark.parametrize(
    "phrase", ["signed in 2012", "the 2012 status of forces agreement", "2012 sofa"]
)
def test_no_2012_signing(phrase):
    """The SOFA was an exchange of notes of 6 Jul 2012 and 28 Jan 2013, not a 2012 signing."""
    assert [where for where, text in texts() if phrase in text.lower()] == []


def test_sofa_is_not_dated_2012_alone():
    """Also "the 2012 US–Niger status-of-forces agreement" and the like."""
    dated = re.compile(
        r"\b2012\b(?![–-]13)[^.;]{0,25}?\b(status[ -]of[ -]forces|sofa)\b", re.IGNORECASE
    )
    assert [where for where, text in texts() if dated.search(text)] == []


def test_salifou_mody_is_also_spelled_modi():
    mentions = [(where, text) for where, text in texts() if re.search(r"Salifou Mod[iy]", text)]
    assert mentions, "the story names Niger's defence minister"
    for where, text in mentions:
        assert "also spelled" in text, where
        assert re.search(r"Salifou Mody \(also spelled Modi\)", text), where


def test_junta_names():
    for where, text in texts():
        if "Abdramane" in text:
            assert "Amadou Abdramane" in text, where
        if "Tchiani" in text:
            assert "also spelled Tchiani" in text, where
        assert not re.search(r"Abdel Rahman|Abdourahmane\b|Abarry", text), where


def test_arlit_is_plotted_where_its_note_says():
    (arlit,) = [p for p in features("bases") if p["id"] == "arlit-france"]
    with (LAYERS / "bases.geojson").open(encoding="utf-8") as f:
        (point,) = [
            feat["geometry"]["coordinates"]
            for feat in json.load(f)["features"]
            if feat["properties"]["id"] == "arlit-france"
        ]
    assert point == [7.3833, 18.7333]  # facts.md: 18.7333, 7.3833, city, ±15 km
    assert arlit["precision_km"] == 15
    assert "Plotted at Arlit town" not in arlit["location_note"]


# --- the built page and data ------------------------------------------------------------------


@pytest.fixture(scope="module")
def text_version(default_build):
    from tests.test_text_version import text_version

    return text_version((default_build.out / "index.html").read_text(encoding="utf-8"))


def words(element) -> str:
    return re.sub(r"\s+", " ", "".join(element.itertext())).strip()


def html_date(value: str) -> str:
    """'2024-07-07' -> '7 July 2024', '2024-04' -> 'April 2024', '2018' -> '2018'."""
    parts = [int(p) for p in value.split("-")]
    month = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]  # fmt: skip
    if len(parts) == 1:
        return str(parts[0])
    if len(parts) == 2:
        return f"{month[parts[1] - 1]} {parts[0]}"
    return f"{parts[2]} {month[parts[1] - 1]} {parts[0]}"


def test_text_version_lists_every_site_with_its_presences(text_version):
    presences = features("bases")
    for site_id in dict.fromkeys(p["site_id"] for p in presences):
        entry = text_version.find(f".//*[@id='gs-bases--{site_id}']")
        at_site = [p for p in presences if p["site_id"] == site_id]
        assert entry is not None, site_id
        assert words(entry).startswith(at_site[0]["site"] + ". In Niger. Position ±")
        assert at_site[0]["location_note"] in words(entry)
        items = entry.find("ul").findall("li")
        assert len(items) == len(at_site)
        for item, presence in zip(items, at_site, strict=True):
            text = words(item)
            assert text.startswith(presence["operator"] + ", "), text
            assert presence["source_url"] == item.find("a").get("href")
            times = [(t.get("datetime"), t.text) for t in item.iter("time")]
            for key in ("start_date", "end_date", "status_date"):
                if key in presence:  # as precise as the data: a month stays a month
                    assert (presence[key], html_date(presence[key])) in times, (key, times)
            if "note" in presence:
                assert presence["note"] in text


def test_text_version_keeps_month_precision(text_version):
    russia = next(
        li
        for li in text_version.find(".//*[@id='gs-bases--ab101']").iter("li")
        if words(li).startswith("Russia")
    )
    assert words(russia).startswith("Russia, April 2024 – present. Status: active (as of 2 May")
    assert russia.find("time").get("datetime") == "2024-04"


def test_text_version_has_nigers_note(text_version):
    (niger,) = [p for p in features("countries") if p["id"] == "ner"]
    entry = text_version.find(".//*[@id='gs-countries--ner']")
    assert words(entry) == f"Niger. {niger['note']} Source: {niger['note_source_name']}."
    assert entry.find("a").get("href") == niger["note_source_url"]


def test_text_version_lists_every_troop_figure(text_version, troops):
    table = text_version.find(".//*[@id='gs-figures-1']")
    rows = table.findall(".//tbody/tr")
    assert [r.get("id") for r in rows] == [f"gs-figures-1-{row['id']}" for row in troops]
    for tr, row in zip(rows, troops, strict=True):
        date, operator, figure, source = tr.findall("td")
        assert date.find("time").get("datetime") == row["date"]
        assert (words(operator), words(figure)) == (row["operator"], row["count_text"])
        assert words(source) == f"{row['source_name']} {row['note']}"  # the caveat travels
        assert source.find("a").get("href") == row["source_url"]
    figures = [words(tr.findall("td")[2]) for tr in rows]
    assert {"about 575", "about 645", "157 left", "1,346 gone"} <= set(figures)
    june_2017 = [words(tr.find("td")) for tr in rows if "2017-06" in tr.get("id")]
    assert june_2017 == ["June 2017", "June 2017"]  # both figures, neither preferred


def test_troop_chart_has_a_mark_per_figure(text_version, troops):
    svg = text_version.find(".//*[@id='gs-figures-1']//figure/svg")
    marks = [c.get("data-figure") for c in svg.iter("circle") if c.get("class") == "gs-mark"]
    assert sorted(marks) == sorted(row["id"] for row in troops)  # one each, June 2017 twice
    key = [words(li) for li in text_version.findall(".//*[@id='gs-figures-1']//figcaption//li")]
    assert key[:3] == ["United States: in Niger", "France: in Niger", "France: had left Niger"]


def test_troops_csv_is_exported(default_build, troops):
    path = default_build.out / "data" / "troops.csv"
    with path.open(encoding="utf-8-sig", newline="") as f:
        exported = list(csv.DictReader(f))
    assert [{k: r[k] for k in TROOP_COLUMNS} for r in exported] == troops
    assert exported[1]["date_start"] == "2017-06-01" and exported[1]["date_end"] == "2017-06-30"
