"""A static picture of the story for link previews (og:image): a 1200x630 PNG, no browser.

It shows what the web map opens on: the same view, layers, styles and event colours, taken
from the same places (``view``'s initial view and label points, each layer's style and ``styles``'
symbols and category colours). It draws on matplotlib's Agg canvas directly, with no pyplot
state, under matplotlib's default settings and in the fonts matplotlib ships, so the same story
gives the same bytes whatever the machine's matplotlibrc or installed fonts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.style
import numpy as np
import shapely
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Ellipse, PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from geo.combine import Story
from geo.load import Layer
from geo.styles import FOCUS_FIELD, FOCUS_VALUE, Symbol, category_colours, layer_style
from geo.view import SEA, SWATCH, geometry_family, label_point, view_bounds

WIDTH, HEIGHT, DPI = 1200, 630, 100
PT = 72 / DPI  # points per pixel: sizes here are pixels, as on the web map
PAPER = "#ffffff"
MARGIN = 28
SIDE_MAP_WIDTH = (480, 760)  # the map beside the text column: narrowest, widest
MAP_PADDING = 14  # sea around the view, like the web map's fitBounds padding
KM_PER_DEGREE = 111.32  # of latitude
PLACE_RANKS = ("national capital",)  # the places the preview shows
BASE_PX = 11  # a base's diamond, as .gs-base-symbol in story.css
EVENT_PX = 12  # an event's dot with its white rim, as .gs-dot
EVENT_SPACING_PX = 7.0  # sunflower scale: the dots of events in one spot just touch
GOLDEN_ANGLE = math.radians(137.508)
_RC: dict[str, Any] = {"lines.scale_dashes": False}  # dash lengths in points, not line widths
_FONTS = Path(matplotlib.get_data_path(), "fonts", "ttf")
_HALO = [patheffects.withStroke(linewidth=3.2 * PT, foreground="#ffffff")]

Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class TextStyle:
    font: str  # one of matplotlib's DejaVu Sans files
    px: float
    colour: str
    leading: float = 1.25  # line height over font size

    @property
    def prop(self) -> FontProperties:
        return FontProperties(fname=_FONTS / self.font, size=self.px * PT)

    @property
    def line_height(self) -> float:
        return self.px * self.leading


# Sizes and colours as on the web page (story.css), a little larger for a picture seen small.
TEXT = {
    "title": TextStyle("DejaVuSans-Bold.ttf", 30, "#1d1d1d", 1.18),
    "subtitle": TextStyle("DejaVuSans.ttf", 17, "#4a4a4a", 1.3),
    "credit": TextStyle("DejaVuSans.ttf", 11.5, "#6a6a6a", 1.3),
    "legend": TextStyle("DejaVuSans.ttf", 13.5, "#333333", 1.5),
    "heading": TextStyle("DejaVuSans-Bold.ttf", 13.5, "#333333", 1.5),
    "note": TextStyle("DejaVuSans-Oblique.ttf", 12, "#4a4a4a", 1.5),
    "country": TextStyle("DejaVuSans.ttf", 12.5, "#5b554a"),
    "focus": TextStyle("DejaVuSans-Bold.ttf", 17, "#6b3510"),
    "place": TextStyle("DejaVuSans-Bold.ttf", 11.5, "#333333"),
}


def write_preview(story: Story, path: Path) -> None:
    """Draw the story as the web map opens on it and save it as a 1200x630 PNG."""
    with matplotlib.style.context(["default", _RC]):
        figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor=PAPER)
        canvas = FigureCanvasAgg(figure)
        _draw(story, figure, Measure(canvas.get_renderer()))
        figure.savefig(
            Path(path), format="png", dpi=DPI, facecolor=PAPER, metadata={"Software": None}
        )


# --- layout: where the map and the text go ------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """A rectangle of the picture in pixels, y downwards."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class MapFrame:
    """The map's box, the view it must show and the lon/lat extent that fills the box."""

    box: Box
    view: Bounds
    extent: Bounds
    px_per_lon: float
    px_per_lat: float

    def to_px(self, lon: float, lat: float) -> tuple[float, float]:
        return (
            self.box.x + (lon - self.extent[0]) * self.px_per_lon,
            self.box.y + (self.extent[3] - lat) * self.px_per_lat,
        )

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        return (
            self.extent[0] + (x - self.box.x) / self.px_per_lon,
            self.extent[3] - (y - self.box.y) / self.px_per_lat,
        )

    def shows(self, lon: float, lat: float) -> bool:
        return self.extent[0] <= lon <= self.extent[2] and self.extent[1] <= lat <= self.extent[3]


