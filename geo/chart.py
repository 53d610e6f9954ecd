"""A small chart of a figures table (:mod:`geo.figures`): an inline SVG drawn in Python.

It needs no script and no library, scales to any width (a viewBox; the page sets width 100%),
and gives the same bytes every build. It shows what the table says and no more:

- one line per series (and per measure, when a table mixes them), in the table's order;
- a filled mark for an exact count, a hollow one for a figure known only roughly ("about
  800"), at the middle of the period its date covers; a date known only to the month or the
  year is drawn as a bar across that period;
- figures of one series and one date that disagree are two marks joined by a bar, and the
  line runs along both ends of the range (never through an average);
- every mark has a ``<title>`` tooltip: the series, the date, the figure in its source's words,
  the source and its caveat.

The table beside the chart is its text equivalent; the chart itself is one image to screen
readers. Every text goes through markupsafe (Jinja's own escaping).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from geo.dates import day_number, period
from geo.figures import Figure, FigureTable
from geo.kinds import PALETTE

WIDTH, HEIGHT = 360, 224
LEFT, RIGHT, TOP, BOTTOM = 48, 18, 28, 30  # room for the value labels, the unit, the years
FONT = 14  # in viewBox units: 13 px on a 375 px wide phone, 17 px at the page's widest
MARK = 4.5  # a mark's radius
MIN_YEAR_GAP = 40  # viewBox units between two year labels
MAX_TICKS = 5  # value gridlines, zero included
INK, GRID = "#4a4a4a", "#dddddd"


@dataclass(frozen=True)
class LegendItem:
    label: str
    swatch: Markup  # a small inline SVG that draws what the label names


@dataclass(frozen=True)
class Chart:
    svg: Markup
    legend: tuple[LegendItem, ...]
    marks: int  # one per charted figure
    left_out: tuple[Figure, ...]  # figures that give no single number to plot


@dataclass(frozen=True)
class _Line:
    label: str
    colour: str
    figures: tuple[Figure, ...]


def chart(table: FigureTable, element_id: str) -> Chart | None:
    """The table's chart, or None when no figure gives a number to plot."""
    charted = [f for f in table.figures if f.value is not None]
    if not charted:
        return None
    lines = _lines(table, charted)
    first = min(period(f.date, f.precision)[0] for f in charted).year
    last = max(period(f.date, f.precision)[1] for f in charted).year
    x = _TimeScale(dt.date(first, 1, 1), dt.date(last, 12, 31))
    y = _ValueScale(max(f.value or 0 for f in charted))
    parts = [_title(table, element_id, len(charted), first, last)]
    parts += _value_axis(y, table.unit)
    parts += _time_axis(x, first, last)
    for line in lines:
        parts += _line_marks(line, x, y)
    svg = Markup(
        '<svg class="gs-chart-svg" viewBox="0 0 {} {}" role="img" aria-labelledby="{}" '
        'font-size="{}">{}</svg>'
    ).format(WIDTH, HEIGHT, element_id + "-title", FONT, Markup("").join(parts))
    ranges = any(
        len({f.value for f in same}) > 1 for line in lines for same in _by_date(line).values()
    )
    periods = [
        p for p in ("month", "year") if any(_wide(x, f) for f in charted if f.precision == p)
    ]
    return Chart(
        svg=svg,
        legend=_legend(lines, charted, ranges=ranges, periods=periods),
        marks=len(charted),
        left_out=tuple(f for f in table.figures if f.value is None),
    )


def _lines(table: FigureTable, charted: Sequence[Figure]) -> list[_Line]:
    """One line per series and measure, in first-seen order, each with its own colour."""
    mixed = len(table.measures) > 1
    keys = list(dict.fromkeys((f.series, f.measure if mixed else None) for f in charted))
    out = []
    for i, (series, measure) in enumerate(keys):
        label = ": ".join(t for t in (series, measure) if t) or table.title
        members = tuple(
            f for f in charted if (f.series, f.measure if mixed else None) == (series, measure)
        )
        out.append(_Line(label, PALETTE[i % len(PALETTE)], members))
    return out


