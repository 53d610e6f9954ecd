"""A static picture of the story for link previews (og:image): a 1200x630 PNG, no browser.

It draws the story's scenes (``geo.scene``) and nothing else, on the view the web map opens on
(``view``): each scene by its family and symbols, its points by their symbol's shape, rings and
far-away arrows where the scene asks for them, its labels by priority without collisions and
its legend rows; it never asks what kind a layer is.

A picture has no timeline, so it shows the story as the web page does at the timeline's end:
as of map.toml's ``data_as_of`` (else the latest date in the scenes; geo.statuses.latest_day).
A feature with coloured parts (a site's operators) takes their colour on that date, and one
ended by then is hollow, and the key explains the hollow symbol as of that date. Points that
stand for a whole area (the scene's ``area_field``: events placed only to a country) are not
drawn; a badge, "Niger · 3", goes by the area's name, as on the web page.

It draws on matplotlib's Agg canvas directly, with no pyplot state, under matplotlib's default
settings and in the fonts matplotlib ships, so the same story gives the same bytes whatever the
machine's matplotlibrc or installed fonts.

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
from typing import Any, BinaryIO

import matplotlib
import matplotlib.style
import numpy as np
import pandas as pd
import shapely
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Circle, FancyBboxPatch, PathPatch, Polygon, Rectangle
from matplotlib.path import Path as MplPath

from geo import statuses
from geo.combine import Story
from geo.dates import parse_iso
from geo.scene import Label, LayerScene, LegendEntry, Symbol, key_rows
from geo.text import format_date
from geo.view import SEA, view_bounds

WIDTH, HEIGHT, DPI = 1200, 630, 100
PT = 72 / DPI  # points per pixel: sizes here are pixels, as on the web map
PAPER = "#ffffff"
MARGIN = 28
SIDE_MAP_WIDTH = (480, 760)  # the map beside the text column: narrowest, widest
MAP_PADDING = 14  # sea around the view, like the web map's fitBounds padding
KM_PER_DEGREE = 111.32  # of latitude
# Marker sizes as story.css draws them, whatever a symbol's radius (as on the web page):
SITE_PX = 11  # a site's diamond or square, as .gs-base-symbol
EVENT_PX = 12  # an event's dot with its white rim, as .gs-dot
ARROW_PX = 16  # a far-away point's arrow, as .gs-arrow
EVENT_SPACING_PX = 7.0  # sunflower scale: the dots of points in one spot just touch
GOLDEN_ANGLE = math.radians(137.508)
SPREAD_LIMIT = 20_000  # beyond this, a 1200 x 630 picture shows density, not single dots
DENSE_BATCHES = 16  # beyond SPREAD_LIMIT, event dots are drawn a colour at a time in batches
SPREAD_CELL_PX = EVENT_PX + 2  # the grid that finds overlapping dots: about a dot's reach
LABEL_GAP_PX = 4  # between a point's marker and its label, on its right
LABEL_PAD_PX = 1.5  # labels keep this far from each other and from markers
SAME_NAME_PX = 80  # a label is left off where its text is already shown this close (story.js)
NUDGE_PX = 16  # a country's name may move up to two such steps each way to find room
PLACE_NUDGES_PX = (0, 4, 8)  # a point's label may move that much further from it
# Bounds on what is drawn, far beyond any real story, so that no input can hang matplotlib:
MAX_PX = float(WIDTH)  # no line width, marker radius or dash is wider than the picture
MIN_DASH_PERIOD = 1.0  # px: a finer pattern looks solid and would cost a dash per pixel
MAX_TEXT_CHARS = 2000  # a line holds ~400; matplotlib lays text out at ~20 µs a character
MAX_LABEL_CHARS = 120  # a map label longer than this is cut: it would cross the whole map
MAX_LABEL_TRIES = 2000  # labels measured at most; the map has room for a few hundred
RING_TOLERANCE_PX = 0.1  # how far a ring, drawn as a polygon, strays from the circle
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
    "legend": TextStyle("DejaVuSans.ttf", 13.5, "#333333", 1.4),
    # map labels, by the label's role (and a place's rank), as .gs-*-label
    "country": TextStyle("DejaVuSans.ttf", 12.5, "#5b554a", 1.2),
    "focus": TextStyle("DejaVuSans-Bold.ttf", 17, "#6b3510", 1.2),
    "place": TextStyle("DejaVuSans.ttf", 11.5, "#333333", 1.2),
    "national capital": TextStyle("DejaVuSans-Bold.ttf", 11.5, "#333333", 1.2),
    # the badge of events across a whole area, "Niger · 3", as .gs-area-badge
    "badge": TextStyle("DejaVuSans-Bold.ttf", 11.5, "#ffffff", 1.4),
}
BADGE = "#1d1d1d"  # the badge's background, as .gs-area-badge
BADGE_ROLE = "badge"
BADGE_PAD_PX = 7  # the badge's room beside its text, each side
# Where a badge goes around its area's name, best first, as the web page's BADGE_PLACEMENTS
# (story.css: 23 or 44 px below or above, 72 px east or west)
BADGE_SPOTS_PX = (
    (0, 23),
    (0, -23),
    (0, 44),
    (0, -44),
    (72, 0),
    (-72, 0),
    (72, 23),
    (-72, 23),
    (72, -23),
    (-72, -23),
    (72, 44),
    (-72, 44),
    (72, -44),
    (-72, -44),
)
SPACED_ROLES = ("country", "focus")  # letter-spaced capitals, centred on their point


def write_preview(story: Story, scenes: Sequence[LayerScene], path: Path | BinaryIO) -> None:
    """Draw the story's scenes as the web map opens on them and save a 1200x630 PNG."""
    with matplotlib.style.context(["default", _RC]):
        figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor=PAPER)
        canvas = FigureCanvasAgg(figure)
        _draw(figure, _plan(story, scenes, Measure(canvas.get_renderer())))
        figure.savefig(
            path if hasattr(path, "write") else Path(path),
            format="png",
            dpi=DPI,
            facecolor=PAPER,
            metadata={"Software": None},
        )


