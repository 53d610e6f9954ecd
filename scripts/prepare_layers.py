"""Regenerate the Natural-Earth-derived layers of the default story in layers/.

Writes countries, land, niger_regions, places, rivers and lakes (.geojson) from the NE
extracts described in shared/data/naturalearth/README.md. events.geojson and bases.geojson
are hand-encoded from shared/data/facts.md and are not touched. See layers/SOURCES.md.

Usage: python scripts/prepare_layers.py [NE_FOLDER] [--out LAYERS_FOLDER]
"""

from __future__ import annotations

import argparse
import json
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry import mapping

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SRC = ROOT.parent / "shared" / "data" / "naturalearth"
GRID = 1e-5  # the NE extracts are already on this grid; keep every output on it too

FOCUS = "NER"
NEIGHBOURS = ("DZA", "LBY", "TCD", "NGA", "BEN", "BFA", "MLI")

# One sentence per country where the story needs it, each from shared/data/facts.md.
COUNTRY_NOTES: dict[str, tuple[str, str, str]] = {
    "NER": (
        "On 16 Mar 2024 the junta ended, with immediate effect, the Status of Forces Agreement"
        " with the United States.",
        "Tag24 (AFP)",
        "https://www.tag24.com/world/niger-breaks-off-military-cooperation-with-us-3131459",
    ),
    "MLI": (
        "The last French Barkhane troops left Mali on 15 Aug 2022, handing the Gao base"
        " to the Malian army.",
        "MedAfrica Times",
        "https://medafricatimes.com/27793-departure-of-the-last-french-soldiers-of-barkhane-in-mali.html",
    ),
    "BFA": (
        "France's Sabre special forces ended their operations in Burkina Faso on 18 Feb 2023.",
        "Reuters (via Boursier.com)",
        "https://www.boursier.com/actualites/reuters/fin-officielle-des-operations-des-troupes-francaises-au-burkina-faso-319468.html",
    ),
    "TCD": (
        "The first French military road convoy withdrawing from Niger reached N'Djamena"
        " on 19 Oct 2023.",
        "L'Œil du Sahara",
        "https://loeildusahara.com/tchad-arrivee-du-premier-convoi-militaire-francais-du-niger",
    ),
}

# Places picked from NE by (nameascii, adm0_a3); rank follows NE's featurecla.
# Dirkou and Ouallam are not in NE's populated places, so they are not here.
PLACES = (
    ("Niamey", "NER"), ("Agadez", "NER"), ("Zinder", "NER"), ("Maradi", "NER"),
    ("Tahoua", "NER"), ("Dosso", "NER"), ("Diffa", "NER"), ("Tillaberi", "NER"),
    ("Arlit", "NER"), ("Ayorou", "NER"),
    ("Algiers", "DZA"), ("Tripoli", "LBY"), ("Ndjamena", "TCD"), ("Abuja", "NGA"),
    ("Porto-Novo", "BEN"), ("Ouagadougou", "BFA"), ("Bamako", "MLI"),
    ("Kano", "NGA"), ("Gao", "MLI"), ("Timbuktu", "MLI"), ("Tamanrasset", "DZA"),
)  # fmt: skip
RANKS = {
    "Admin-0 capital": "national capital",
    "Admin-0 capital alt": "national capital",  # Porto-Novo, Benin's official capital
    "Admin-1 capital": "regional capital",
}
# NE's name_en is the label, except where it is a different spelling from the story's:
# NE gives Ayorou the name_en/name_fr "Ayérou"; facts.md and NE's own `name` say "Ayorou".
PLACE_LABELS = {("Ayorou", "NER"): "Ayorou"}

# Main rivers of the Niger and Lake Chad basins and of the neighbours, by NE `name`.
# NE splits the Benue in two: its upper course, mostly in Cameroon, is named "Bénoué".
RIVERS = (
    "Niger", "Bani", "Sokoto", "Kaduna", "Benue", "Gongola", "Komadugu Yobe", "Hadejia",
    "Chari", "Logone", "Sénégal", "Mouhoun", "Nakanbé", "Oti", "Ouémé",
)  # fmt: skip
RIVER_ALIASES = {"Bénoué": "Benue"}
# The label is NE's name_en ("Senegal", "Black Volta"), except where that is a short form.
RIVER_LABELS = {"Komadugu Yobe": "Komadugu Yobe"}  # name_en "Yobe"
RIVER_TOLERANCE = 0.005  # degrees
LAND_TOLERANCE = 0.01  # degrees


