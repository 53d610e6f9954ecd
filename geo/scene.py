"""The scene: a layer as every output draws it, decided once by the layer's kind.

A kind's module (``geo.kinds.<kind>``) turns a validated layer into a :class:`LayerScene`:
the features to draw with their symbol and category, labels with priorities, legend rows,
the popup's template and the text version's entries. The web page, the PNG preview, the QGIS
styles and the KML draw scenes and nothing else, so whatever map.toml says about colour,
category or visibility has the same effect in all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

import geopandas as gpd

Family = Literal["point", "line", "polygon"]
Shape = Literal["circle", "square", "diamond", "event"]
Swatch = Literal[
    "fill",
    "line",
    "dash",
    "water",
    "dot",
    "site",
    "site-ended",
    "ring",
    "event",
    "event-vague",
    "badge",
    "arrow",
]


@dataclass(frozen=True)
class Symbol:
    """How a feature is drawn, in the web map's units (pixels, opacities 0..1)."""

    stroke: str
    stroke_width: float
    stroke_opacity: float = 1.0
    fill: str | None = None
    fill_opacity: float = 0.0
    dash: tuple[float, ...] = ()
    shape: Shape = "circle"  # point layers only
    radius: float = 6.0  # point layers only

    def coloured(self, colour: str, family: Family) -> Symbol:
        """This symbol in a category's colour: it fills points and polygons, strokes lines."""
        return replace(self, stroke=colour) if family == "line" else replace(self, fill=colour)


@dataclass(frozen=True)
class Categories:
    """Features coloured by the value of ``field``: value -> symbol, in legend order."""

    field: str
    symbols: Mapping[str, Symbol]
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def symbol_for(self, value: Any, default: Symbol) -> Symbol:
        return self.symbols.get(str(value), default) if value is not None else default


@dataclass(frozen=True)
class Label:
    """A permanent label; when two collide, the higher ``priority`` stays."""

    text: str
    lon: float
    lat: float
    priority: int
    role: str  # text style: "country", "focus", "place" or "site"
    rank: str = ""  # a place's rank, for styling


@dataclass(frozen=True)
class LegendEntry:
    swatch: Swatch
    label: str
    color: str | None
    stroke: str | None = None
    timeline: bool = False  # explains how the timeline changes a symbol: only with a timeline


@dataclass(frozen=True)
class Phrase:
    """A piece of the text version: plain text, or a date (``datetime`` in HTML's forms,
    YYYY, YYYY-MM or YYYY-MM-DD, as precise as its source) that becomes a ``<time>``."""

    text: str
    datetime: str | None = None


@dataclass(frozen=True)
class TextEntry:
    """One feature in the text version, as its kind words it: a title, an optional date or
    period, lines of text, its caveat and source, and nested entries (a site's presences).
    ``layer`` and ``feature`` name the map marker that "Show on map" opens (None: none)."""

    id: str | None  # the element id, unique in the page (None: the entry needs none)
    title: str
    when: tuple[Phrase, ...] = ()
    lines: tuple[tuple[Phrase, ...], ...] = ()
    note: str | None = None
    source_name: str | None = None
    source_url: str | None = None  # a link only when geo.text.is_link says so
    link: bool = False
    layer: str | None = None
    feature: str | None = None
    items: tuple[TextEntry, ...] = ()

    @staticmethod
    def element_id(layer: str, feature: str) -> str:
        """'gs-bases--ab101': unique in the page, as ids are slugs (never '--') and layer names
        are unique; no other element id of the page has '--'."""
        return f"gs-{layer}--{feature}"


@dataclass(frozen=True)
class TextSection:
    """A layer's part of the text version (the map's no-JavaScript, screen-reader equivalent):
    a collapsible list under ``title``. The kind decides what it says; the page only draws it."""

    title: str
    entries: tuple[TextEntry, ...]


@dataclass(frozen=True)
class LayerScene:
    """One layer, ready to draw: ``frame`` holds one row per drawn feature (map geometry and
    the columns that the popup, the title and the categories read)."""

    name: str
    kind: str
    title: str
    family: Family
    frame: gpd.GeoDataFrame
    symbol: Symbol
    categories: Categories | None = None
    labels: tuple[Label, ...] = ()
    legend: tuple[LegendEntry, ...] = ()
    popup: tuple[Mapping[str, Any], ...] = ()  # rows of the popup template, see geo.contract
    # the feature's name on hover and for screen readers; several fields: joined by ": "
    title_field: str | tuple[str, ...] | None = None
    id_field: str | None = None
    show: bool = True
    control: bool = True  # listed in the layer control
    interactive: bool = True
    cluster: bool = False  # co-located points gather in clusters
    ring_field: str | None = None  # metres of an uncertainty ring around each point
    ring: Symbol | None = None  # how that ring is drawn
    bearing_field: str | None = None  # far-away points: drawn as an arrow pointing this way
    # Far-away points: the columns of their place's name, longitude and latitude (the frame
    # holds them at the view's edge); the web page gathers them in a chip per place
    far_fields: tuple[str, str, str] | None = None
    # Points that stand for a whole area (an event dated to a country, not a place in it): the
    # column naming the area, whose label lists them; they are not drawn as points
    area_field: str | None = None
    # The same rows told by the data's own columns, for outputs that filter the data (a GIS
    # style, a KML folder): (field, its values that mark such a row)
    area_rule: tuple[str, tuple[str, ...]] | None = None
    vague_field: str | None = None  # column true where a date is known only to month or year
    # Dated layers: the layer's (date, precision, end date, end precision) fields, and the
    # frame's columns with each feature's first and last day (see geo.dates.day_number)
    time: tuple[str, str, str | None, str | None] | None = None
    days: tuple[str, str] | None = None
    count_as: str | None = None  # what the timeline counts this layer's features as: "events"
    # "filter": shown only when dated within the selected range; "status": shown once started,
    # drawn as ended once every period has ended (sites and their presences)
    time_mode: Literal["filter", "status"] = "filter"
    listing: tuple[Mapping[str, Any], ...] = ()  # entries of the text version, in order
    in_legend: bool = True  # its legend rows are in the map's key (base layers: not by default)
    text_section: TextSection | None = None  # other kinds' part of the text version
    columns: tuple[str, ...] = ()  # more columns the page reads (a site's events, callouts)

    def symbol_of(self, index: int) -> Symbol:
        """The symbol of the feature in row ``index``."""
        if self.categories is None:
            return self.symbol
        value = self.frame[self.categories.field].iloc[index]
        return self.categories.symbol_for(value, self.symbol)


@dataclass(frozen=True)
class KeyRow:
    """One row of the map's key: a layer's legend entries, after the layer's title when no
    entry names the layer itself (events: "Events:" then a swatch per category)."""

    layer: str
    heading: str | None
    entries: tuple[LegendEntry, ...]
    show: bool  # the layer is drawn when the map opens


def key_rows(scenes: Sequence[LayerScene], timeline: bool = True) -> tuple[KeyRow, ...]:
    """The map's key, the top layer first: a row for each scene in the key (base layers are
    not, unless map.toml puts them back) that has legend entries. Every output's key comes
    from here; one without a timeline (``timeline=False``, the static preview) leaves out the
    entries that explain what the timeline does."""
    rows = []
    for scene in reversed(scenes):
        entries = tuple(e for e in scene.legend if timeline or not e.timeline)
        if not scene.in_legend or not entries:
            continue
        named = any(e.label == scene.title for e in entries)
        rows.append(KeyRow(scene.name, None if named else scene.title, entries, scene.show))
    return tuple(rows)
