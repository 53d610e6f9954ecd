"""A story folder: its GeoJSON files and the optional map.toml that describes them.

Without map.toml every ``*.geojson`` file is a layer of kind ``features`` named after its file,
so a user can drop files in a folder and publish. With it, every key is checked: an unknown key
or a wrong type is an error that names the key.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from geo.kinds import PALETTE, kinds, tomllib
from geo.problems import Problem, StoryError, shown

if TYPE_CHECKING:
    from geo.figures import FigureTable

CONFIG_NAME = "map.toml"
# \Z, not $ (which also matches before a final newline); [0-9], not \d (any script's digits).
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}\Z")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*\Z")
_DASH = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\Z")  # SVG length: no sign, no exponent
DASH_MAX_PX = 1000
# Style numbers: a Leaflet or matplotlib value out of these ranges draws nothing useful or
# breaks the drawing (an infinite weight, a NaN radius: TOML allows both).
STYLE_RANGES: dict[str, tuple[float, float]] = {
    "fill_opacity": (0, 1),
    "opacity": (0, 1),
    "weight": (0, 50),
    "radius": (0, 100),
    "focus_weight": (0, 50),
}

# Each key of map.toml: its type and what it is for (the README documents the same table).
TOP_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "name": (str, "short name for file names, e.g. the GeoPackage (default: the folder's name)"),
    "title": (str, "headline shown on the map and as the page title"),
    "subtitle": (str, "one line under the title"),
    "credit": (str, "credit/source line at the foot of the map: who made the data, by name"),
    "byline": (str, "who made the map, at its foot, e.g. 'Graphic: Jane Doe'"),
    "data_as_of": (
        (str, dt.date),
        "date of the latest fact the map shows, as precise as known: YYYY, YYYY-MM or "
        "YYYY-MM-DD (shown as 'Data as of ...' at the map's foot)",
    ),
    "language": (str, "language of the page, e.g. 'en' (the HTML lang attribute)"),
    "description": (str, "one or two sentences for screen readers and link previews"),
    "licence": (str, "terms of the layers' data, for the exports (a layer may set its own)"),
    "order": (list, "layer names from bottom to top; unnamed layers follow"),
    "chapters": (list, "the story's steps, [[chapters]]: see the chapter keys"),
    "annotations": (
        list,
        "callouts beside sites, [[annotations]]: { at = 'site-id', text = '...', "
        "events = ['event-id', ...] }, each naming the events its text rests on",
    ),
    "layers": (
        dict,
        "one table per layer, [layers.NAME]; NAME uses letters, digits, '_', '-' and '.', "
        "and does not start with '-' or '.'",
    ),
    "tables": (
        dict,
        "sourced figures shown beside the map, [tables.NAME]: see the table keys; "
        "NAME uses letters, digits, '_' and '-'",
    ),
}
LAYER_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "file": (str, "GeoJSON file inside the story folder (default NAME.geojson)"),
    "kind": (str, "layer kind: " + ", ".join(sorted(kinds()))),
    "title": (str, "name in the key and layer control"),
    "popup": (list, "properties listed in popups of 'features' layers (default: all)"),
    "field_labels": (
        dict,
        "property -> its name in popups, e.g. { type_en = 'Kind of region' } (default: the "
        "kind's name for it, else the property's name made readable: 'type_en' reads 'Type')",
    ),
    "label": (str, "property shown as a permanent label"),
    "category_field": (str, "property whose values pick a colour from [categories]"),
    "date_field": (
        str,
        "property of ISO dates (YYYY, YYYY-MM, YYYY-MM-DD) that puts a plain "
        "layer on the timeline (default: 'date' when the layer has one)",
    ),
    "categories": (dict, "category value -> colour '#rrggbb'"),
    "operators": (
        dict,
        "bases layers: operator -> colour '#rrggbb' of its sites (an operator not listed, and "
        "a site with several operators at the timeline's date, take the layer's colour)",
    ),
    "style": (dict, "colours and widths, see the style keys"),
    "source_name": (str, "where the layer's data comes from"),
    "source_url": (str, "http(s) link to that source"),
    "licence": (str, "terms of this layer's data (default: the story's licence)"),
    "show": (bool, "visible when the map opens (default true)"),
    "legend": (
        bool,
        "listed in the key above the map (default true; false for the base kinds: "
        + ", ".join(sorted(k for k, spec in kinds().items() if spec.base))
        + ")",
    ),
}
CHAPTER_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "title": (str, "the chapter's heading"),
    "text": (
        list,
        "its sentences: { text = '...', events = ['event-id', ...] }, each with the "
        "ids of the events it rests on",
    ),
    "from": (str, "start of the timeline's range: YYYY, YYYY-MM or YYYY-MM-DD"),
    "to": (str, "end of the timeline's range (same forms)"),
    "events": (list, "ids of the events to highlight (the map frames them)"),
    "frame": (list, "ids of the features to frame instead"),
    "bounds": (list, "or a box to frame: [west, south, east, north] in degrees"),
}
TABLE_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "kind": (str, "table kind: 'figures', dated and sourced figures (the only kind)"),
    "file": (str, "CSV file inside the story folder (default NAME.csv)"),
    "rows": (list, "or the rows themselves: [{ column = value, ... }, ...]"),
    "title": (str, "heading of the chart and the table"),
    "series": (str, "column whose values name the chart's lines, e.g. 'operator'"),
    "unit": (str, "what the figures count, e.g. 'personnel': the chart's axis title"),
}
STYLE_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "color": (str, "stroke colour '#rrggbb'"),
    "fill_color": (str, "fill colour '#rrggbb'"),
    "fill_opacity": ((int, float), "0 to 1"),
    "opacity": ((int, float), "stroke opacity, 0 to 1"),
    "weight": ((int, float), "stroke width in pixels, 0 to 50"),
    "radius": ((int, float), "point marker radius in pixels, 0 to 100"),
    "dash_array": (str, "SVG dash pattern in pixels, e.g. '4 3' (or '4,3')"),
    "focus_color": (str, "stroke colour of the focus country"),
    "focus_fill_color": (str, "fill colour of the focus country"),
    "focus_weight": ((int, float), "stroke width of the focus country, 0 to 50"),
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
    date_field: str | None = None
    categories: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    operators: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    source_name: str | None = None
    source_url: str | None = None
    licence: str | None = None
    show: bool = True
    legend: bool = True  # in the key above the map (base kinds: not unless map.toml says so)
    field_labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Sentence:
    """A sentence of a chapter and the ids of the events it rests on."""

    text: str
    events: tuple[str, ...]


@dataclass(frozen=True)
class Chapter:
    """A step of the story: its text, the timeline's range and what the map frames."""

    title: str
    text: tuple[Sentence, ...]
    start: str | None  # as written: YYYY, YYYY-MM or YYYY-MM-DD
    end: str | None
    events: tuple[str, ...]  # highlighted (and framed, unless frame or bounds say otherwise)
    frame: tuple[str, ...] = ()
    bounds: tuple[float, float, float, float] | None = None  # west, south, east, north