def plan(story: Story, scenes: Sequence[LayerScene]) -> Plan:
    """Where everything of the preview goes, without drawing it: the labels shown and their
    boxes, the markers, the legend rows."""
    with matplotlib.style.context(["default", _RC]):
        figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor=PAPER)
        return _plan(story, scenes, Measure(FigureCanvasAgg(figure).get_renderer()))


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


# --- the plan: what goes where ------------------------------------------------------------------


@dataclass(frozen=True)
class Marks:
    """The markers of a point scene that can show: for each, its row in the scene's frame, its
    symbol, where it is drawn (pixels: the points of clustered scenes in one spot are spread
    apart), where its point is (lon/lat: its ring's centre) and, for a far-away point, the
    bearing its arrow points (else NaN)."""

    scene: LayerScene
    z: float  # the scene's place in the stack, 0..1
    rows: np.ndarray
    symbols: tuple[Symbol, ...]
    xy: np.ndarray
    lonlat: np.ndarray
    bearing: np.ndarray
    hollow: np.ndarray  # drawn as ended (white inside) at the preview's date

    @property
    def far(self) -> np.ndarray:
        return ~np.isnan(self.bearing)


@dataclass(frozen=True)
class PlacedLabel:
    """A label the preview shows: its text as drawn, its style and the box it takes (pixels)."""

    label: Label
    text: str
    style: str  # a key of TEXT
    box: Box
    x: float  # the text's anchor: its left end (a place) or its centre, at its middle height
    y: float
    ha: str


@dataclass(frozen=True)
class LegendRow:
    entry: LegendEntry
    x: float  # the swatch's left
    mid: float  # the row's middle
    text: str  # the label, shortened to the room it has
    opacity: float = 1.0  # of a fill or dot swatch: its scene's fill opacity, as on the map


@dataclass(frozen=True)
class LegendPlan:
    rows: tuple[LegendRow, ...]
    box: Box | None  # the white box under the rows, when they are over the map


@dataclass(frozen=True)
class Plan:
    """Everything the preview draws, placed."""

    layout: Layout
    scenes: tuple[tuple[float, LayerScene], ...]  # those shown, each with its place, 0..1
    marks: tuple[Marks, ...]
    legend: LegendPlan
    labels: tuple[PlacedLabel, ...]


def _plan(story: Story, scenes: Sequence[LayerScene], measure: Measure) -> Plan:
    layout = _layout(story, measure)
    shown = tuple((i / (len(scenes) + 1), s) for i, s in enumerate(scenes) if s.show)
    # the picture shows the story as of its latest date (geo.statuses.latest_day)
    day = statuses.latest_day(story.config.data_as_of, [s for _, s in shown])
    marks = _marks(shown, layout.frame, day)
    by_name = {s.name: s for _, s in shown}
    entries = _legend_entries(story, [s for _, s in shown], marks)
    legend = _legend_plan([(e, by_name[name]) for name, e in entries], layout, measure)
    labels = _place_labels(shown, marks, legend, layout.frame, measure)
    return Plan(layout, shown, marks, legend, labels)


def _legend_entries(
    story: Story, shown: Sequence[LayerScene], marks: Sequence[Marks]
) -> list[tuple[str, LegendEntry]]:
    """The web page's key, rows and all (geo.scene.key_rows), less what only a timeline
    explains; but a symbol the picture draws for the date it shows, an ended site's, stays,
    said of that date."""
    hollow = {m.scene.name for m in marks if m.hollow.any()}
    when = parse_iso(story.config.data_as_of)
    date = format_date(*when) if when else "the latest date"
    out = []
    for row in key_rows(shown, timeline=True):
        for entry in row.entries:
            if not entry.timeline:
                out.append((row.layer, entry))
            elif entry.swatch == "site-ended" and row.layer in hollow:
                out.append((row.layer, replace(entry, label=_as_of(entry.label, date))))
    return out


def _as_of(label: str, date: str) -> str:
    """A timeline's legend text said of one date: 'Presence ended (by 29 January 2026)'."""
    if "the timeline's date" in label:
        return label.replace("the timeline's date", date)
    return f"{label} (by {date})"


