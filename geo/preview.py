"""A static picture of the story for link previews (og:image): a 1200x630 PNG, no browser.

It shows what the web map opens on: the same view, layers, styles and event colours, taken
from the same places (``view``'s initial view and label points, each layer's style and ``styles``'
symbols and category colours). It draws on matplotlib's Agg canvas directly, with no pyplot
state, under matplotlib's default settings and in the fonts matplotlib ships, so the same story
gives the same bytes whatever the machine's matplotlibrc or installed fonts.

Whatever a story holds, the work is bounded: sizes, dashes, circles and text are cut to what the
picture can show, and texts and markers are placed by searches and grids, not letter by letter
or pair by pair, since matplotlib's C code cannot be interrupted, not even by Ctrl-C.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.style
import numpy as np
import pandas as pd
import shapely
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from geo.combine import Story
from geo.load import Layer
from geo.styles import FOCUS_FIELD, FOCUS_VALUE, Symbol, category_colours, layer_style
from geo.text import missing
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
CATEGORY = "__preview_category__"  # the events' category as text, beside their properties
SPREAD_CELL_PX = EVENT_PX + 2  # the grid that finds overlapping dots: about a dot's reach
# Bounds on what is drawn, far beyond any real story, so that no input can hang matplotlib:
MAX_PX = float(WIDTH)  # no line width, marker radius or dash is wider than the picture
MIN_DASH_PERIOD = 1.0  # px: a finer pattern looks solid and would cost a dash per pixel
MAX_TEXT_CHARS = 2000  # a line holds ~400; matplotlib lays text out at ~20 µs a character
RING_TOLERANCE_PX = 0.1  # how far a base's ring, drawn as a polygon, strays from the circle
MAX_RING_VERTICES = 100_000  # the largest ring that can show needs about 30,000
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

    def shows(self, lon: Any, lat: Any) -> Any:
        """Whether the point is on the map; for arrays of lon and lat too."""
        west, south, east, north = self.extent
        return (west <= lon) & (lon <= east) & (south <= lat) & (lat <= north)

    def around(self, px: float) -> Bounds:
        """The extent and ``px`` pixels more on every side: what is drawn there is hidden."""
        dx, dy = px / self.px_per_lon, px / self.px_per_lat
        west, south, east, north = self.extent
        return (west - dx, south - dy, east + dx, north + dy)


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
        return self._renderer.get_text_width_height_descent(_bounded(text), prop, ismath=False)[0]

    def fits(self, text: str, role: str, width: float) -> bool:
        return self.width(text, role) <= width

    def wrap(self, text: str, role: str, width: float, max_lines: int) -> tuple[str, ...]:
        """Greedy word wrap; what does not fit in ``max_lines`` ends in an ellipsis."""
        words = text.split()
        lines: list[str] = []
        for i, word in enumerate(words):
            if lines and self.fits(f"{lines[-1]} {word}", role, width):
                lines[-1] = f"{lines[-1]} {word}"
            elif len(lines) < max_lines:
                lines.append(word)
            else:  # no line left: the last takes the rest, shortened
                lines[-1] = self.shorten(" ".join([lines[-1], *words[i:]]) + "…", role, width)
                break
        return tuple(self.shorten(line, role, width) for line in lines)

    def shorten(self, text: str, role: str, width: float) -> str:
        """The text, or as many of its words as fit with an ellipsis (of its letters, if not
        even one word fits)."""
        if self.fits(text, role, width):
            return text
        words = text.rstrip("…").split()
        n = _most(lambda k: self.fits(" ".join(words[:k]) + "…", role, width), 1, len(words))
        cut = " ".join(words[:n]).rstrip(",;:")
        if self.fits(cut + "…", role, width):
            return cut + "…"
        return cut[: _most(lambda k: self.fits(cut[:k] + "…", role, width), 0, len(cut))] + "…"


def _most(fits: Callable[[int], bool], low: int, high: int) -> int:
    """The largest k in [low, high] with ``fits(k)``, or ``low`` if none, for a ``fits`` that
    holds up to some k and not beyond. Doubling from ``low``, then halving: a few measurements
    of text about as long as what fits, however long the whole (not one per letter)."""
    step = 1
    while low + step <= high and fits(low + step):
        low, step = low + step, 2 * step
    over = min(low + step, high + 1)  # the first k known not to fit, or past the range
    while over - low > 1:
        middle = (low + over) // 2
        low, over = (middle, over) if fits(middle) else (low, middle)
    return low


def _bounded(text: str) -> str:
    """At most MAX_TEXT_CHARS characters: more could never show, and would take matplotlib
    seconds to lay out (a million-character name, 20 s)."""
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + "…"


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


def _text(ax: Axes, x: float, y: float, text: Any, style: TextStyle, **kwargs: Any) -> None:
    """``text`` as matplotlib would show it (None as nothing, a number as its digits)."""
    kwargs.setdefault("va", "baseline")
    ax.text(
        x,
        y,
        _bounded("" if text is None else str(text)),
        fontproperties=style.prop,
        color=style.colour,
        parse_math=False,  # a '$' in a title is a dollar sign
        **kwargs,
    )


# --- shapes and symbols ---------------------------------------------------------------------------


DIMENSION = {"polygon": 2, "line": 1, "point": 0}  # also the order a layer's shapes are drawn


def _by_geometry(geoms: np.ndarray) -> dict[str, np.ndarray]:
    dims = shapely.get_dimensions(geoms)
    return {geometry: geoms[dims == dim] for geometry, dim in DIMENSION.items()}


def _shapes(scene: Scene, geoms: np.ndarray, symbol: Symbol, geometry: str, z: float) -> None:
    """Polygons or lines of one symbol as a single patch; points as circle markers."""
    symbol = _drawable(symbol)
    if len(geoms) == 0:
        return
    if geometry == "point":
        _dots(scene.ax, shapely.get_coordinates(geoms), symbol, z)
        return
    parts = shapely.get_parts(_clipped(geoms, scene.frame.around(symbol.stroke_width + 2)))
    parts = parts[shapely.get_dimensions(parts) == DIMENSION[geometry]]  # cut can leave less
    if geometry == "polygon":
        rings = shapely.get_rings(shapely.orient_polygons(parts))
        paths = [MplPath(shapely.get_coordinates(r), closed=True) for r in rings]
        face = to_rgba(symbol.fill, symbol.fill_opacity) if symbol.fill else "none"
    else:
        paths = [MplPath(shapely.get_coordinates(g)) for g in parts]
        face = "none"
    if not paths:
        return
    scene.ax.add_patch(
        PathPatch(
            MplPath.make_compound_path(*paths),
            facecolor=face,
            joinstyle="round",
            capstyle="round",
            zorder=z,
            **_stroke(symbol),
        )
    )


def _clipped(geoms: np.ndarray, bounds: Bounds) -> np.ndarray:
    """The shapes cut to ``bounds``, those that reach beyond it: matplotlib dashes a filled
    outline along its whole length, seen or not (a dashed world coastline on a map of one
    island would take hours)."""
    west, south, east, north = bounds
    box = shapely.bounds(geoms).reshape(-1, 4)
    beyond = (box[:, 0] < west) | (box[:, 1] < south) | (box[:, 2] > east) | (box[:, 3] > north)
    out = geoms.copy()
    out[beyond] = shapely.clip_by_rect(geoms[beyond], *bounds)
    return out


def _drawable(symbol: Symbol) -> Symbol:
    """The symbol with sizes and opacities matplotlib can draw, whatever the style says: a line
    1e9 px wide would hang the drawing, an opacity of 5 crash it."""
    return replace(
        symbol,
        stroke_width=_clamp(symbol.stroke_width, MAX_PX),
        radius=_clamp(symbol.radius, MAX_PX),
        stroke_opacity=_clamp(symbol.stroke_opacity, 1.0),
        fill_opacity=_clamp(symbol.fill_opacity, 1.0),
    )


def _clamp(value: float, high: float) -> float:
    """``value`` within 0..high; NaN as 0."""
    return min(max(value, 0.0), high) if value == value else 0.0


def _stroke(symbol: Symbol) -> dict[str, Any]:
    """A patch's outline: the symbol's colour, width and dashes."""
    return {
        "edgecolor": to_rgba(symbol.stroke, symbol.stroke_opacity),
        "linewidth": symbol.stroke_width * PT,
        "linestyle": _dashes(symbol.dash),
    }


def _dashes(dash: tuple[float, ...]) -> Any:
    """An SVG dash array as a matplotlib line style, in points. Solid, as in SVG, for a negative
    value or no length at all, and for a pattern finer than a pixel, which looks solid anyway
    and would cost a dash per pixel of outline."""
    if not all(d >= 0 for d in dash):  # NaN too
        return "solid"
    dash = tuple(min(d, MAX_PX) for d in dash)
    return (0, tuple(d * PT for d in dash)) if sum(dash) >= MIN_DASH_PERIOD else "solid"


def _dots(ax: Axes, xy: np.ndarray, symbol: Symbol, z: float) -> None:
    """Leaflet's circle markers."""
    symbol = _drawable(symbol)
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
        _shapes(scene, geoms, layer_style(layer.config, geometry, {}).symbol, geometry, z)


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
    _shapes(scene, web.geometry.values[~is_focus], others, "polygon", z)
    _shapes(scene, web.geometry.values[is_focus], focus, "polygon", z + 0.001)
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
    ring = _drawable(layer_style(layer.config, "polygon", {}).symbol)
    kms = sites["precision_km"].to_numpy(dtype=float, na_value=np.nan)
    for point, km in zip(sites.geometry, kms, strict=True):
        outline = _ring(scene.frame, point.x, point.y, km, ring.stroke_width + 2)
        if outline is not None:
            scene.ax.add_patch(
                PathPatch(
                    MplPath(outline, closed=True),
                    facecolor=to_rgba(ring.fill or ring.stroke, ring.fill_opacity),
                    zorder=Z_RINGS,
                    **_stroke(ring),
                )
            )
    _diamonds(scene.ax, shapely.get_coordinates(sites.geometry.values), ring.stroke, Z_BASES)
    return [Entry("diamond", layer.config.title, ring)]