@dataclass(frozen=True)
class Annotation:
    """A callout beside a site: its text and the ids of the events the text rests on."""

    at: str  # a site's id (site_id of a bases layer)
    text: str
    events: tuple[str, ...]


ANNOTATION_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "at": (str, "id of the site the callout points at (site_id in a bases layer)"),
    "text": (str, "the callout: a short sentence, from the story's sources"),
    "events": (list, "ids of the events the text rests on (at least one)"),
}


@dataclass(frozen=True)
class StoryConfig:
    """The story as map.toml (or the defaults) describe it; layers in drawing order."""

    folder: Path | None  # None for a story given as GeoDataFrames
    name: str
    title: str
    subtitle: str
    credit: str
    language: str
    description: str
    layers: tuple[LayerConfig, ...]
    has_config: bool
    chapters: tuple[Chapter, ...] = ()
    tables: tuple[FigureTable, ...] = ()  # sourced figures beside the map, see geo.figures
    byline: str = ""
    data_as_of: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD, as precise as known
    annotations: tuple[Annotation, ...] = ()  # checked against the layers in geo.kindmods.bases


def read_config(folder: Path) -> StoryConfig:
    """Find the layers of a story folder and read its map.toml, reporting every problem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StoryError([Problem(str(folder), "story folder not found (expected a directory)")])
    config_path = folder / CONFIG_NAME
    raw = _read_config(config_path)
    return _story_config(raw, str(config_path), folder=folder, default_name=folder.resolve().name)


def options_config(
    options: Mapping[str, Any], layers: Mapping[str, Mapping[str, Any]]
) -> StoryConfig:
    """A story given from Python: ``options`` are map.toml's top-level keys, ``layers`` each
    layer's [layers.NAME] keys. Checked as map.toml is; a problem names the layer (or "story
    options") where a file's would name the file."""
    raw = {**options, "layers": {name: dict(table) for name, table in layers.items()}}
    return _story_config(raw, "story options", folder=None, default_name="story")