def _marks(
    shown: Sequence[tuple[float, LayerScene]], frame: MapFrame, day: float = math.inf
) -> tuple[Marks, ...]:
    """The markers of the point scenes, those of clustered scenes in one spot spread apart on
    a sunflower, all clustered scenes together: two layers of events in one town do not hide
    each other. Far-away points (drawn as arrows) stay where the scene puts them. Points that
    stand for a whole area are not markers (their area's label has a badge). A feature with
    coloured parts takes their colour on ``day``, and a feature ended by then is hollow
    (geo.statuses, as the web page draws them at the timeline's end)."""
    found = []
    box = frame.box
    for z, scene in shown:
        if scene.family != "point":
            continue
        coords, rows = shapely.get_coordinates(
            np.asarray(scene.frame.geometry.values), return_index=True
        )
        symbols = _row_symbols(scene)
        colours = statuses.colours_at(scene, day)
        symbols = [
            s if c is None else replace(s, fill=c, stroke=c)
            for s, c in zip(symbols, colours, strict=True)
        ]
        ended = statuses.ended_at(scene, day)
        reach = max(_half_px(s, far) for s in _scene_symbols(scene) for far in (False, True))
        x, y = frame.to_px(coords[:, 0], coords[:, 1])
        keep = (
            (box.x - reach <= x)
            & (x <= box.x + box.w + reach)
            & (box.y - reach <= y)
            & (y <= box.y + box.h + reach)
            & ~statuses.area_rows(scene)[rows]
        )
        rows = rows[keep]
        bearing = _numbers(scene.frame, scene.bearing_field)[rows]
        xy = np.column_stack([x[keep], y[keep]])
        symbols_kept = tuple(symbols[r] for r in rows)
        found.append(Marks(scene, z, rows, symbols_kept, xy, coords[keep], bearing, ended[rows]))
    spread = [
        (marks, i)
        for marks in found
        if marks.scene.cluster
        for i in np.flatnonzero(~marks.far & _inside(marks.xy, box))
    ]
    placed = _spread([(float(m.xy[i, 0]), float(m.xy[i, 1])) for m, i in spread])
    for (marks, i), xy in zip(spread, placed, strict=True):
        marks.xy[i] = xy
    return tuple(found)


def _inside(xy: np.ndarray, box: Box) -> np.ndarray:
    x, y = xy[:, 0], xy[:, 1]
    return (box.x <= x) & (x <= box.x + box.w) & (box.y <= y) & (y <= box.y + box.h)


def _numbers(frame: pd.DataFrame, column: str | None) -> np.ndarray:
    """The column as finite floats, NaN where it has none (or there is no such column)."""
    if column is None or column not in frame.columns:
        return np.full(len(frame), np.nan)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(values), values, np.nan)


def _symbol_groups(scene: LayerScene) -> list[tuple[Symbol, np.ndarray]]:
    """The scene's rows by symbol (``scene.symbol_of``) in drawing order: those in the scene's
    own symbol first, then each category's, in legend order, so a category stands out over the
    rest (the focus country's border over its neighbours')."""
    rows = len(scene.frame)
    categories = scene.categories
    if categories is None or categories.field not in scene.frame.columns:
        return [(scene.symbol, np.arange(rows))]
    groups: dict[str | None, list[int]] = {None: [], **{k: [] for k in categories.symbols}}
    for i, value in enumerate(scene.frame[categories.field].tolist()):
        key = None if value is None else str(value)
        groups[key if key in categories.symbols else None].append(i)
    return [
        (scene.symbol if key is None else categories.symbols[key], np.array(members, dtype=int))
        for key, members in groups.items()
        if members
    ]


def _row_symbols(scene: LayerScene) -> list[Symbol]:
    """Each row's symbol, as ``scene.symbol_of`` gives it, for all rows at once."""
    out = [scene.symbol] * len(scene.frame)
    for symbol, rows in _symbol_groups(scene):
        for row in rows:
            out[row] = symbol
    return out


def _shape(symbol: Symbol) -> str:
    return symbol.shape if symbol.shape in MARK_LEVEL else "circle"


def _half_px(symbol: Symbol, far: bool = False) -> float:
    """Half the width of a point's marker, in pixels, as drawn."""
    if far:
        return ARROW_PX / 2 * math.sqrt(2)  # turned any way
    shape = _shape(symbol)
    if shape == "event":
        return EVENT_PX / 2 + 1
    if shape == "diamond":
        return (SITE_PX + 3) / 2 * math.sqrt(2)
    if shape == "square":
        return (SITE_PX + 3) / 2
    drawable = _drawable(symbol)
    return drawable.radius + drawable.stroke_width / 2


# --- labels: by priority, never over another label or a marker ---------------------------------


def _place_labels(
    shown: Sequence[tuple[float, LayerScene]],
    marks: Sequence[Marks],
    legend: LegendPlan,
    frame: MapFrame,
    measure: Measure,
) -> tuple[PlacedLabel, ...]:
    """The labels that show, by the web page's rule: highest priority first (ties in scene
    order), each left off if its box would overlap a label already placed. Here markers and
    the legend over the map are in the way too, so a label whose spot is taken tries a few
    spots just beside it (see ``_spots``) before it is left off, and it must fit on the map
    whole. Taken pixels are kept in a bitmap: a test costs its box's area, however many labels
    and markers there are, and a label whose every anchor is taken is left off unmeasured."""
    taken = _Taken()
    for group in marks:
        halves = np.array(
            [_half_px(s, bool(f)) for s, f in zip(group.symbols, group.far, strict=True)]
        )
        taken.add_all(group.xy[:, 0] - halves, group.xy[:, 1] - halves, 2 * halves, 2 * halves)
    if legend.box is not None:
        taken.add(legend.box)
    candidates = [(label, scene) for _, scene in shown for label in scene.labels]
    candidates += _badges(shown, candidates)
    order = sorted(range(len(candidates)), key=lambda i: -candidates[i][0].priority)
    placed: list[PlacedLabel] = []
    tries = 0
    for i in order:
        label, scene = candidates[i]
        if label.role == BADGE_ROLE:
            badge = _place_badge(label, placed, taken, frame, measure)
            if badge is not None:
                taken.add(badge.box)
                placed.append(badge)
            continue
        x, y = (float(v) for v in frame.to_px(label.lon, label.lat))
        if not _inside(np.array([[x, y]], dtype=float), frame.box)[0]:
            continue  # off the map, or no position (NaN)
        if any(_same_name(label, p, frame) for p in placed):
            continue  # a site named after its town: the name is there already
        text, style = _label_text(label), _label_style(label)
        h = TEXT[style].line_height
        spots = [s for s in _spots(label, scene, x, y, h) if not taken.hits(Box(s[0], s[1], 0, 0))]
        if not spots or tries >= MAX_LABEL_TRIES:
            continue  # every anchor is taken, so would every box be
        tries += 1
        w = measure.width(text, style)
        for ax, ay, ha in spots:
            left = {"left": ax, "center": ax - w / 2, "right": ax - w}[ha]
            box = Box(left, ay - h / 2, w, h)
            if _contains(frame.box, box) and not taken.hits(_padded(box, LABEL_PAD_PX)):
                taken.add(box)
                placed.append(PlacedLabel(label, text, style, box, ax, ay, ha))
                break
    return tuple(placed)