@dataclass(frozen=True)
class Layout:
    """Where everything goes, the texts already wrapped to their room."""

    frame: MapFrame
    head: Box  # title, then subtitle, from its top left
    title: tuple[str, ...]  # lines, wrapped and shortened to fit
    subtitle: tuple[str, ...]
    credit: tuple[str, ...]
    credit_top: float
    legend: Box  # room for the legend
    legend_on_map: bool  # in a white box over the map's corner


def _layout(story: Story, measure: Measure) -> Layout:
    """Side by side (text column, map) or a banner over a full-width map: whichever shows the
    view larger, side by side unless the banner is clearly better."""
    view = view_bounds(story)
    side, banner = _side_layout(story, view, measure), _banner_layout(story, view, measure)
    return banner if banner.frame.px_per_lat > 1.05 * side.frame.px_per_lat else side


def _side_layout(story: Story, view: Bounds, measure: Measure) -> Layout:
    low, high = SIDE_MAP_WIDTH
    map_w = float(min(high, max(low, round(HEIGHT * _aspect(view)))))
    column = Box(MARGIN, MARGIN, WIDTH - map_w - 2 * MARGIN, HEIGHT - 2 * MARGIN)
    config = story.config
    title = measure.wrap(config.title, "title", column.w, 3)
    subtitle = measure.wrap(config.subtitle, "subtitle", column.w, 3)
    credit = measure.wrap(config.credit, "credit", column.w, 3)
    credit_top = column.y + column.h - _height(credit, "credit")
    legend_top = column.y + _height(title, "title") + 6 + _height(subtitle, "subtitle") + 24
    legend = Box(column.x, legend_top, column.w, credit_top - 16 - legend_top)
    frame = _frame(Box(WIDTH - map_w, 0, map_w, HEIGHT), view)
    return Layout(frame, column, title, subtitle, credit, credit_top, legend, False)


def _banner_layout(story: Story, view: Bounds, measure: Measure) -> Layout:
    width = WIDTH - 2 * MARGIN
    config = story.config
    title = measure.wrap(config.title, "title", width, 2)
    subtitle = measure.wrap(config.subtitle, "subtitle", width, 1)
    credit = measure.wrap(config.credit, "credit", width, 1)
    top = MARGIN * 0.7
    head = top + _height(title, "title") + 6 + _height(subtitle, "subtitle") + 12
    foot = _height(credit, "credit") + 12 if credit else 0
    map_box = Box(0, head, WIDTH, HEIGHT - head - foot)
    legend = Box(MARGIN / 2, head + MARGIN / 2, width / 2, map_box.h - MARGIN)
    frame = _frame(map_box, view)
    return Layout(
        frame,
        Box(MARGIN, top, width, head),
        title,
        subtitle,
        credit,
        HEIGHT - foot + 6,
        legend,
        True,
    )


def _aspect(view: Bounds) -> float:
    """Width over height of the view on the map."""
    minx, miny, maxx, maxy = view
    return max(maxx - minx, 0.01) * _cos_mid(view) / max(maxy - miny, 0.01)


def _cos_mid(view: Bounds) -> float:
    """Equirectangular, true to scale along the view's middle latitude."""
    return math.cos(math.radians((view[1] + view[3]) / 2))