def _story_config(
    raw: dict[str, Any], where: str, *, folder: Path | None, default_name: str
) -> StoryConfig:
    problems: list[Problem] = []
    _check_table(raw, TOP_KEYS, "", where, problems)
    language = raw.get("language")
    if isinstance(language, str) and not _LANGUAGE.match(language):
        problems.append(
            Problem(
                where,
                f"expected a language tag like 'en' or 'fr-CA', found {shown(language)}",
                field="language",
            )
        )
    data_as_of = raw.get("data_as_of")
    if isinstance(data_as_of, dt.date) and not isinstance(data_as_of, dt.datetime):
        data_as_of = data_as_of.isoformat()  # a TOML date, unquoted: known to the day
    if isinstance(data_as_of, dt.datetime) or (
        isinstance(data_as_of, str) and not _is_date_text(data_as_of)
    ):
        problems.append(
            Problem(
                where,
                "expected the date of the latest fact as YYYY, YYYY-MM or YYYY-MM-DD, as "
                f"precise as known (e.g. '2026-11' for November 2026), found {shown(data_as_of)}",
                field="data_as_of",
            )
        )
    licence = raw.get("licence") if isinstance(raw.get("licence"), str) else None
    named = _configured_layers(raw, folder, where, problems, licence)
    if folder is not None:
        named += _unlisted_layers(folder, named, problems, licence)
    if not named:
        found = str(folder) if folder is not None else where
        problems.append(Problem(found, "no layers: expected at least one *.geojson file"))
    _check_unique_names(named, problems)
    order = raw.get("order", [])
    if isinstance(order, list):
        _check_order(order, {n.config.name for n in named}, where, problems)
    chapters = _chapters(raw.get("chapters"), where, problems)
    annotations = _annotations(raw.get("annotations"), where, problems)
    tables = _tables(raw.get("tables"), folder, where, [n.config.name for n in named], problems)
    if problems:
        raise StoryError(problems)
    rank = {name: i for i, name in enumerate(order)}
    layers = sorted(
        (n.config for n in named),
        key=lambda lc: (rank.get(lc.name, len(rank)), kinds()[lc.kind].order, lc.name),
    )
    return StoryConfig(
        folder=folder,
        name=_slug(raw.get("name") or default_name),
        title=raw.get("title", default_name.replace("_", " ").capitalize()),
        subtitle=raw.get("subtitle", ""),
        credit=raw.get("credit", ""),
        language=raw.get("language", "en"),
        description=raw.get("description", raw.get("subtitle", "")),
        layers=tuple(_automatic_colours(layers)),
        has_config=folder is not None and (folder / CONFIG_NAME).exists(),
        chapters=chapters,
        tables=tables,
        byline=raw.get("byline", ""),
        data_as_of=data_as_of,
        annotations=annotations,
    )


@dataclass(frozen=True)
class _Named:
    """A layer and where its name comes from, for messages: a [layers.NAME] table of map.toml
    (``field`` is then its key), or a file that map.toml does not list (``field`` is None)."""

    config: LayerConfig
    where: str
    field: str | None


def _read_config(path: Path) -> dict[str, Any]:
    """map.toml as a table, {} when the story has none; a map.toml that cannot be read as TOML
    stops here, since nothing else can be checked without it."""
    if not path.exists():
        return {}
    where = str(path)
    if not path.is_file():
        found = "a folder" if path.is_dir() else "something else"
        raise StoryError([Problem(where, f"expected a file, found {found}")])
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # TOMLDecodeError, UnicodeDecodeError, an int too long to read
        raise StoryError([Problem(where, f"not valid TOML: {exc}")]) from exc
    except RecursionError as exc:
        message = "cannot be read: arrays or tables nested too deeply"
        raise StoryError([Problem(where, message)]) from exc
    except OSError as exc:
        raise StoryError([Problem(where, f"cannot be read: {exc.strerror}")]) from exc