def _ring(frame: MapFrame, lon: float, lat: float, km: float, margin: float) -> np.ndarray | None:
    """A circle of ``km`` around the point (an ellipse in lon/lat) as a polygon in lon/lat, cut
    to the map and ``margin`` pixels around it, or None if none of it shows. matplotlib would
    rasterise and dash a whole circle of any size: one of 1e12 km takes it hours, and Ctrl-C
    cannot stop it."""
    if not km > 0:  # NaN too
        return None
    box = frame.box
    area = shapely.box(
        box.x - margin, box.y - margin, box.x + box.w + margin, box.y + box.h + margin
    )
    cx, cy = frame.to_px(lon, lat)
    reach = max(math.dist((cx, cy), corner) for corner in shapely.get_coordinates(area))
    stretch = frame.px_per_lon / frame.px_per_lat / max(math.cos(math.radians(lat)), 0.01)
    # Larger than ``reach``, a circle covers the whole map all the same.
    ry = min(km / KM_PER_DEGREE * frame.px_per_lat, reach / min(stretch, 1.0))
    rx = ry * stretch
    vertices = math.ceil(math.pi * math.sqrt(max(rx, ry) / (2 * RING_TOLERANCE_PX)))
    count = min(max(vertices, 32), MAX_RING_VERTICES)
    # From the south, anticlockwise on the map (y is down in pixels), as matplotlib's Ellipse:
    # the same dashes where they show.
    angle = np.linspace(-math.pi / 2, 1.5 * math.pi, count, endpoint=False)
    ellipse = shapely.Polygon(np.column_stack([cx + rx * np.cos(angle), cy - ry * np.sin(angle)]))
    shown = ellipse if area.contains(ellipse) else shapely.intersection(ellipse, area)
    if not isinstance(shown, shapely.Polygon) or shown.is_empty:
        return None
    x, y = frame.to_lonlat(*shapely.get_coordinates(shown.exterior).T)
    return np.column_stack([x, y])