def slug(text: str) -> str:
    """Lower-case ASCII slug: 'Tillabéri' -> 'tillaberi', "N'Djamena" -> 'ndjamena'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower().replace("'", "")).strip("-")


def clean(geom: Any) -> Any:
    """Snap to the 1e-5 grid, orient exterior rings counter-clockwise, and insist on validity."""
    geom = shapely.orient_polygons(shapely.set_precision(geom, GRID), exterior_cw=False)
    if geom.is_empty or not geom.is_valid:
        raise ValueError(f"invalid or empty geometry: {shapely.is_valid_reason(geom)}")
    return geom


def _rounded(coords: Any) -> Any:
    if isinstance(coords, float | int):
        return round(float(coords), 5)
    return [_rounded(c) for c in coords]


def write_layer(path: Path, features: Iterable[tuple[dict[str, Any], Any]]) -> int:
    """Write an RFC 7946 FeatureCollection, one feature per line; None properties are left out."""
    lines = []
    for props, geom in features:
        geometry = mapping(clean(geom))
        geometry = {"type": geometry["type"], "coordinates": _rounded(geometry["coordinates"])}
        feature = {
            "type": "Feature",
            "properties": {k: v for k, v in props.items() if v is not None},
            "geometry": geometry,
        }
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    path.write_text(
        '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n",
        encoding="utf-8",
    )
    return len(lines)


def read(src: Path, name: str) -> gpd.GeoDataFrame:
    """Read one NE extract; they are lon/lat WGS84 already."""
    return gpd.read_file(src / f"{name}.geojson", engine="pyogrio")


def countries(admin0: gpd.GeoDataFrame) -> list[tuple[dict[str, Any], Any]]:
    """Niger and its seven neighbours at 1:10m, unsimplified so shared borders stay exact."""
    focus = admin0.loc[admin0.iso_a3 == FOCUS].geometry.iloc[0]
    others = admin0.loc[admin0.iso_a3 != FOCUS]
    intersecting = set(others.loc[others.intersects(focus)].iso_a3)
    touching = set(others.loc[others.touches(focus)].iso_a3)  # shares a border, no overlap
    if not intersecting == touching == set(NEIGHBOURS):
        raise ValueError(
            f"expected exactly {sorted(NEIGHBOURS)} to touch Niger;"
            f" found {sorted(touching)} touching, {sorted(intersecting)} intersecting"
        )
    out = []
    for iso in (FOCUS, *NEIGHBOURS):
        row = admin0.loc[admin0.iso_a3 == iso].iloc[0]
        note, note_source_name, note_source_url = COUNTRY_NOTES.get(iso, (None, None, None))
        props = {
            "id": iso.lower(),
            "name": row["name_long"],
            "name_fr": row["name_fr"],
            "iso_a3": iso,
            "role": "focus" if iso == FOCUS else "neighbour",
            "note": note,
            "note_source_name": note_source_name,
            "note_source_url": note_source_url,
        }
        out.append((props, row.geometry))
    return out


def land(admin0_50m: gpd.GeoDataFrame, eight: Any) -> list[tuple[dict[str, Any], Any]]:
    """The other countries at 1:50m, simplified as one coverage, then fitted to the 1:10m eight.

    Where the 50m and 10m borders disagree, the land polygons are cut back to the eight, and
    the gaps left behind (up to ~20 km on the Morocco-Algeria border) go to the land polygon
    that shares most of their edge, so land and the eight meet without overlap or gap.
    """
    others = admin0_50m.loc[~admin0_50m.iso_a3.isin((FOCUS, *NEIGHBOURS))]
    simplified = shapely.coverage_simplify(others.geometry.values, LAND_TOLERANCE)
    polygons = list(shapely.difference(simplified, eight, grid_size=GRID))
    covered = shapely.union_all([*polygons, eight], grid_size=GRID)
    gaps = shapely.difference(admin0_50m.union_all(), covered, grid_size=GRID)
    for gap in shapely.get_parts(gaps):
        shared = shapely.length(shapely.intersection(gap.boundary, polygons, grid_size=GRID))
        if shared.max() > 0:  # a border sliver, not a stretch of the eight's own coast
            i = int(shared.argmax())
            polygons[i] = shapely.union(polygons[i], gap, grid_size=GRID)
    return [
        ({"name": row["name_long"], "iso_a3": row["iso_a3"]}, geom)
        for (_, row), geom in zip(others.iterrows(), polygons, strict=True)
    ]


def regions(admin1: gpd.GeoDataFrame) -> list[tuple[dict[str, Any], Any]]:
    """Niger's 7 regions and the Niamey capital district (NE's 'Department' label is dated)."""
    out = []
    for _, row in admin1.sort_values("iso_3166_2").iterrows():
        capital = row["type_en"] == "Capital District"
        props = {
            "id": slug(row["name"]),
            "name": row["name"],
            "iso_3166_2": row["iso_3166_2"],
            "type_en": "Capital District" if capital else "Region",
        }
        out.append((props, row.geometry))
    return out


def places(populated: gpd.GeoDataFrame) -> list[tuple[dict[str, Any], Any]]:
    """The places of PLACES, positioned by NE's point geometry (not its lat/lon attributes)."""
    out = []
    for nameascii, adm0 in PLACES:
        match = populated.loc[(populated.nameascii == nameascii) & (populated.adm0_a3 == adm0)]
        if len(match) != 1:
            raise ValueError(f"expected one NE place {nameascii!r} in {adm0}, found {len(match)}")
        row = match.iloc[0]
        name = PLACE_LABELS.get((nameascii, adm0), row["name_en"])
        props = {
            "id": slug(name),
            "name": name,
            "country": row["adm0_a3"],
            "rank": RANKS.get(row["featurecla"], "town"),
            "population": int(row["pop_max"]) if row["pop_max"] > 0 else None,
        }
        out.append((props, row.geometry))
    return out