def _same_name(label: Label, other: PlacedLabel, frame: MapFrame) -> bool:
    """Whether ``other`` shows the label's text within SAME_NAME_PX of its point (story.js)."""
    if other.label.text != label.text:
        return False
    x, y = frame.to_px(label.lon, label.lat)
    ox, oy = frame.to_px(other.label.lon, other.label.lat)
    return abs(x - ox) < SAME_NAME_PX and abs(y - oy) < SAME_NAME_PX


def _badges(
    shown: Sequence[tuple[float, LayerScene]], labels: Sequence[tuple[Label, LayerScene]]
) -> list[tuple[Label, LayerScene]]:
    """A badge per area whose points a scene does not draw ("Niger · 3"), at that area's
    label (the label whose text is the area's name, as on the web page; else at the first
    such point), placed right after that label: its priority is just under the label's."""
    out = []
    for _, scene in shown:
        areas = statuses.area_counts(scene)
        if not areas:
            continue
        values = statuses.area_values(scene)
        for area, count in areas.items():
            home = next((label for label, _ in labels if label.text == area), None)
            if home is None:
                point = scene.frame.geometry.iloc[values.index(area)]
                if point is None or point.is_empty:
                    continue
                home = Label(area, point.x, point.y, 0, "place")
            text = statuses.badge_text(area, count)
            out.append((Label(text, home.lon, home.lat, home.priority, BADGE_ROLE, area), scene))
    return [(replace(label, priority=label.priority - 0.5), scene) for label, scene in out]


def _place_badge(
    badge: Label,
    placed: Sequence[PlacedLabel],
    taken: _Taken,
    frame: MapFrame,
    measure: Measure,
) -> PlacedLabel | None:
    """A badge around its area's name as placed (``badge.rank`` names the area), at the first
    of BADGE_SPOTS_PX where it overlaps nothing; it is never left off (on the web page it is
    the only way to its events), so with no free spot it takes the first that fits the map."""
    home = next((p for p in placed if p.label.text == badge.rank and p.ha == "center"), None)
    x, y = (home.box.x + home.box.w / 2, home.y) if home else frame.to_px(badge.lon, badge.lat)
    text = _label_text(badge)
    w = measure.width(text, BADGE_ROLE) + 2 * BADGE_PAD_PX
    h = TEXT[BADGE_ROLE].line_height
    fits = []
    for dx, dy in BADGE_SPOTS_PX:
        box = Box(x + dx - w / 2, y + dy - h / 2, w, h)
        if not _contains(frame.box, box):
            continue
        if not taken.hits(_padded(box, LABEL_PAD_PX)):
            return PlacedLabel(badge, text, BADGE_ROLE, box, x + dx, y + dy, "center")
        fits.append(PlacedLabel(badge, text, BADGE_ROLE, box, x + dx, y + dy, "center"))
    return fits[0] if fits else None


def _spots(
    label: Label, scene: LayerScene, x: float, y: float, h: float
) -> list[tuple[float, float, str]]:
    """Where a label may go, best first, as (x, y, alignment) of its text's anchor at its middle
    height: a country's name centred on its point or moved a step or two from it; a point's
    label on its right, as on the web map, else on its left, a little further out if need be."""
    if label.role in SPACED_ROLES:
        steps = itertools.product(range(-2, 3), range(-2, 3))
        shifts = sorted(
            ((dx * NUDGE_PX, dy * NUDGE_PX) for dx, dy in steps), key=lambda d: math.hypot(*d)
        )
        return [(x + dx, y + dy, "center") for dx, dy in shifts]
    offset = _label_offset(scene)
    return [
        (x + side * (offset + extra), y, "left" if side > 0 else "right")
        for extra in PLACE_NUDGES_PX
        for side in (1, -1)
    ]


def _label_offset(scene: LayerScene) -> float:
    """From a label's point to its text's left end: beyond the point's marker, if any."""
    if scene.family != "point":
        return LABEL_GAP_PX
    return max(_half_px(s) for s in _scene_symbols(scene)) + LABEL_GAP_PX


def _scene_symbols(scene: LayerScene) -> tuple[Symbol, ...]:
    """Every symbol the scene's features may have."""
    return (scene.symbol, *(scene.categories.symbols.values() if scene.categories else ()))