def _configured_layers(
    raw: dict[str, Any],
    folder: Path | None,
    where: str,
    problems: list[Problem],
    licence: str | None,
) -> list[_Named]:
    """The layers map.toml lists, in its [layers.NAME] tables."""
    tables = raw.get("layers") if isinstance(raw.get("layers"), dict) else {}
    out = []
    for name, table in tables.items():
        field = f"layers.{name}"
        if not isinstance(table, dict):
            problems.append(Problem(where, "expected a table [layers.NAME]", field=field))
            continue
        here = where if folder is not None else name  # from Python, a problem names the layer
        _check_name(name, here, field, problems)
        config = _layer_config(name, table, folder, here, problems, licence)
        out.append(_Named(config, here, field))
    return out


def _unlisted_layers(
    folder: Path, listed: list[_Named], problems: list[Problem], licence: str | None
) -> list[_Named]:
    """A plain layer, named after its file, for each *.geojson file map.toml does not list."""
    try:
        files = sorted(p.name for p in folder.glob("*.geojson") if p.is_file())
    except OSError as exc:
        problems.append(Problem(str(folder), f"cannot be read: {exc.strerror}"))
        return []
    taken = {os.path.normpath(n.config.file) for n in listed}
    out = []
    for fname in files:
        if fname in taken:
            continue
        where, name = str(folder / fname), fname.removesuffix(".geojson")
        _check_name(name, where, None, problems)
        out.append(_Named(_layer_config(name, {}, folder, where, problems, licence), where, None))
    return out


def _check_name(name: str, where: str, field: str | None, problems: list[Problem]) -> None:
    """A layer name becomes file names, GeoPackage tables and page element ids: refuse what
    would break one of them, but keep hyphens, dots, leading digits and non-ASCII letters."""
    message = _name_problem(name)
    if message:
        hint = "" if field else " (the layer is named after its file: rename the file)"
        problems.append(Problem(where, message + hint, field=field))


def _name_problem(name: str) -> str | None:
    if not name:
        return "layer name is empty"
    if name[0] in "-.":
        return f"layer name {shown(name)} must not start with '-' or '.'"
    bad = next((c for c in name if not _name_char(c)), None)
    if bad is not None:
        return (
            f"layer name {shown(name)} may use only letters, digits, '_', '-' and '.', "
            f"found {bad!r}"
        )
    return None


def _name_char(char: str) -> bool:
    # Combining marks too: 'région' typed on a Mac may name its file with a decomposed 'é'.
    return char.isalnum() or char in "_-." or unicodedata.category(char).startswith("M")


def _check_unique_names(named: list[_Named], problems: list[Problem]) -> None:
    """Two layers may not share a name up to case: file systems and GeoPackage table names
    ignore case, so 'Roads' and 'roads' would overwrite each other."""
    seen: dict[str, str] = {}
    for n in named:
        name = n.config.name
        key = unicodedata.normalize("NFC", name).casefold()
        if key not in seen:
            seen[key] = name
            continue
        other = seen[key]
        message = (
            f"two layers are named {shown(name)}"
            if other == name
            else f"layer name {shown(name)} differs from {shown(other)} only by upper/lower "
            "case; layer names must differ by more than upper/lower case "
            "(file systems and GeoPackage tables ignore case)"
        )
        problems.append(Problem(n.where, message, field=n.field))


def _check_order(order: list, known: set[str], where: str, problems: list[Problem]) -> None:
    for i, name in enumerate(order):
        if not isinstance(name, str):
            message = f"expected a layer name (a string), found {_found(name)}"
        elif name not in known:
            message = f"unknown layer {shown(name)}; expected one of: {', '.join(sorted(known))}"
        else:
            continue
        problems.append(Problem(where, message, field=f"order[{i}]"))


