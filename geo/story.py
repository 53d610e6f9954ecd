"""A story folder: its GeoJSON files and the optional map.toml that describes them.

Without map.toml every ``*.geojson`` file is a layer of kind ``features`` named after its file,
so a user can drop files in a folder and publish. With it, every key is checked: an unknown key
or a wrong type is an error that names the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from geo.kinds import PALETTE, kinds, tomllib
from geo.problems import Problem, StoryError

CONFIG_NAME = "map.toml"
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")

# Each key of map.toml: its type and what it is for (the README documents the same table).
TOP_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "name": (str, "short name for file names, e.g. the GeoPackage (default: the folder's name)"),
    "title": (str, "headline shown on the map and as the page title"),
    "subtitle": (str, "one line under the title"),
    "credit": (str, "credit/source line at the foot of the map"),
    "language": (str, "language of the page, e.g. 'en' (the HTML lang attribute)"),
    "description": (str, "one or two sentences for screen readers and link previews"),
    "licence": (str, "terms of the layers' data, for the exports (a layer may set its own)"),
    "order": (list, "layer names from bottom to top; unnamed layers follow"),
    "layers": (dict, "one table per layer, [layers.NAME]"),
}
LAYER_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "file": (str, "GeoJSON file in the story folder (default NAME.geojson)"),
    "kind": (str, "layer kind: " + ", ".join(sorted(kinds()))),
    "title": (str, "name in the legend and layer control"),
    "popup": (list, "properties listed in popups of 'features' layers (default: all)"),
    "label": (str, "property shown as a permanent label"),
    "category_field": (str, "property whose values pick a colour from [categories]"),
    "categories": (dict, "category value -> colour '#rrggbb'"),
    "style": (dict, "colours and widths, see the style keys"),
    "source_name": (str, "where the layer's data comes from"),
    "source_url": (str, "http(s) link to that source"),
    "licence": (str, "terms of this layer's data (default: the story's licence)"),
    "show": (bool, "visible when the map opens (default true)"),
}
STYLE_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "color": (str, "stroke colour '#rrggbb'"),
    "fill_color": (str, "fill colour '#rrggbb'"),
    "fill_opacity": ((int, float), "0 to 1"),
    "opacity": ((int, float), "stroke opacity, 0 to 1"),
    "weight": ((int, float), "stroke width in pixels"),
    "radius": ((int, float), "point marker radius in pixels"),
    "dash_array": (str, "SVG dash pattern, e.g. '4 3'"),
    "focus_color": (str, "stroke colour of the focus country"),
    "focus_fill_color": (str, "fill colour of the focus country"),
    "focus_weight": ((int, float), "stroke width of the focus country"),
}


@dataclass(frozen=True)
class LayerConfig:
    """How one layer is read and drawn."""

    name: str
    file: str
    kind: str
    title: str
    style: Mapping[str, Any]
    popup: tuple[str, ...] | None = None
    label: str | None = None
    category_field: str | None = None
    categories: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    source_name: str | None = None
    source_url: str | None = None
    licence: str | None = None
    show: bool = True


@dataclass(frozen=True)
class StoryConfig:
    """The story as map.toml (or the defaults) describe it; layers in drawing order."""

    folder: Path
    name: str
    title: str
    subtitle: str
    credit: str
    language: str
    description: str
    layers: tuple[LayerConfig, ...]
    has_config: bool


def read_story(folder: Path) -> StoryConfig:
    """Find the layers of a story folder and read its map.toml, reporting every problem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StoryError([Problem(str(folder), "story folder not found (expected a directory)")])
    files = sorted(p.name for p in folder.glob("*.geojson"))
    config_path = folder / CONFIG_NAME
    problems: list[Problem] = []
    raw: dict[str, Any] = {}
    if config_path.exists():
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise StoryError([Problem(str(config_path), f"not valid TOML: {exc}")]) from exc
        _check_table(raw, TOP_KEYS, "", str(config_path), problems)
    layer_tables = raw.get("layers", {}) if isinstance(raw.get("layers"), dict) else {}
    licence = raw.get("licence") if isinstance(raw.get("licence"), str) else None
    layers = []
    for name, table in layer_tables.items():
        if not isinstance(table, dict):
            problems.append(
                Problem(str(config_path), "expected a table [layers.NAME]", field=f"layers.{name}")
            )
            continue
        layers.append(_layer_config(name, table, folder, str(config_path), problems, licence))
    configured = {lc.file for lc in layers}
    for fname in files:
        if fname not in configured:
            name = Path(fname).stem
            layers.append(_layer_config(name, {}, folder, str(config_path), problems, licence))
    if not layers:
        problems.append(Problem(str(folder), "no layers: expected at least one *.geojson file"))
    order = raw.get("order", [])
    if isinstance(order, list):
        known = {lc.name for lc in layers}
        for i, name in enumerate(order):
            if name not in known:
                problems.append(
                    Problem(
                        str(config_path),
                        f"unknown layer {name!r}; expected one of: {', '.join(sorted(known))}",
                        field=f"order[{i}]",
                    )
                )
    if problems:
        raise StoryError(problems)
    rank = {name: i for i, name in enumerate(order)}
    layers.sort(key=lambda lc: (rank.get(lc.name, len(rank)), kinds()[lc.kind].order, lc.name))
    layers = _automatic_colours(layers)
    return StoryConfig(
        folder=folder,
        name=_slug(raw.get("name") or folder.resolve().name),
        title=raw.get("title", folder.resolve().name.replace("_", " ").capitalize()),
        subtitle=raw.get("subtitle", ""),
        credit=raw.get("credit", ""),
        language=raw.get("language", "en"),
        description=raw.get("description", raw.get("subtitle", "")),
        layers=tuple(layers),
        has_config=config_path.exists(),
    )