def _label_text(label: Label) -> str:
    """The text as shown: countries' names in letter-spaced capitals, like the web map's."""
    text = str(label.text)
    if len(text) > MAX_LABEL_CHARS:
        text = text[:MAX_LABEL_CHARS] + "…"
    return "\u2009".join(text.upper()) if label.role in SPACED_ROLES else text


def _label_style(label: Label) -> str:
    if label.role in SPACED_ROLES or label.role == BADGE_ROLE:
        return label.role
    return "national capital" if label.rank == "national capital" else "place"


def _contains(outer: Box, inner: Box) -> bool:
    return (
        outer.x <= inner.x
        and inner.x + inner.w <= outer.x + outer.w
        and outer.y <= inner.y
        and inner.y + inner.h <= outer.y + outer.h
    )


def _padded(box: Box, pad: float) -> Box:
    return Box(box.x - pad, box.y - pad, box.w + 2 * pad, box.h + 2 * pad)


class _Taken:
    """The picture's pixels that a label, a marker or the legend takes: a box takes every pixel
    it touches, so boxes whose pixels are apart are apart."""

    def __init__(self) -> None:
        self._mask = np.zeros((HEIGHT, WIDTH), dtype=bool)

    def add(self, box: Box) -> None:
        self._mask[self._slices(box)] = True

    def add_all(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray) -> None:
        """Many boxes at once (what ``add`` takes one at a time: the same pixels), as counts
        of boxes starting and ending at each pixel, summed along both axes."""
        if len(x) == 0:
            return
        x0, x1 = self._spans(x, w, WIDTH)
        y0, y1 = self._spans(y, h, HEIGHT)
        edges = np.zeros((HEIGHT + 1, WIDTH + 1), dtype=np.int64)
        np.add.at(edges, (y0, x0), 1)
        np.add.at(edges, (y0, x1), -1)
        np.add.at(edges, (y1, x0), -1)
        np.add.at(edges, (y1, x1), 1)
        self._mask |= edges.cumsum(axis=0).cumsum(axis=1)[:HEIGHT, :WIDTH] > 0

    @staticmethod
    def _spans(start: np.ndarray, length: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``_slices``'s bounds for arrays of boxes (NaN as nowhere: an empty span)."""
        ok = np.isfinite(start) & np.isfinite(length)
        start, end = np.where(ok, start, 0.0), np.where(ok, start + length, 0.0)
        low = np.clip(np.floor(start), 0, size).astype(np.int64)
        high = np.clip(np.maximum(np.ceil(end), low + 1), 0, size).astype(np.int64)
        return low, np.where(ok, high, low)

    def hits(self, box: Box) -> bool:
        return bool(self._mask[self._slices(box)].any())

    @staticmethod
    def _slices(box: Box) -> tuple[slice, slice]:
        def span(start: float, length: float, size: int) -> slice:
            low = min(max(math.floor(start), 0), size)
            high = min(max(math.ceil(start + length), low + 1), size)
            return slice(low, high)

        return span(box.y, box.h, HEIGHT), span(box.x, box.w, WIDTH)


# --- drawing ------------------------------------------------------------------------------------

# Above the shapes of the scenes (stacked in scene order), bottom to top, as in Leaflet's panes;
# within a level, scenes stack in their order too.
Z_SHAPES, Z_RINGS, Z_DOTS, Z_EVENTS, Z_SITES, Z_LABELS = range(1, 7)
MARK_LEVEL = {"circle": Z_DOTS, "event": Z_EVENTS, "diamond": Z_SITES, "square": Z_SITES}


def _draw(figure: Figure, plan: Plan) -> None:
    layout = plan.layout
    frame = layout.frame
    box = frame.box
    ax = figure.add_axes(
        (box.x / WIDTH, 1 - (box.y + box.h) / HEIGHT, box.w / WIDTH, box.h / HEIGHT)
    )
    ax.set_axis_off()  # which also hides the axes' background: the sea is a patch of its own
    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, facecolor=SEA, zorder=0))
    ax.set_xlim(frame.extent[0], frame.extent[2])
    ax.set_ylim(frame.extent[1], frame.extent[3])
    for z, scene in plan.scenes:
        if scene.family != "point":
            _scene_shapes(ax, frame, scene, Z_SHAPES + z)
        if scene.ring_field is not None:
            _scene_rings(ax, frame, scene, Z_RINGS + z)
    for marks in plan.marks:
        _draw_marks(ax, frame, marks)
    for label in plan.labels:
        lon, lat = frame.to_lonlat(label.x, label.y)
        if label.style == BADGE_ROLE:
            _badge(ax, frame, label)
            continue
        _text(
            ax,
            lon,
            lat,
            label.text,
            TEXT[label.style],
            ha=label.ha,
            va="center",
            path_effects=_HALO,
            zorder=Z_LABELS,
        )
    paper = figure.add_axes((0, 0, 1, 1), zorder=10)  # in pixels, y downwards
    paper.set_axis_off()
    paper.set_xlim(0, WIDTH)
    paper.set_ylim(HEIGHT, 0)
    y = _text_lines(paper, layout.title, "title", layout.head.x, layout.head.y)
    _text_lines(paper, layout.subtitle, "subtitle", layout.head.x, y + 6)
    _text_lines(paper, layout.credit, "credit", layout.head.x, layout.credit_top)
    _draw_legend(paper, plan.legend)