def _frame(box: Box, view: Bounds) -> MapFrame:
    """The view centred in the box, as large as fits; the rest of the box is sea."""
    minx, miny, maxx, maxy = view
    cos = _cos_mid(view)
    per_lat = min(
        (box.w - 2 * MAP_PADDING) / (max(maxx - minx, 0.01) * cos),
        (box.h - 2 * MAP_PADDING) / max(maxy - miny, 0.01),
    )
    per_lon = per_lat * cos
    cx, cy, half_x, half_y = (minx + maxx) / 2, (miny + maxy) / 2, box.w / 2, box.h / 2
    extent = (
        cx - half_x / per_lon,
        cy - half_y / per_lat,
        cx + half_x / per_lon,
        cy + half_y / per_lat,
    )
    return MapFrame(box, view, extent, per_lon, per_lat)


def _height(lines: Sequence[str], role: str) -> float:
    return len(lines) * TEXT[role].line_height


class Measure:
    """Text widths from the Agg renderer, to wrap and shorten text to the room it has."""

    def __init__(self, renderer: RendererAgg) -> None:
        self._renderer = renderer

    def width(self, text: str, role: str) -> float:
        prop = TEXT[role].prop
        return self._renderer.get_text_width_height_descent(text, prop, ismath=False)[0]

    def wrap(self, text: str, role: str, width: float, max_lines: int) -> tuple[str, ...]:
        """Greedy word wrap; what does not fit in ``max_lines`` ends in an ellipsis."""
        lines: list[str] = []
        for word in text.split():
            if lines and self.width(f"{lines[-1]} {word}", role) <= width:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        if len(lines) > max_lines:
            lines[max_lines - 1 :] = [
                self.shorten(" ".join(lines[max_lines - 1 :]) + "…", role, width)
            ]
        return tuple(self.shorten(line, role, width) for line in lines)

    def shorten(self, text: str, role: str, width: float) -> str:
        """The text, or as many of its words as fit with an ellipsis."""
        if self.width(text, role) <= width:
            return text
        words = text.rstrip("…").split()
        while len(words) > 1 and self.width(" ".join(words) + "…", role) > width:
            words.pop()
        text = " ".join(words).rstrip(",;:") + "…"
        while len(text) > 1 and self.width(text, role) > width:  # one long word
            text = text[:-2] + "…"
        return text