def _layer_config(
    name: str,
    table: dict,
    folder: Path | None,
    where: str,
    problems: list[Problem],
    licence: str | None,
) -> LayerConfig:
    prefix = f"layers.{name}"
    _check_table(table, LAYER_KEYS, prefix + ".", where, problems)
    kind = table.get("kind", "features")
    if kind not in kinds():
        problems.append(
            Problem(
                where,
                f"unknown kind {shown(kind)}; expected one of: {', '.join(sorted(kinds()))}",
                field=prefix + ".kind",
            )
        )
        kind = "features"
    file = table.get("file", f"{name}.geojson")
    if isinstance(file, str) and folder is not None:
        _check_file(file, folder, where, prefix + ".file", problems)
    style = table.get("style", {})
    if isinstance(style, dict):
        style = _checked_style(style, prefix + ".style.", where, problems)
    categories = table.get("categories", {})
    if isinstance(categories, dict):
        for key, value in categories.items():
            _check_colour(value, where, f"{prefix}.categories.{key}", problems)
    operators = table.get("operators", {})
    if isinstance(operators, dict):
        for key, value in operators.items():
            _check_colour(value, where, f"{prefix}.operators.{key}", problems)
        if operators and kind != "bases":
            problems.append(
                Problem(where, "only a bases layer has operators", field=prefix + ".operators")
            )
    field_labels = table.get("field_labels", {})
    if isinstance(field_labels, dict):
        for key, value in field_labels.items():
            if not (isinstance(value, str) and value.strip()):
                problems.append(
                    Problem(
                        where,
                        f"expected the name popups show for property {shown(key)} (a string), "
                        f"found {_found(value)}",
                        field=f"{prefix}.field_labels.{key}",
                    )
                )
    popup = table.get("popup")
    if isinstance(popup, list) and not all(isinstance(v, str) for v in popup):
        problems.append(
            Problem(where, "expected a list of property names (strings)", field=prefix + ".popup")
        )
    source_url = table.get("source_url")
    reason = url_problem(source_url) if isinstance(source_url, str) else None
    if reason:
        problems.append(
            Problem(
                where,
                f"expected an http(s) URL, found {shown(source_url)} ({reason})",
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
        date_field=table.get("date_field"),
        categories=MappingProxyType(dict(categories) if isinstance(categories, dict) else {}),
        operators=MappingProxyType(dict(operators) if isinstance(operators, dict) else {}),
        source_name=table.get("source_name"),
        source_url=source_url,
        licence=table.get("licence", licence),
        show=table.get("show", True),
        legend=table.get("legend", not kinds()[kind].base),
        field_labels=MappingProxyType(
            {k: v for k, v in field_labels.items() if isinstance(v, str)}
            if isinstance(field_labels, dict)
            else {}
        ),
    )


def _check_file(file: str, folder: Path, where: str, field: str, problems: list[Problem]) -> None:
    """A layer file is named relative to the story folder and may not leave it: a story is
    published as a whole, and must not read (and publish) files from elsewhere."""
    path = Path(file)
    if path.is_absolute() or ".." in path.parts:
        message = f"file must be inside the story folder, found {shown(file)}"
    elif not (folder / path).is_file():
        message = f"file {shown(file)} not found in {folder}"
    else:
        return
    problems.append(Problem(where, message, field=field))


def _checked_style(style: dict, prefix: str, where: str, problems: list[Problem]) -> dict[str, Any]:
    """Check a [style] table's keys, types, colours and ranges; return it with the dash
    pattern normalised to the space-separated form every renderer reads."""
    _check_table(style, STYLE_KEYS, prefix, where, problems)
    out = dict(style)
    for key, value in style.items():
        field = prefix + key
        if "color" in key and isinstance(value, str):
            _check_colour(value, where, field, problems)
        elif key in STYLE_RANGES and _is_number(value):
            low, high = STYLE_RANGES[key]
            if not low <= value <= high:  # also refuses nan
                problems.append(
                    Problem(
                        where,
                        f"expected a number from {low:g} to {high:g}, found {shown(value)}",
                        field=field,
                    )
                )
        elif key == "dash_array" and isinstance(value, str):
            dashes = _dash_array(value)
            if dashes is None:
                problems.append(
                    Problem(
                        where,
                        f"expected an SVG dash pattern: lengths in pixels from 0 to "
                        f"{DASH_MAX_PX}, not all 0, separated by spaces or commas, like '4 3'; "
                        f"found {shown(value)}",
                        field=field,
                    )
                )
            else:
                out[key] = dashes
    return out


def _dash_array(text: str) -> str | None:
    """'4 3' for '4,3', '4, 3' or '4 3'; '' (a solid line) for ''; None when it is not a
    list of lengths."""
    parts = [p for p in re.split(r"[\s,]+", text) if p]
    if not all(_DASH.match(p) for p in parts):
        return None
    lengths = [float(p) for p in parts]
    if lengths and (max(lengths) > DASH_MAX_PX or not any(lengths)):
        return None
    return " ".join(parts)


def url_problem(url: str) -> str | None:
    """Why a link is refused, None for a plain http(s) URL: only those become links, and a
    space or an invisible character in one can hide where it leads."""
    if (
        not url.isprintable() or " " in url  # ASCII: exactly the spaces and control characters
        if url.isascii()
        else any(c.isspace() or unicodedata.category(c).startswith("C") for c in url)
    ):
        return "a link may not contain spaces, control or invisible characters"
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "http://[x": an unclosed IPv6 address
        return str(exc)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "only http:// and https:// links are allowed"
    return None


def _check_colour(value: Any, where: str, field: str, problems: list[Problem]) -> None:
    if not (isinstance(value, str) and _COLOR.match(value)):
        problems.append(
            Problem(where, f"expected a colour like '#1a2b3c', found {shown(value)}", field=field)
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
                    f"expected {' or '.join(_TYPE_NAMES[t] for t in names)}, found {_found(value)}",
                    field=prefix + key,
                )
            )