def _badge(ax: Axes, frame: MapFrame, label: PlacedLabel) -> None:
    """A badge: white bold text on a dark rounded box with a white rim, as .gs-area-badge."""
    lon, lat = frame.to_lonlat(label.x, label.y)
    style = TEXT[BADGE_ROLE]
    pad = (BADGE_PAD_PX - 2) / style.px  # matplotlib pads a box in font sizes
    _text(
        ax,
        lon,
        lat,
        label.text,
        style,
        ha="center",
        va="center",
        zorder=Z_LABELS,
        bbox={
            "boxstyle": f"round,pad={pad:.3f},rounding_size={0.8:.1f}",
            "facecolor": BADGE,
            "edgecolor": "#ffffff",
            "linewidth": 1.5 * PT,
        },
    )


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


# --- shapes and symbols -------------------------------------------------------------------------


DIMENSION = {"polygon": 2, "line": 1, "point": 0}  # also the order a scene's shapes are drawn


def _by_geometry(geoms: np.ndarray) -> dict[str, np.ndarray]:
    dims = shapely.get_dimensions(geoms)
    return {geometry: geoms[dims == dim] for geometry, dim in DIMENSION.items()}


def _scene_shapes(ax: Axes, frame: MapFrame, scene: LayerScene, z: float) -> None:
    """A line or polygon scene: its features by symbol, each symbol's as one patch."""
    geoms = np.asarray(scene.frame.geometry.values)
    for symbol, rows in _symbol_groups(scene):
        for geometry, part in _by_geometry(geoms[rows]).items():
            _shapes(ax, frame, part, symbol, geometry, z)