# --- the picture ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A legend row. ``kind``: fill, line, dot, event, diamond (drawn with ``symbol``), or
    heading and note (text only)."""

    kind: str
    label: str
    symbol: Symbol | None = None


@dataclass(frozen=True)
class Scene:
    """What every layer's drawing function needs: the map's axes, the story and the frame."""

    ax: Axes
    story: Story
    frame: MapFrame


# Above the layers' shapes (stacked in story order), bottom to top, as in Leaflet's panes.
Z_SHAPES, Z_RINGS, Z_PLACES, Z_COUNTRY_LABELS, Z_EVENTS, Z_BASES, Z_PLACE_LABELS = range(1, 8)


def _draw(story: Story, figure: Figure, measure: Measure) -> None:
    layout = _layout(story, measure)
    frame = layout.frame
    box = frame.box
    ax = figure.add_axes(
        (box.x / WIDTH, 1 - (box.y + box.h) / HEIGHT, box.w / WIDTH, box.h / HEIGHT)
    )
    ax.set_axis_off()  # which also hides the axes' background: the sea is a patch of its own
    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, facecolor=SEA, zorder=0))
    ax.set_xlim(frame.extent[0], frame.extent[2])
    ax.set_ylim(frame.extent[1], frame.extent[3])
    scene = Scene(ax, story, frame)
    legend: list[Entry] = []
    for i, layer in enumerate(story.layers):
        if layer.config.show:  # hidden layers are off when the web map opens
            draw = _DRAW.get(layer.config.kind, _features)
            legend.extend(draw(scene, layer, Z_SHAPES + i / 100))
    paper = figure.add_axes((0, 0, 1, 1), zorder=10)  # in pixels, y downwards
    paper.set_axis_off()
    paper.set_xlim(0, WIDTH)
    paper.set_ylim(HEIGHT, 0)
    y = _text_lines(paper, layout.title, "title", layout.head.x, layout.head.y)
    _text_lines(paper, layout.subtitle, "subtitle", layout.head.x, y + 6)
    _text_lines(paper, layout.credit, "credit", layout.head.x, layout.credit_top)
    _legend(paper, legend, layout, measure)


def _text_lines(paper: Axes, lines: Sequence[str], role: str, x: float, top: float) -> float:
    """Lines of text from ``top`` down; returns the bottom of the last."""
    style = TEXT[role]
    for i, line in enumerate(lines):
        _text(paper, x, top + (i + 0.5) * style.line_height + 0.36 * style.px, line, style)
    return top + len(lines) * style.line_height


def _text(ax: Axes, x: float, y: float, text: str, style: TextStyle, **kwargs: Any) -> None:
    kwargs.setdefault("va", "baseline")
    ax.text(
        x,
        y,
        text,
        fontproperties=style.prop,
        color=style.colour,
        parse_math=False,  # a '$' in a title is a dollar sign
        **kwargs,
    )


# --- shapes and symbols ---------------------------------------------------------------------------


def _by_geometry(geoms: np.ndarray) -> dict[str, np.ndarray]:
    dims = shapely.get_dimensions(geoms)
    return {"polygon": geoms[dims == 2], "line": geoms[dims == 1], "point": geoms[dims == 0]}


def _shapes(ax: Axes, geoms: np.ndarray, symbol: Symbol, geometry: str, z: float) -> None:
    """Polygons or lines of one symbol as a single patch; points as circle markers."""
    if len(geoms) == 0:
        return
    if geometry == "point":
        _dots(ax, shapely.get_coordinates(geoms), symbol, z)
        return
    if geometry == "polygon":
        rings = shapely.get_rings(shapely.get_parts(shapely.orient_polygons(geoms)))
        paths = [MplPath(shapely.get_coordinates(r), closed=True) for r in rings]
        face = to_rgba(symbol.fill, symbol.fill_opacity) if symbol.fill else "none"
    else:
        paths = [MplPath(shapely.get_coordinates(g)) for g in shapely.get_parts(geoms)]
        face = "none"
    ax.add_patch(
        PathPatch(
            MplPath.make_compound_path(*paths),
            facecolor=face,
            edgecolor=to_rgba(symbol.stroke, symbol.stroke_opacity),
            linewidth=symbol.stroke_width * PT,
            linestyle=_dashes(symbol.dash),
            joinstyle="round",
            capstyle="round",
            zorder=z,
        )
    )


def _dashes(dash: tuple[float, ...]) -> Any:
    return (0, tuple(d * PT for d in dash)) if dash else "solid"


def _dots(ax: Axes, xy: np.ndarray, symbol: Symbol, z: float) -> None:
    """Leaflet's circle markers."""
    ax.scatter(
        xy[:, 0],
        xy[:, 1],
        s=(2 * symbol.radius * PT) ** 2,
        c=[to_rgba(symbol.fill or symbol.stroke, symbol.fill_opacity)],
        edgecolors=[to_rgba(symbol.stroke, symbol.stroke_opacity)],
        linewidths=symbol.stroke_width * PT,
        zorder=z,
    )


def _event_dots(ax: Axes, xy: np.ndarray, colours: list[str], rim: str, z: float) -> None:
    """The web map's event dot: the category's colour, a white rim and a faint dark outline."""
    ax.scatter(xy[:, 0], xy[:, 1], s=((EVENT_PX + 2) * PT) ** 2, c=[(0, 0, 0, 0.45)], zorder=z)
    ax.scatter(
        xy[:, 0],
        xy[:, 1],
        s=(EVENT_PX * PT) ** 2,
        c=colours,
        edgecolors=[rim],
        linewidths=1.5 * PT,
        zorder=z,
    )