def _found(value: Any) -> str:
    """'a number 3': what a wrong value is, for "expected X, found Y"."""
    return f"{_TYPE_NAMES.get(type(value), type(value).__name__)} {shown(value)}"


_TYPE_NAMES = {
    str: "a string",
    list: "a list",
    dict: "a table",
    bool: "true/false",
    int: "a number",
    float: "a number",
    dt.date: "a date",
    dt.datetime: "a date and time",
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "story"


def _chapters(raw: Any, where: str, problems: list[Problem]) -> tuple[Chapter, ...]:
    """[[chapters]]: each key checked; event ids are checked against the layers later."""
    if not isinstance(raw, list):
        return ()
    out = []
    for i, table in enumerate(raw):
        prefix = f"chapters[{i}]"
        if not isinstance(table, dict):
            problems.append(Problem(where, "expected a table [[chapters]]", field=prefix))
            continue
        before = len(problems)
        _check_table(table, CHAPTER_KEYS, prefix + ".", where, problems)
        for key in ("title", "text"):
            if key not in table:
                problems.append(
                    Problem(where, "missing; every chapter has one", field=f"{prefix}.{key}")
                )
        sentences = _sentences(table.get("text"), where, prefix + ".text", problems)
        ids = {
            key: _ids(table.get(key), where, f"{prefix}.{key}", problems)
            for key in ("events", "frame")
        }
        for key in ("from", "to"):
            value = table.get(key)
            if isinstance(value, str) and not _is_date_text(value):
                problems.append(
                    Problem(
                        where,
                        f"expected YYYY, YYYY-MM or YYYY-MM-DD, found {shown(value)}",
                        field=f"{prefix}.{key}",
                    )
                )
        bounds = _bounds(table.get("bounds"), where, prefix + ".bounds", problems)
        if len(problems) > before:
            continue
        out.append(
            Chapter(
                title=table["title"],
                text=sentences,
                start=table.get("from"),
                end=table.get("to"),
                events=ids["events"],
                frame=ids["frame"],
                bounds=bounds,
            )
        )
    return tuple(out)


def _annotations(raw: Any, where: str, problems: list[Problem]) -> tuple[Annotation, ...]:
    """[[annotations]]: each key checked; the site and event ids are checked against the
    layers when the sites are drawn (geo.kindmods.bases)."""
    if raw is None:
        return ()
    out = []
    for i, table in enumerate(raw if isinstance(raw, list) else ()):
        prefix = f"annotations[{i}]"
        if not isinstance(table, dict):
            problems.append(Problem(where, "expected a table [[annotations]]", field=prefix))
            continue
        before = len(problems)
        _check_table(table, ANNOTATION_KEYS, prefix + ".", where, problems)
        for key in ANNOTATION_KEYS:
            if key not in table:
                problems.append(
                    Problem(where, "missing; every annotation has one", field=f"{prefix}.{key}")
                )
        text = table.get("text")
        if isinstance(text, str) and not text.strip():
            problems.append(Problem(where, "expected some text", field=f"{prefix}.text"))
        events = _ids(table.get("events"), where, f"{prefix}.events", problems)
        if isinstance(table.get("events"), list) and not table["events"]:
            problems.append(
                Problem(
                    where,
                    "expected the ids of the events the text rests on (at least one)",
                    field=f"{prefix}.events",
                )
            )
        if len(problems) > before:
            continue
        out.append(Annotation(table["at"], table["text"], events))
    return tuple(out)


_DATE_TEXT = re.compile(r"^[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?\Z")


def _is_date_text(value: str) -> bool:
    """'2024', '2024-03' or '2024-03-16', and a real date."""
    if not _DATE_TEXT.match(value):
        return False
    try:
        dt.date(*[*(int(p) for p in value.split("-")), 1, 1][:3])
    except ValueError:
        return False
    return True


def _sentences(raw: Any, where: str, field: str, problems: list[Problem]) -> tuple[Sentence, ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for j, item in enumerate(raw):
        ok = (
            isinstance(item, dict)
            and set(item) <= {"text", "events"}
            and isinstance(item.get("text"), str)
            and item["text"].strip()
        )
        if not ok:
            problems.append(
                Problem(
                    where,
                    "expected { text = 'a sentence', events = ['event-id', ...] }, "
                    f"found {shown(item)}",
                    field=f"{field}[{j}]",
                )
            )
            continue
        out.append(
            Sentence(
                item["text"], _ids(item.get("events"), where, f"{field}[{j}].events", problems)
            )
        )
    return tuple(out)


def _ids(raw: Any, where: str, field: str, problems: list[Problem]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not (isinstance(raw, list) and all(isinstance(v, str) for v in raw)):
        problems.append(
            Problem(where, f"expected a list of ids (strings), found {shown(raw)}", field=field)
        )
        return ()
    return tuple(raw)


def _bounds(raw: Any, where: str, field: str, problems: list[Problem]) -> tuple[float, ...] | None:
    if raw is None:
        return None
    ok = (
        isinstance(raw, list)
        and len(raw) == 4
        and all(_is_number(v) and math.isfinite(v) for v in raw)
        and -180 <= raw[0] < raw[2] <= 180
        and -90 <= raw[1] < raw[3] <= 90
    )
    if not ok:
        problems.append(
            Problem(
                where,
                f"expected [west, south, east, north] in degrees, found {shown(raw)}",
                field=field,
            )
        )
        return None
    return tuple(float(v) for v in raw)


_TABLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\Z")


def _tables(
    raw: Any, folder: Path | None, where: str, layers: list[str], problems: list[Problem]
) -> tuple[FigureTable, ...]:
    """[tables.NAME]: each key checked, then its rows (a CSV file, or ``rows``) checked by
    geo.figures; a problem in a row names the file, the row, its id and the column."""
    from geo.figures import KINDS, FigureTable, figures, read_csv, rows_from_records

    if not isinstance(raw, dict):
        return ()
    taken = {name.casefold(): name for name in layers}
    out = []
    for name, table in raw.items():
        prefix = f"tables.{name}"
        if not isinstance(table, dict):
            problems.append(Problem(where, "expected a table [tables.NAME]", field=prefix))
            continue
        before = len(problems)
        _check_table(table, TABLE_KEYS, prefix + ".", where, problems)
        if not _TABLE_NAME.match(name):
            message = (
                f"table name {shown(name)} may use only letters, digits, '_' and '-', "
                "and starts with a letter or digit"
            )
            problems.append(Problem(where, message, field=prefix))
        elif name.casefold() in taken:
            layer = shown(taken[name.casefold()])
            message = (
                f"table name {shown(name)} is also a layer's name ({layer}, ignoring case): "
                "both would be exported as data/NAME.csv"
            )
            problems.append(Problem(where, message, field=prefix))
        kind = table.get("kind", "figures")
        if kind not in KINDS:
            message = f"unknown table kind {shown(kind)}; expected one of: {', '.join(KINDS)}"
            problems.append(Problem(where, message, field=prefix + ".kind"))
        if len(problems) > before:
            continue
        if "rows" in table and "file" in table:
            message = "give either file or rows, not both"
            problems.append(Problem(where, message, field=prefix + ".rows"))
            continue
        if "rows" in table:
            source = f"{where}, {prefix}.rows"
            rows = rows_from_records(table["rows"], source, problems)
        elif folder is None:
            message = "a story given from Python reads no files: give the table's rows"
            problems.append(Problem(where, message, field=prefix + ".rows"))
            continue
        else:
            file = table.get("file", f"{name}.csv")
            _check_file(file, folder, where, prefix + ".file", problems)
            if len(problems) > before:
                continue
            source = str(folder / file)
            rows = read_csv(folder / file, source, problems)
        if rows is None:
            continue
        series = table.get("series")
        columns, found = figures(rows, source, series, problems, inline="rows" in table)
        out.append(
            FigureTable(
                name=name,
                title=table.get("title", name.replace("_", " ").capitalize()),
                series=series,
                unit=table.get("unit"),
                columns=columns,
                figures=found,
            )
        )
    return tuple(out)
