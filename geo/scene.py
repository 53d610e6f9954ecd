"""The scene: a layer as every output draws it, decided once by the layer's kind.

A kind's module (``geo.kinds.<kind>``) turns a validated layer into a :class:`LayerScene`:
the features to draw with their symbol and category, labels with priorities, legend rows,
the popup's template and the text version's entries. The web page, the PNG preview, the QGIS
styles and the KML draw scenes and nothing else, so whatever map.toml says about colour,
category or visibility has the same effect in all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

import geopandas as gpd

Family = Literal["point", "line", "polygon"]
Shape = Literal["circle", "square", "diamond", "event"]
Swatch = Literal["fill", "line", "dash", "water", "dot", "site", "ring", "event", "arrow"]


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
    title_field: str | None = None  # the feature's name on hover and for screen readers
    id_field: str | None = None
    show: bool = True
    control: bool = True  # listed in the layer control
    interactive: bool = True
    cluster: bool = False  # co-located points gather in clusters
    ring_field: str | None = None  # metres of an uncertainty ring around each point
    ring: Symbol | None = None  # how that ring is drawn
    bearing_field: str | None = None  # far-away points: drawn as an arrow pointing this way
    # Dated layers: the layer's (date, precision, end date, end precision) fields, and the
    # frame's columns with each feature's first and last day (see geo.dates.day_number)
    time: tuple[str, str, str | None, str | None] | None = None
    days: tuple[str, str] | None = None
    count_as: str | None = None  # what the timeline counts this layer's features as: "events"
    # "filter": shown only when dated within the selected range; "status": shown once started,
    # drawn as ended once every period has ended (sites and their presences)
    time_mode: Literal["filter", "status"] = "filter"
    listing: tuple[Mapping[str, Any], ...] = ()  # entries of the text version, in order

    def symbol_of(self, index: int) -> Symbol:
        """The symbol of the feature in row ``index``."""
        if self.categories is None:
            return self.symbol
        value = self.frame[self.categories.field].iloc[index]
        return self.categories.symbol_for(value, self.symbol)