def _events(scene: Scene, layer: Layer, z: float) -> list[Entry]:
    """Dots coloured by category, those in one spot spread around it; far ones left out."""
    field = layer.config.category_field or "category"
    palette = category_colours(layer.config.categories, layer.frame.get(field, ()))
    events = layer.web.assign(**{CATEGORY: _category(layer.web, field)})
    events = events.sort_values([CATEGORY, "date", "id"], kind="stable")
    lon, lat = shapely.get_coordinates(events.geometry.values).T
    inside = scene.frame.shows(lon, lat)
    shown, far = events[inside], events[~inside]
    base = layer_style(layer.config, "point", {}).symbol  # for events with no category
    spread = _spread(list(zip(*scene.frame.to_px(lon[inside], lat[inside]), strict=True)))
    xy = np.array([scene.frame.to_lonlat(x, y) for x, y in spread]).reshape(-1, 2)
    colours = [palette.get(c, base.fill) for c in shown[CATEGORY]]
    _event_dots(scene.ax, xy, colours, base.stroke, Z_EVENTS)
    entries = [Entry("heading", layer.config.title)] if len(shown) else []
    present = set(shown[CATEGORY])
    for category, colour in palette.items():
        if category in present:
            symbol = Symbol(stroke=base.stroke, stroke_width=1.5, fill=colour)
            entries.append(Entry("event", category, symbol))
    if len(far):
        places = "; ".join(dict.fromkeys(far["place"]))
        entries.append(Entry("note", f"{len(far)} more off the map: {places}"))
    return entries


