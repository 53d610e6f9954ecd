"""No export overwrites another: the names of every file and GeoPackage table a story writes.

:func:`export_problems` refuses a story in which two tables or files would get the same name
ignoring case (a mixed layer ``x`` splits into ``x_points``, which another layer may already be
called) or a layer would take a table name that GeoPackage, SQLite or QGIS use
(``layer_styles``, ``qgis_projects``, ``gpkg_*``, ``rtree_*``, ``sqlite_*``). Field names follow
:mod:`geo.exports.tables`: unique ignoring case in every format."""

from __future__ import annotations

from geo.combine import Story
from geo.exports.tables import (
    LAYER_FILES,
    STORY_FILES,
    table_names,
)
from geo.load import Layer
from geo.problems import Problem

# Table names GeoPackage, its R-tree indexes and SQLite use, and QGIS's styles and projects.
GPKG_RESERVED_PREFIXES = ("gpkg_", "rtree_", "sqlite_")
GPKG_STYLES_TABLE = "layer_styles"
PROJECTS_TABLE = "qgis_projects"

# --- names: no export overwrites another ----------------------------------------------------


def export_problems(story: Story) -> list[Problem]:
    """Every table or file name the exports would write twice, or that GeoPackage reserves.

    Names are compared ignoring case, as GeoPackage (SQLite) and the macOS and Windows file
    systems do. Writes nothing: ``--check`` reports these too.
    """
    return _reserved_table_problems(story) + _collision_problems(story)


def _reserved_table_problems(story: Story) -> list[Problem]:
    problems = []
    for layer in story.layers:
        for table in table_names(layer):
            reason = _reserved_reason(table)
            if reason:
                problems.append(
                    Problem(
                        str(layer.path),
                        f"layer {layer.name!r} would be the GeoPackage table {table!r}, but "
                        f"{reason}; rename the layer",
                    )
                )
    return problems


def _reserved_reason(table: str) -> str | None:
    folded = table.lower()
    if folded == GPKG_STYLES_TABLE:
        return f"{GPKG_STYLES_TABLE!r} holds the layers' QGIS styles"
    if folded == PROJECTS_TABLE:
        return f"{PROJECTS_TABLE!r} holds the QGIS project"
    prefix = next((p for p in GPKG_RESERVED_PREFIXES if folded.startswith(p)), None)
    if prefix:
        return f"names starting {prefix!r} (in any case) belong to GeoPackage and SQLite"
    return None


def _output_names(story: Story) -> list[tuple[str, str, Layer | None]]:
    """(kind, name, owner) of every file and GeoPackage table; the owner None is the story."""
    names: list[tuple[str, str, Layer | None]] = [
        ("file", f"{story.config.name}{suffix}", None) for suffix in STORY_FILES.values()
    ]
    for layer in story.layers:
        names += [("file", f"{layer.name}{suffix}", layer) for suffix in LAYER_FILES.values()]
        names += [("GeoPackage table", table, layer) for table in table_names(layer)]
    return names


def _collision_problems(story: Story) -> list[Problem]:
    """One problem per pair of layers (or layer and story) whose outputs share a name."""
    first: dict[tuple[str, str], tuple[str, Layer | None]] = {}
    reported: set[tuple[str, str]] = set()
    problems = []
    for kind, name, owner in _output_names(story):
        other_name, other = first.setdefault((kind, name.lower()), (name, owner))
        pair = (_owner_key(other), _owner_key(owner))
        if other is owner or owner is None or pair in reported:
            continue
        reported.add(pair)
        problems.append(
            Problem(
                str(owner.path),
                f"layer {owner.name!r} would write the {kind} {name!r}, but "
                f"{_owner_text(story, other)} writes {other_name!r}"
                f"{_collision_cause((name, owner), (other_name, other))}: one would overwrite "
                "the other; rename one of the layers",
            )
        )
    return problems


def _owner_key(owner: Layer | None) -> str:
    return "" if owner is None else owner.name


def _owner_text(story: Story, owner: Layer | None) -> str:
    if owner is None:
        return f"the story (named {story.config.name!r})"
    return f"layer {owner.name!r} ({owner.path})"


def _collision_cause(*named: tuple[str, Layer | None]) -> str:
    """Why two names collide: a layer split by geometry type, or a difference in case only."""
    causes = [
        f"layer {layer.name!r} mixes geometry types, so GeoPackage gets it as "
        + ", ".join(table_names(layer))
        for name, layer in named
        if layer is not None and name != layer.name and name in table_names(layer)
    ]
    if len({name for name, _ in named}) > 1:
        causes.append("names that differ only in upper/lower case are the same table or file")
    return f" ({'; '.join(causes)})" if causes else ""