def _diamonds(ax: Axes, xy: np.ndarray, colour: str, z: float) -> None:
    """The web map's base symbol: a dark diamond with a white rim and a dark outline."""
    for size, edge, width in ((BASE_PX + 3, colour, 1.0), (BASE_PX, "#ffffff", 2.0)):
        ax.scatter(
            xy[:, 0],
            xy[:, 1],
            s=(size * PT) ** 2,
            marker="D",
            c=[colour],
            edgecolors=[edge],
            linewidths=width * PT,
            zorder=z,
        )


def _layer_shapes(scene: Scene, layer: Layer, z: float) -> None:
    """Every geometry of a layer in its style."""
    for geometry, geoms in _by_geometry(layer.web.geometry.values).items():
        _shapes(scene.ax, geoms, layer_style(layer.config, geometry, {}).symbol, geometry, z)


# --- per kind: draw the layer, return its legend rows ------------------------------------------


def _background(scene: Scene, layer: Layer, z: float) -> list[Entry]:
    """Context land and water: drawn, but too plain to need a legend row."""
    _layer_shapes(scene, layer, z)
    return []


def _countries(scene: Scene, layer: Layer, z: float) -> list[Entry]:
    """Neighbours, then the focus country over them, and every country's name."""
    web, story = layer.web, scene.story
    style = layer_style(layer.config, "polygon", {FOCUS_FIELD: web[FOCUS_FIELD]})
    others, focus = style.symbol, style.symbol_for(FOCUS_VALUE)
    is_focus = (web[FOCUS_FIELD] == FOCUS_VALUE).to_numpy()
    _shapes(scene.ax, web.geometry.values[~is_focus], others, "polygon", z)
    _shapes(scene.ax, web.geometry.values[is_focus], focus, "polygon", z + 0.001)
    for name, geom, focused in zip(web["name"], web.geometry.values, is_focus, strict=True):
        lat, lon = label_point(geom, scene.frame.view)
        _text(
            scene.ax,
            lon,
            lat,
            "\u2009".join(name.upper()),  # letter-spaced capitals, like the web map's labels
            TEXT["focus" if focused else "country"],
            ha="center",
            va="center",
            path_effects=_HALO,
            zorder=Z_COUNTRY_LABELS,
        )
    entries = [Entry("fill", story.focus, focus)] if story.focus else []
    return [*entries, Entry("fill", "Neighbours" if story.focus else layer.config.title, others)]


def _regions(scene: Scene, layer: Layer, z: float) -> list[Entry]:
    _layer_shapes(scene, layer, z)
    return [Entry("line", layer.config.title, layer_style(layer.config, "line", {}).symbol)]


def _places(scene: Scene, layer: Layer, z: float) -> list[Entry]:
    """National capitals: a dot and a name to its right."""
    shown = layer.web[layer.web["rank"].isin(PLACE_RANKS)]
    symbol = layer_style(layer.config, "point", {}).symbol
    _dots(scene.ax, shapely.get_coordinates(shown.geometry.values), symbol, Z_PLACES)
    for name, point in zip(shown[layer.config.label or "name"], shown.geometry, strict=True):
        x, y = scene.frame.to_px(point.x, point.y)
        lon, lat = scene.frame.to_lonlat(x + symbol.radius + 4, y)
        _text(
            scene.ax,
            lon,
            lat,
            name,
            TEXT["place"],
            va="center",
            path_effects=_HALO,
            zorder=Z_PLACE_LABELS,
        )
    return []


def _bases(scene: Scene, layer: Layer, z: float) -> list[Entry]:
    """A diamond per site in a circle as wide as the uncertainty of its position."""
    sites = layer.web.drop_duplicates("site_id")  # one symbol per site, as on the web map
    ring = layer_style(layer.config, "polygon", {}).symbol
    for point, km in zip(sites.geometry, sites["precision_km"], strict=True):
        radius = km / KM_PER_DEGREE
        ax_radius = radius / max(math.cos(math.radians(point.y)), 0.01)
        scene.ax.add_patch(
            Ellipse(
                (point.x, point.y),
                2 * ax_radius,
                2 * radius,
                facecolor=to_rgba(ring.fill or ring.stroke, ring.fill_opacity),
                edgecolor=to_rgba(ring.stroke, ring.stroke_opacity),
                linewidth=ring.stroke_width * PT,
                linestyle=_dashes(ring.dash),
                zorder=Z_RINGS,
            )
        )
    _diamonds(scene.ax, shapely.get_coordinates(sites.geometry.values), ring.stroke, Z_BASES)
    return [Entry("diamond", layer.config.title, ring)]