def _shapes(
    ax: Axes, frame: MapFrame, geoms: np.ndarray, symbol: Symbol, geometry: str, z: float
) -> None:
    """Polygons or lines of one symbol as a single patch; points as circle markers."""
    symbol = _drawable(symbol)
    if len(geoms) == 0:
        return
    if geometry == "point":
        xy = shapely.get_coordinates(geoms)
        _dots(ax, xy, [symbol] * len(xy), z)
        return
    parts = shapely.get_parts(_clipped(geoms, frame.around(symbol.stroke_width + 2)))
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
    ax.add_patch(
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


def _dots(ax: Axes, xy: np.ndarray, symbols: Sequence[Symbol], z: float) -> None:
    """Leaflet's circle markers, each point in its symbol."""
    if len(xy) == 0:
        return
    drawn = [_drawable(s) for s in symbols]
    ax.scatter(
        xy[:, 0],
        xy[:, 1],
        s=[(2 * s.radius * PT) ** 2 for s in drawn],
        c=[to_rgba(s.fill or s.stroke, s.fill_opacity) for s in drawn],
        edgecolors=[to_rgba(s.stroke, s.stroke_opacity) for s in drawn],
        linewidths=[s.stroke_width * PT for s in drawn],
        zorder=z,
    )


def _event_dots(ax: Axes, xy: np.ndarray, colours: list[str], rims: list[str], z: float) -> None:
    """The web map's event dot: its colour, a white rim and a faint dark outline."""
    ax.scatter(xy[:, 0], xy[:, 1], s=((EVENT_PX + 2) * PT) ** 2, c=[(0, 0, 0, 0.45)], zorder=z)
    if len(xy) > SPREAD_LIMIT:
        _dense_event_dots(ax, xy, colours, rims, z)
        return
    ax.scatter(
        xy[:, 0],
        xy[:, 1],
        s=(EVENT_PX * PT) ** 2,
        c=_rgba(colours),
        edgecolors=_rgba(rims),
        linewidths=1.5 * PT,
        zorder=z,
    )


def _dense_event_dots(
    ax: Axes, xy: np.ndarray, colours: list[str], rims: list[str], z: float
) -> None:
    """More dots than the picture shows one by one (SPREAD_LIMIT): each colour's dots in one
    call, which matplotlib draws as one stamped marker (a call with a colour per dot draws
    each dot on its own, seconds for 100,000). In DENSE_BATCHES batches, in order, so that
    where dots pile up the last colour drawn does not cover the rest."""
    pairs = list(zip(colours, rims, strict=True))
    distinct = list(dict.fromkeys(pairs))
    index = {p: i for i, p in enumerate(distinct)}
    codes = np.array([index[p] for p in pairs], dtype=np.int64)
    for batch in np.array_split(np.arange(len(xy)), min(DENSE_BATCHES, len(xy))):
        for code in np.unique(codes[batch]).tolist():
            rows = batch[codes[batch] == code]
            colour, rim = distinct[code]
            ax.scatter(
                xy[rows, 0],
                xy[rows, 1],
                s=(EVENT_PX * PT) ** 2,
                c=[to_rgba(colour)],
                edgecolors=[to_rgba(rim)],
                linewidths=1.5 * PT,
                zorder=z,
            )


def _rgba(colours: Sequence[Any]) -> np.ndarray:
    """Colours as an RGBA array, each distinct colour converted once (matplotlib converts a
    list of 100,000 names one by one, in seconds)."""
    distinct = list(dict.fromkeys(colours))
    table = np.array([to_rgba(c) for c in distinct]).reshape(-1, 4)
    index = {c: i for i, c in enumerate(distinct)}
    return table[[index[c] for c in colours]]


def _sites(
    ax: Axes,
    xy: np.ndarray,
    colours: list[str],
    marker: str,
    z: float,
    hollow: Sequence[bool] | None = None,
) -> None:
    """The web map's site symbol: a diamond (or square) in its colour with a white rim and an
    outline in its colour; an ended one (``hollow``) white inside its outline, as .gs-ended."""
    hollow = [False] * len(colours) if hollow is None else list(hollow)
    inner = ["#ffffff" if h else c for c, h in zip(colours, hollow, strict=True)]
    rims = [c if h else "#ffffff" for c, h in zip(colours, hollow, strict=True)]
    for size, faces, edges, width in (
        (SITE_PX + 3, colours, colours, 1.0),
        (SITE_PX, inner, rims, 2.0),
    ):
        ax.scatter(
            xy[:, 0],
            xy[:, 1],
            s=(size * PT) ** 2,
            marker=marker,
            c=faces,
            edgecolors=edges,
            linewidths=width * PT,
            zorder=z,
        )


def _arrows(
    ax: Axes, frame: MapFrame, xy: np.ndarray, bearings: np.ndarray, colours: list[str], z: float
) -> None:
    """The web map's far-away marker: a triangle in its colour pointing the bearing (degrees
    clockwise from north), about its centre, with a thin dark edge."""
    half = ARROW_PX / 2
    shape = np.array([[0.0, -half], [-half, half], [half, half]])  # pointing up; y is down
    triangles = []
    for (x, y), bearing in zip(xy, bearings, strict=True):
        cos, sin = math.cos(math.radians(bearing)), math.sin(math.radians(bearing))
        px = x + shape[:, 0] * cos - shape[:, 1] * sin
        py = y + shape[:, 0] * sin + shape[:, 1] * cos
        triangles.append(np.column_stack(frame.to_lonlat(px, py)))
    ax.add_collection(
        PolyCollection(
            triangles,
            facecolors=colours,
            edgecolors=[(0, 0, 0, 0.7)],
            linewidths=1.0 * PT,
            zorder=z,
        )
    )


def _draw_marks(ax: Axes, frame: MapFrame, marks: Marks) -> None:
    """A point scene's markers, by their symbol's shape; far-away points as arrows."""
    if len(marks.rows) == 0:
        return
    lonlat = np.column_stack(frame.to_lonlat(marks.xy[:, 0], marks.xy[:, 1]))
    far = marks.far
    for shape, level in MARK_LEVEL.items():
        pick = [i for i, s in enumerate(marks.symbols) if not far[i] and _shape(s) == shape]
        if not pick:
            continue
        xy, symbols = lonlat[pick], [marks.symbols[i] for i in pick]
        fills = [s.fill or s.stroke for s in symbols]
        if shape == "circle":
            _dots(ax, xy, symbols, level + marks.z)
        elif shape == "event":
            _event_dots(ax, xy, fills, [s.stroke for s in symbols], level + marks.z)
        else:
            marker = "D" if shape == "diamond" else "s"
            _sites(ax, xy, fills, marker, level + marks.z, marks.hollow[pick])
    if far.any():
        colours = [s.fill or s.stroke for s, f in zip(marks.symbols, far, strict=True) if f]
        _arrows(ax, frame, marks.xy[far], marks.bearing[far], colours, Z_EVENTS + marks.z)


def _scene_rings(ax: Axes, frame: MapFrame, scene: LayerScene, z: float) -> None:
    """A ring around each point as wide as its ``ring_field`` says (metres), in ``ring``."""
    ring = _drawable(scene.ring or scene.symbol)
    coords, rows = shapely.get_coordinates(
        np.asarray(scene.frame.geometry.values), return_index=True
    )
    metres = _numbers(scene.frame, scene.ring_field)[rows]
    for (lon, lat), m in zip(coords, metres, strict=True):
        outline = _ring(frame, lon, lat, m / 1000, ring.stroke_width + 2)
        if outline is not None:
            ax.add_patch(
                PathPatch(
                    MplPath(outline, closed=True),
                    facecolor=to_rgba(ring.fill or ring.stroke, ring.fill_opacity),
                    zorder=z,
                    **_stroke(ring),
                )
            )


def _ring(frame: MapFrame, lon: float, lat: float, km: float, margin: float) -> np.ndarray | None:
    """A circle of ``km`` around the point (an ellipse in lon/lat) as a polygon in lon/lat, cut
    to the map and ``margin`` pixels around it, or None if none of it shows. matplotlib would
    rasterise and dash a whole circle of any size: one of 1e12 km takes it hours, and Ctrl-C
    cannot stop it."""
    if not (km > 0 and math.isfinite(lon) and math.isfinite(lat)):  # NaN too
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
    left, top, right, bottom = area.bounds
    if cx + rx < left or cx - rx > right or cy + ry < top or cy - ry > bottom:
        return None  # nowhere near the map: no need to make the polygon
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


def _spread(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Where each point's dot goes, in pixels: points whose dots would overlap are merged into
    a group, repeatedly, and a group's dots laid out on a sunflower around its centre. Beyond
    SPREAD_LIMIT dots the picture is one of density: the dots stay where their events are."""
    out = list(points)
    if len(points) > SPREAD_LIMIT:
        return out
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


# --- legend -------------------------------------------------------------------------------------

SWATCH_W, SWATCH_GAP, COLUMN_GAP, BOX_PAD = 22, 9, 24, 10


def _legend_plan(
    entries: list[tuple[LegendEntry, LayerScene]], layout: Layout, measure: Measure
) -> LegendPlan:
    """The rows (each entry with its scene) down the room they have, in more columns when they
    do not fit; what does not fit in the width is left off."""
    room = layout.legend
    pad = BOX_PAD if layout.legend_on_map else 0
    row_h = TEXT["legend"].line_height
    per_column = max(1, int((room.h - 2 * pad) // row_h))
    columns = [entries[i : i + per_column] for i in range(0, len(entries), per_column)]
    widths = _column_widths(columns, room.w - 2 * pad, measure)
    columns = columns[: len(widths)]
    if not columns:  # a story with nothing to explain
        return LegendPlan((), None)
    width = _columns_width(widths)
    height = max(len(column) for column in columns) * row_h
    top, box = room.y, None
    if layout.legend_on_map:  # in the map's lower left corner
        top = room.y + room.h - height - pad
        box = Box(room.x, top - pad, width + 2 * pad, height + 2 * pad)
    rows = []
    x = room.x + pad
    for column, label_w in zip(columns, widths, strict=True):
        for k, (entry, scene) in enumerate(column):
            text = measure.shorten(str(entry.label), "legend", label_w)
            opacity = _drawable(scene.symbol).fill_opacity
            rows.append(LegendRow(entry, x, top + (k + 0.5) * row_h, text, opacity))
        x += label_w + SWATCH_W + SWATCH_GAP + COLUMN_GAP
    return LegendPlan(tuple(rows), box)


def _column_widths(
    columns: list[list[tuple[LegendEntry, LayerScene]]], width: float, measure: Measure
) -> list[float]:
    """The label width of each column, for the first column and those after it that fit in
    ``width``: measuring stops there, however many entries a story has."""
    label_room = width - SWATCH_W - SWATCH_GAP
    widths: list[float] = []
    for column in columns:
        label_w = min(label_room, max(measure.width(str(e.label), "legend") for e, _ in column))
        if widths and _columns_width([*widths, label_w]) > width:
            break
        widths.append(label_w)
    return widths


def _columns_width(label_widths: Sequence[float]) -> float:
    n = len(label_widths)
    return sum(label_widths) + n * (SWATCH_W + SWATCH_GAP) + (n - 1) * COLUMN_GAP


def _draw_legend(paper: Axes, legend: LegendPlan) -> None:
    if legend.box is not None:
        box = legend.box
        paper.add_patch(
            Rectangle(
                (box.x, box.y),
                box.w,
                box.h,
                facecolor=(1, 1, 1, 0.92),
                edgecolor=(0, 0, 0, 0.25),
                linewidth=0.8 * PT,
            )
        )
    style = TEXT["legend"]
    for row in legend.rows:
        _swatch(paper, row, row.x, row.mid)
        _text(paper, row.x + SWATCH_W + SWATCH_GAP, row.mid + 0.36 * style.px, row.text, style)


def _swatch(paper: Axes, row: LegendRow, x: float, y: float) -> None:
    """The row's swatch, centred on it at ``y``, as the web page's legend keys (.gs-key-* in
    story.css) and the map's markers draw it; fills as translucent as on the map."""
    entry = row.entry
    colour = entry.color or "#888888"
    edge = entry.stroke or colour
    cx = x + SWATCH_W / 2
    xy = np.array([[cx, y]])
    swatch = entry.swatch
    if swatch in ("fill", "water"):
        paper.add_patch(
            Rectangle(
                (x, y - 7),
                SWATCH_W,
                14,
                facecolor=to_rgba(colour, row.opacity if swatch == "fill" else 1.0),
                edgecolor=edge,
                linewidth=1.5 * PT,
            )
        )
    elif swatch in ("line", "dash"):
        paper.plot(
            [x, x + SWATCH_W],
            [y, y],
            color=colour,
            linewidth=(3.0 if swatch == "line" else 2.0) * PT,
            linestyle=_dashes(() if swatch == "line" else (4.0, 3.0)),
        )
    elif swatch == "dot":
        dot = Symbol(stroke=edge, stroke_width=1.5, fill=colour, fill_opacity=row.opacity, radius=5)
        _dots(paper, xy, [dot], 1)
    elif swatch == "event":
        _event_dots(paper, xy, [colour], [entry.stroke or "#ffffff"], 1)
    elif swatch in ("site", "site-ended"):
        _sites(paper, xy, [colour], "D", 1, [swatch == "site-ended"])
    elif swatch == "event-vague":
        paper.scatter(
            [cx], [y], s=(EVENT_PX * PT) ** 2, c="#ffffff", edgecolors=colour, linewidths=3 * PT
        )
    elif swatch == "badge":
        paper.add_patch(
            FancyBboxPatch(
                (x + 1, y - 6),
                SWATCH_W - 2,
                12,
                boxstyle="round,pad=0,rounding_size=6",
                facecolor=BADGE,
                edgecolor="#ffffff",
                linewidth=1.5 * PT,
            )
        )
    elif swatch == "ring":
        paper.add_patch(
            Circle(
                (cx, y),
                7,
                facecolor=to_rgba(colour, 0.08),
                edgecolor=colour,
                linewidth=1.5 * PT,
                linestyle=_dashes((3.0, 2.0)),
            )
        )
    elif swatch == "arrow":
        paper.add_patch(
            Polygon(
                [(cx, y - 6.5), (cx - 7, y + 6.5), (cx + 7, y + 6.5)],
                closed=True,
                facecolor=colour,
                edgecolor=(0, 0, 0, 0.7),
                linewidth=1.0 * PT,
            )
        )