def _category(frame: pd.DataFrame, field: str) -> pd.Series:
    """Each event's category as the web map names it (its text), "" for none; ``field`` may
    be any property, of any type, even one no event has."""
    if field not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[field].map(lambda value: "" if missing(value) else str(value))


def _spread(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Where each point's dot goes, in pixels: points whose dots would overlap are merged into
    a group, repeatedly, and a group's dots laid out on a sunflower around its centre."""
    out = list(points)
    for group in _groups(points):
        if len(group.members) == 1:
            continue  # a dot alone stays where its event is
        cx, cy = group.centre
        for n, i in enumerate(sorted(group.members)):
            radius, angle = EVENT_SPACING_PX * math.sqrt(n + 0.5), n * GOLDEN_ANGLE
            out[i] = (cx + radius * math.cos(angle), cy + radius * math.sin(angle))
    return out


@dataclass
class _Group:
    """Points laid out as one sunflower: their indices and the sum of their positions."""

    members: list[int]
    sum_x: float
    sum_y: float

    @property
    def centre(self) -> tuple[float, float]:
        return self.sum_x / len(self.members), self.sum_y / len(self.members)

    @property
    def reach(self) -> float:
        """Two groups overlap when their centres are closer than their reaches together."""
        return _sunflower_radius(len(self.members)) + 1

    def overlaps(self, other: _Group) -> bool:
        return math.dist(self.centre, other.centre) < self.reach + other.reach

    def take(self, other: _Group) -> None:
        self.members += other.members
        self.sum_x += other.sum_x
        self.sum_y += other.sum_y


def _groups(points: Sequence[tuple[float, float]]) -> list[_Group]:
    """The points merged into groups until no two overlap. The lowest-numbered group that
    overlaps any takes in, in order, those it overlaps (keeping the lower number), then looks
    again: nearly what merging the first overlapping pair at a time gave (the same for the
    default story), but a grid finds the groups near one, so 100,000 events take seconds,
    not an hour."""
    groups = {i: _Group([i], x, y) for i, (x, y) in enumerate(points)}
    grid = _Grid(points, SPREAD_CELL_PX)
    for key, group in groups.items():
        grid.add(key, group)
    todo = list(groups)  # a heap already: the keys in order
    while todo:
        key = heapq.heappop(todo)
        group = groups.get(key)
        if group is None:
            continue  # taken in by another
        near = sorted(k for k in grid.near(group) if k != key and group.overlaps(groups[k]))
        if not near:
            continue
        grid.remove(key, group)
        del groups[key]
        for other in near:
            if group.overlaps(groups[other]):  # still, now that the group has grown and moved
                grid.remove(other, groups[other])
                group.take(groups.pop(other))
                key = min(key, other)
        groups[key] = group
        grid.add(key, group)
        heapq.heappush(todo, key)
    return list(groups.values())


class _Grid:
    """The groups near a group: each is listed in every cell its reach covers within the
    points' bounding box. Two groups that overlap share a cell there: the one holding the
    point where their reaches meet, on the line between their centres."""

    def __init__(self, points: Sequence[tuple[float, float]], cell: float) -> None:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        self._cell = cell
        self._origin = (min(xs, default=0.0), min(ys, default=0.0))
        self._last = (self._index(max(xs, default=0.0), 0), self._index(max(ys, default=0.0), 1))
        self._cells: defaultdict[tuple[int, int], set[int]] = defaultdict(set)

    def add(self, key: int, group: _Group) -> None:
        for cell in self._span(group):
            self._cells[cell].add(key)

    def remove(self, key: int, group: _Group) -> None:
        for cell in self._span(group):
            self._cells[cell].discard(key)

    def near(self, group: _Group) -> set[int]:
        return set().union(*(self._cells.get(cell, ()) for cell in self._span(group)))

    def _span(self, group: _Group) -> Iterator[tuple[int, int]]:
        (x, y), reach = group.centre, group.reach
        i0, i1 = (min(max(self._index(v, 0), 0), self._last[0]) for v in (x - reach, x + reach))
        j0, j1 = (min(max(self._index(v, 1), 0), self._last[1]) for v in (y - reach, y + reach))
        return itertools.product(range(i0, i1 + 1), range(j0, j1 + 1))

    def _index(self, value: float, axis: int) -> int:
        return int((value - self._origin[axis]) // self._cell)


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
    columns = _legend_columns(entries, room.h - 2 * pad)
    widths = _column_widths(columns, room.w - 2 * pad, measure)
    columns = columns[: len(widths)]
    if not columns:  # a story with nothing to explain, e.g. only places
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


def _legend_columns(entries: list[Entry], height: float) -> list[list[tuple[Entry, float]]]:
    """The entries down columns of ``height``, each with the top of its row; none if none."""
    columns: list[list[tuple[Entry, float]]] = [[]]
    y = 0.0
    for entry in entries:
        gap = HEADING_GAP if entry.kind == "heading" and y > 0 else 0
        row_h = TEXT[_role(entry)].line_height
        if y + gap + row_h > height and columns[-1]:
            columns.append([])
            y, gap = 0.0, 0
        columns[-1].append((entry, y + gap))
        y += gap + row_h
    return columns if entries else []


def _column_widths(
    columns: list[list[tuple[Entry, float]]], width: float, measure: Measure
) -> list[float]:
    """The label width of each column, for the first column and those after it that fit in
    ``width``: measuring stops there, however many entries a story has."""
    label_room = width - SWATCH_W - SWATCH_GAP
    widths: list[float] = []
    for column in columns:
        label_w = min(label_room, max(_label_width(e, measure) for e, _ in column))
        if widths and _columns_width([*widths, label_w]) > width:
            break
        widths.append(label_w)
    return widths


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
    if entry.symbol is None:
        return
    symbol = _drawable(entry.symbol)
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