def _events(scene: Scene, layer: Layer, z: float) -> list[Entry]:
    """Dots coloured by category, those in one spot spread around it; far ones left out."""
    field = layer.config.category_field or "category"
    palette = category_colours(layer.config.categories, layer.frame[field])
    events = layer.web.sort_values([field, "date", "id"], kind="stable")
    inside = np.array([scene.frame.shows(p.x, p.y) for p in events.geometry], dtype=bool)
    shown, far = events[inside], events[~inside]
    rim = layer_style(layer.config, "point", {}).symbol.stroke
    spread = _spread([scene.frame.to_px(p.x, p.y) for p in shown.geometry])
    xy = np.array([scene.frame.to_lonlat(x, y) for x, y in spread]).reshape(-1, 2)
    _event_dots(scene.ax, xy, [palette[c] for c in shown[field]], rim, Z_EVENTS)
    entries = [Entry("heading", layer.config.title)] if len(shown) else []
    for category in dict.fromkeys(shown[field]):
        symbol = Symbol(stroke=rim, stroke_width=1.5, fill=palette[category])
        entries.append(Entry("event", category, symbol))
    if len(far):
        places = "; ".join(dict.fromkeys(far["place"]))
        entries.append(Entry("note", f"{len(far)} more off the map: {places}"))
    return entries