class _TimeScale:
    """Days to viewBox x, from the start of ``first`` to the end of ``last`` (day numbers, so
    that the end of 9999 needs no date after it)."""

    def __init__(self, first: dt.date, last: dt.date) -> None:
        self.start, self.end = _day(first), _day(last) + 1

    def __call__(self, day: int) -> float:
        share = (day - self.start) / (self.end - self.start)
        return LEFT + share * (WIDTH - LEFT - RIGHT)

    def span(self, f: Figure) -> tuple[float, float, float]:
        """Where a figure's period starts, its middle, and where it ends."""
        first, last = period(f.date, f.precision)
        left, right = self(_day(first)), self(_day(last) + 1)
        return left, (left + right) / 2, right


def _day(value: dt.date) -> int:
    return day_number(value) or 0  # never None for a date


class _ValueScale:
    """Values to viewBox y, from zero to a round number above the largest value."""

    def __init__(self, largest: int) -> None:
        self.step = _round_step(largest)
        self.top = self.step * max(1, math.ceil(largest / self.step))
        if largest > 0.94 * self.top:  # room above the highest mark
            self.top += self.step

    def __call__(self, value: float) -> float:
        return HEIGHT - BOTTOM - value / self.top * (HEIGHT - BOTTOM - TOP)

    def ticks(self) -> list[int]:
        return list(range(0, self.top + 1, self.step))


def _round_step(largest: int) -> int:
    """A round step, so that about MAX_TICKS gridlines cover ``largest``."""
    return _nice(max(largest, 1) / (MAX_TICKS - 1))