def rivers(lines: gpd.GeoDataFrame) -> list[tuple[dict[str, Any], Any]]:
    """RIVERS, each dissolved into one (Multi)LineString and lightly simplified."""
    lines = lines.assign(river=lines["name"].replace(RIVER_ALIASES))
    out = []
    for river in RIVERS:
        parts = lines.loc[lines.river == river]
        if parts.empty:
            raise ValueError(f"river {river!r} is not in the NE extract")
        first = parts.loc[parts["name"] == river].iloc[0]
        name = RIVER_LABELS.get(river, first["name_en"])
        merged = shapely.line_merge(shapely.union_all(parts.geometry.values))
        props = {"id": slug(name), "name": name, "name_fr": first["name_fr"]}
        out.append((props, merged.simplify(RIVER_TOLERANCE, preserve_topology=True)))
    return out


def lakes(polygons: gpd.GeoDataFrame) -> list[tuple[dict[str, Any], Any]]:
    """Every named lake in the extract; NE's name_fr is a short form ('Tchad'), so it is omitted."""
    named = polygons.loc[polygons["name"].notna()].sort_values("scalerank")
    return [({"id": slug(r["name"]), "name": r["name"]}, r.geometry) for _, r in named.iterrows()]


def main(argv: list[str] | None = None) -> None:
    """Read the NE extracts and write the six layers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="?", type=Path, default=DEFAULT_SRC, help="NE extracts")
    parser.add_argument("--out", type=Path, default=ROOT / "layers", help="layers folder")
    args = parser.parse_args(argv)

    admin0 = read(args.src, "ne_10m_admin_0_countries_region")
    eight = admin0.loc[admin0.iso_a3.isin((FOCUS, *NEIGHBOURS))]
    layers = {
        "countries": countries(admin0),
        "land": land(read(args.src, "ne_50m_admin_0_countries_region"), eight.union_all()),
        "niger_regions": regions(read(args.src, "ne_10m_admin_1_niger")),
        "places": places(read(args.src, "ne_10m_populated_places_region")),
        "rivers": rivers(read(args.src, "ne_10m_rivers_lake_centerlines_region")),
        "lakes": lakes(read(args.src, "ne_10m_lakes_region")),
    }
    args.out.mkdir(exist_ok=True)
    for name, features in layers.items():
        path = args.out / f"{name}.geojson"
        count = write_layer(path, features)
        print(f"{path.name}: {count} features, {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