def _layer_config(
    name: str,
    table: dict,
    folder: Path,
    where: str,
    problems: list[Problem],
    licence: str | None,
) -> LayerConfig:
    prefix = f"layers.{name}"
    _check_table(table, LAYER_KEYS, prefix + ".", where, problems)
    if not _NAME.match(name):
        problems.append(
            Problem(
                where,
                f"layer name {name!r} may use only letters, digits, '_' and '-'",
                field=prefix,
            )
        )
    kind = table.get("kind", "features")
    if kind not in kinds():
        problems.append(
            Problem(
                where,
                f"unknown kind {kind!r}; expected one of: {', '.join(sorted(kinds()))}",
                field=prefix + ".kind",
            )
        )
        kind = "features"
    file = table.get("file", f"{name}.geojson")
    if isinstance(file, str) and not (folder / file).is_file():
        problems.append(
            Problem(where, f"file {file!r} not found in {folder}", field=prefix + ".file")
        )
    style = table.get("style", {})
    if isinstance(style, dict):
        _check_table(style, STYLE_KEYS, prefix + ".style.", where, problems)
        for key, value in style.items():
            if "color" in key and isinstance(value, str) and not _COLOR.match(value):
                problems.append(
                    Problem(
                        where,
                        f"expected a colour like '#1a2b3c', found {value!r}",
                        field=f"{prefix}.style.{key}",
                    )
                )
    categories = table.get("categories", {})
    if isinstance(categories, dict):
        for key, value in categories.items():
            if not (isinstance(value, str) and _COLOR.match(value)):
                problems.append(
                    Problem(
                        where,
                        f"expected a colour like '#1a2b3c', found {value!r}",
                        field=f"{prefix}.categories.{key}",
                    )
                )
    popup = table.get("popup")
    if isinstance(popup, list) and not all(isinstance(v, str) for v in popup):
        problems.append(
            Problem(where, "expected a list of property names (strings)", field=prefix + ".popup")
        )
    source_url = table.get("source_url")
    if isinstance(source_url, str) and not source_url.startswith(("http://", "https://")):
        problems.append(
            Problem(
                where,
                f"expected an http(s) URL, found {source_url!r}",
                field=prefix + ".source_url",
            )
        )
    merged_style = {**kinds()[kind].style, **(style if isinstance(style, dict) else {})}
    return LayerConfig(
        name=name,
        file=file if isinstance(file, str) else f"{name}.geojson",
        kind=kind,
        title=table.get("title")
        or (kinds()[kind].title if kind != "features" else name.replace("_", " ").capitalize()),
        style=MappingProxyType(merged_style),
        popup=tuple(popup) if isinstance(popup, list) else None,
        label=table.get("label", kinds()[kind].label_field),
        category_field=table.get("category_field", "category" if kind == "events" else None),
        categories=MappingProxyType(dict(categories) if isinstance(categories, dict) else {}),
        source_name=table.get("source_name"),
        source_url=source_url,
        licence=table.get("licence", licence),
        show=table.get("show", True),
    )


def _automatic_colours(layers: list[LayerConfig]) -> list[LayerConfig]:
    """Give each plain layer a colour, its own or the next palette colour in drawing order,
    which also fills it unless map.toml sets a fill: every renderer then reads one style."""
    plain = iter(PALETTE * len(layers))
    out = []
    for lc in layers:
        if lc.kind == "features":
            colour = lc.style.get("color") or next(plain)
            lc = replace(
                lc, style=MappingProxyType({"color": colour, "fill_color": colour, **lc.style})
            )
        out.append(lc)
    return out


def _check_table(
    table: dict, schema: dict, prefix: str, where: str, problems: list[Problem]
) -> None:
    for key, value in table.items():
        if key not in schema:
            problems.append(
                Problem(
                    where, f"unknown key; expected one of: {', '.join(schema)}", field=prefix + key
                )
            )
            continue
        expected, _ = schema[key]
        ok = isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool)
        if not ok:
            names = expected if isinstance(expected, tuple) else (expected,)
            problems.append(
                Problem(
                    where,
                    f"expected {' or '.join(_TYPE_NAMES[t] for t in names)}, "
                    f"found {_TYPE_NAMES.get(type(value), type(value).__name__)} {value!r}",
                    field=prefix + key,
                )
            )


_TYPE_NAMES = {
    str: "a string",
    list: "a list",
    dict: "a table",
    bool: "true/false",
    int: "a number",
    float: "a number",
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "story"