def _nice(at_least: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... that is ``at_least``."""
    power = 10 ** max(0, math.floor(math.log10(max(at_least, 1))))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= at_least)


def _n(value: float) -> str:
    """A coordinate: one decimal, the same text every build."""
    return f"{value:.1f}"


def _title(table: FigureTable, element_id: str, count: int, first: int, last: int) -> Markup:
    years = str(first) if first == last else f"{first}–{last}"
    return Markup(
        '<title id="{}">{}: chart of {} figures, {}. The table gives each.</title>'
    ).format(element_id + "-title", table.title, count, years)


def _value_axis(y: _ValueScale, unit: str | None) -> list[Markup]:
    out = []
    for value in y.ticks():
        at = _n(y(value))
        out.append(
            Markup(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1"/>'
                '<text x="{}" y="{}" text-anchor="end" dominant-baseline="middle" fill="{}">'
                "{}</text>"
            ).format(LEFT, at, WIDTH - RIGHT, at, GRID, LEFT - 6, at, INK, f"{value:,}")
        )
    if unit:
        out.append(
            Markup('<text x="2" y="{}" fill="{}">{}</text>').format(
                TOP - 12, INK, unit[:1].upper() + unit[1:]
            )
        )
    return out


def _time_axis(x: _TimeScale, first: int, last: int) -> list[Markup]:
    per_year = (WIDTH - LEFT - RIGHT) / (last + 1 - first)
    step = _nice(MIN_YEAR_GAP / per_year)  # years between two labels
    tick = 1 if per_year >= 4 else step  # a tick a year while they stay apart
    base = HEIGHT - BOTTOM
    out = [
        Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1"/>').format(
            LEFT, base, WIDTH - RIGHT, base, INK
        )
    ]
    for year in range(first + (-first % tick), last + 1, tick):
        at = _n(x(_day(dt.date(year, 1, 1))))
        out.append(
            Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1"/>').format(
                at, base, at, base + 4, INK
            )
        )
        if year % step == 0:
            out.append(
                Markup('<text x="{}" y="{}" text-anchor="middle" fill="{}">{}</text>').format(
                    at, base + 4 + FONT, INK, year
                )
            )
    return out


def _line_marks(line: _Line, x: _TimeScale, y: _ValueScale) -> list[Markup]:
    """The line (along the lowest and the highest figure of each date), the ranges where
    sources disagree, the periods of imprecise dates, and a mark per figure."""
    out: list[Markup] = []
    by_date = _by_date(line)
    dates = sorted(by_date, key=lambda d: (x.span(by_date[d][0])[1], d[0]))
    ends = []
    for d in dates:
        values = [f.value or 0 for f in by_date[d]]
        mid = x.span(by_date[d][0])[1]
        ends.append((mid, min(values), max(values)))
    for pick in (1, 2) if any(lo != hi for _, lo, hi in ends) else (1,):
        if len(ends) > 1:
            points = " ".join(f"{_n(e[0])},{_n(y(e[pick]))}" for e in ends)
            out.append(
                Markup(
                    '<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5" '
                    'stroke-opacity="0.7"/>'
                ).format(points, line.colour)
            )
    for mid, lo, hi in ends:
        if lo != hi:
            out.append(
                Markup(
                    '<line class="gs-range" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" '
                    'stroke-width="4" stroke-opacity="0.35"/>'
                ).format(_n(mid), _n(y(lo)), _n(mid), _n(y(hi)), line.colour)
            )
    for f in line.figures:
        left, mid, right = x.span(f)
        at = _n(y(f.value or 0))
        if _wide(x, f):  # the date is a month or a year wide: show how wide
            out.append(
                Markup(
                    '<path class="gs-period" d="M{},{}v-3v6m0-3H{}m0-3v6" fill="none" '
                    'stroke="{}" stroke-width="1.5"/>'
                ).format(_n(left), at, _n(right), line.colour)
            )
        fill = "#ffffff" if f.approximate else line.colour
        out.append(
            Markup(
                '<circle class="gs-mark" data-figure="{}" cx="{}" cy="{}" r="{}" fill="{}" '
                'stroke="{}" stroke-width="1.5"><title>{}</title></circle>'
            ).format(f.id, _n(mid), at, MARK, fill, line.colour, _tooltip(line, f))
        )
    return out


def _by_date(line: _Line) -> dict[tuple[dt.date, str], list[Figure]]:
    """The line's figures by date (as written, with its precision), in the table's order."""
    out: dict[tuple[dt.date, str], list[Figure]] = {}
    for f in line.figures:
        out.setdefault((f.date, f.precision), []).append(f)
    return out


def _wide(x: _TimeScale, f: Figure) -> bool:
    """True when the figure's date covers more than its mark: a month or a year."""
    left, _, right = x.span(f)
    return right - left > 2 * MARK


def _tooltip(line: _Line, f: Figure) -> str:
    """'United States: in Niger, June 2017: about 575. Source: … Caveat.'"""
    text = f"{line.label}, {f.when}: {f.text}. Source: {f.source_name}."
    return text + (f" {f.note}" if f.note else "")


def _legend(
    lines: Sequence[_Line], charted: Sequence[Figure], *, ranges: bool, periods: Sequence[str]
) -> tuple[LegendItem, ...]:
    items = [LegendItem(line.label, _swatch(line.colour, filled=True, line=True)) for line in lines]
    if any(not f.approximate for f in charted):
        items.append(LegendItem("an exact count", _swatch(INK, filled=True)))
    rough = next((f for f in charted if f.approximate), None)
    if rough is not None:
        items.append(
            LegendItem(f"an approximate figure, e.g. “{rough.text}”", _swatch(INK, filled=False))
        )
    if ranges:
        items.append(LegendItem("several figures for one date: a bar joins them", _range_swatch()))
    if periods:
        known = " or the ".join(periods)
        items.append(LegendItem(f"a date known only to the {known}: its span", _period_swatch()))
    return tuple(items)


def _swatch(colour: str, *, filled: bool, line: bool = False) -> Markup:
    stroke = (
        Markup('<line x1="0" y1="7" x2="24" y2="7" stroke="{}" stroke-width="2"/>').format(colour)
        if line
        else Markup("")
    )
    return Markup(
        '<svg class="gs-swatch" viewBox="0 0 24 14" width="24" height="14" aria-hidden="true">'
        '{}<circle cx="12" cy="7" r="4.5" fill="{}" stroke="{}" stroke-width="1.5"/></svg>'
    ).format(stroke, colour if filled else "#ffffff", colour)


def _range_swatch() -> Markup:
    return Markup(
        '<svg class="gs-swatch" viewBox="0 0 24 14" width="24" height="14" aria-hidden="true">'
        '<line x1="12" y1="2" x2="12" y2="12" stroke="{0}" stroke-width="4" stroke-opacity="0.35"/>'
        '<circle cx="12" cy="3" r="2.5" fill="#ffffff" stroke="{0}" stroke-width="1.5"/>'
        '<circle cx="12" cy="11" r="2.5" fill="#ffffff" stroke="{0}" stroke-width="1.5"/></svg>'
    ).format(INK)


def _period_swatch() -> Markup:
    return Markup(
        '<svg class="gs-swatch" viewBox="0 0 24 14" width="24" height="14" aria-hidden="true">'
        '<path d="M2,4v6m0-3H22m0-3v6" fill="none" stroke="{}" stroke-width="1.5"/></svg>'
    ).format(INK)