def _spread(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Where each point's dot goes, in pixels: points whose dots would overlap are merged into
    a group, repeatedly, and a group's dots laid out on a sunflower around its centre."""
    groups = [[i] for i in range(len(points))]
    while True:
        centres = [_centre(points, group) for group in groups]
        pair = next(
            (
                (a, b)
                for a in range(len(groups))
                for b in range(a + 1, len(groups))
                if math.dist(centres[a], centres[b])
                < _sunflower_radius(len(groups[a])) + _sunflower_radius(len(groups[b])) + 2
            ),
            None,
        )
        if pair is None:
            break
        groups[pair[0]] += groups.pop(pair[1])
    out = list(points)
    for group, (cx, cy) in zip(groups, centres, strict=True):
        if len(group) == 1:
            continue  # a dot alone stays where its event is
        for n, i in enumerate(sorted(group)):
            radius, angle = EVENT_SPACING_PX * math.sqrt(n + 0.5), n * GOLDEN_ANGLE
            out[i] = (cx + radius * math.cos(angle), cy + radius * math.sin(angle))
    return out


def _centre(points: Sequence[tuple[float, float]], group: list[int]) -> tuple[float, float]:
    return (
        sum(points[i][0] for i in group) / len(group),
        sum(points[i][1] for i in group) / len(group),
    )


def _sunflower_radius(n: int) -> float:
    """From the centre of a sunflower of n event dots to their outer edge."""
    return (EVENT_SPACING_PX * math.sqrt(n - 0.5) if n > 1 else 0) + EVENT_PX / 2


def _features(scene: Scene, layer: Layer, z: float) -> list[Entry]:
    """A plain layer in its colour (see story.py), as on the web map."""
    _layer_shapes(scene, layer, z)
    family = geometry_family(layer.web)
    return [Entry(SWATCH[family], layer.config.title, layer_style(layer.config, family, {}).symbol)]


_DRAW: dict[str, Callable[[Scene, Layer, float], list[Entry]]] = {
    "context": _background,
    "countries": _countries,
    "regions": _regions,
    "water": _background,
    "places": _places,
    "bases": _bases,
    "events": _events,
}


# --- legend -----------------------------------------------------------------------------------

SWATCH_W, SWATCH_GAP, COLUMN_GAP, HEADING_GAP, BOX_PAD = 22, 9, 24, 6, 10


def _legend(paper: Axes, entries: list[Entry], layout: Layout, measure: Measure) -> None:
    """Rows down the room it has, in more columns when they do not fit; what does not fit in
    the width is left off."""
    room = layout.legend
    pad = BOX_PAD if layout.legend_on_map else 0
    columns: list[list[tuple[Entry, float]]] = [[]]
    y = 0.0
    for entry in entries:
        gap = HEADING_GAP if entry.kind == "heading" and y > 0 else 0
        row_h = TEXT[_role(entry)].line_height
        if y + gap + row_h > room.h - 2 * pad and columns[-1]:
            columns.append([])
            y, gap = 0.0, 0
        columns[-1].append((entry, y + gap))
        y += gap + row_h
    label_room = room.w - 2 * pad - SWATCH_W - SWATCH_GAP
    widths = [
        min(label_room, max(_label_width(e, measure) for e, _ in column)) for column in columns
    ]
    while len(columns) > 1 and _columns_width(widths) > room.w - 2 * pad:
        columns.pop()
        widths.pop()
    if not columns[0]:
        return
    width = _columns_width(widths)
    height = max(y + TEXT[_role(e)].line_height for column in columns for e, y in column)
    top = room.y
    if layout.legend_on_map:  # in the map's lower left corner
        top = room.y + room.h - height - pad
        paper.add_patch(
            Rectangle(
                (room.x, top - pad),
                width + 2 * pad,
                height + 2 * pad,
                facecolor=(1, 1, 1, 0.92),
                edgecolor=(0, 0, 0, 0.25),
                linewidth=0.8 * PT,
            )
        )
    x = room.x + pad
    for column, label_w in zip(columns, widths, strict=True):
        for entry, row_y in column:
            role = _role(entry)
            mid = top + row_y + TEXT[role].line_height / 2
            _swatch(paper, entry, x, mid)
            indent = 0 if entry.symbol is None else SWATCH_W + SWATCH_GAP
            label = measure.shorten(entry.label, role, label_w + SWATCH_W + SWATCH_GAP - indent)
            _text(paper, x + indent, mid + 0.36 * TEXT[role].px, label, TEXT[role])
        x += label_w + SWATCH_W + SWATCH_GAP + COLUMN_GAP


def _columns_width(label_widths: Sequence[float]) -> float:
    n = len(label_widths)
    return sum(label_widths) + n * (SWATCH_W + SWATCH_GAP) + (n - 1) * COLUMN_GAP


def _role(entry: Entry) -> str:
    return entry.kind if entry.kind in ("heading", "note") else "legend"


def _label_width(entry: Entry, measure: Measure) -> float:
    """Width of the label beyond the swatch column (headings and notes start at the swatch)."""
    width = measure.width(entry.label, _role(entry))
    return width if entry.symbol is not None else width - SWATCH_W - SWATCH_GAP


def _swatch(paper: Axes, entry: Entry, x: float, y: float) -> None:
    """The entry's symbol, centred on the row at ``y``."""
    symbol = entry.symbol
    if symbol is None:
        return
    xy = np.array([[x + SWATCH_W / 2, y]])
    if entry.kind == "fill":
        paper.add_patch(
            Rectangle(
                (x, y - 7),
                SWATCH_W,
                14,
                facecolor=to_rgba(symbol.fill, symbol.fill_opacity) if symbol.fill else "none",
                edgecolor=symbol.stroke,
                linewidth=symbol.stroke_width * PT,
            )
        )
    elif entry.kind == "line":
        paper.plot(
            [x, x + SWATCH_W],
            [y, y],
            color=symbol.stroke,
            linewidth=max(symbol.stroke_width, 1.2) * PT,
            linestyle=_dashes(symbol.dash),
        )
    elif entry.kind == "dot":
        _dots(paper, xy, symbol, 1)
    elif entry.kind == "event":
        _event_dots(paper, xy, [symbol.fill or symbol.stroke], symbol.stroke, 1)
    elif entry.kind == "diamond":
        _diamonds(paper, xy, symbol.stroke, 1)
