"""Figures tables: dated, sourced numbers that a story gives beside its map (troop levels, say).

A story declares one in map.toml as ``[tables.NAME]`` with ``kind = "figures"``; its rows come
from a CSV file in the story folder (or, from Python, a list of rows). Each row is one figure
as one source gives it: two sources that disagree are two rows, never an average, and a figure
known only roughly stays in its source's words ("about 575"). The page shows every table as a
chart and a table (:mod:`geo.chart`), and the build exports it as ``data/NAME.csv``.

Every problem names the file, the row (the header is row 1, as a spreadsheet numbers it), the
row's id and the column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.dates import as_written, parse_iso, period
from geo.problems import Problem, shown
from geo.story import url_problem
from geo.text import format_date, is_link

KINDS = ("figures",)
REQUIRED = ("id", "date", "date_precision", "count_text", "source_name", "source_url")
OPTIONAL = ("count", "note", "measure")
PRECISIONS = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "year": "YYYY"}
MAX_ROWS = 10_000  # a figures table sits beside a map: more is a mistake, not a table
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_COUNT = re.compile(r"^[0-9]{1,15}\Z")
# A number as sources write it: '575', '1,346' (commas group thousands)
_NUMBER = re.compile(r"(?<![0-9.,])(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?![0-9])")


@dataclass(frozen=True)
class Figure:
    """One figure as one source gives it."""

    id: str
    row: int  # the row in its file; the header is row 1
    date: dt.date
    precision: str  # 'day', 'month' or 'year': how precise the date is
    text: str  # the figure in the source's words: 'about 575', '157 left'
    count: int | None  # only where the source gives one exact number
    series: str | None  # which line of the chart (the table's ``series`` column)
    measure: str | None  # what the figure counts, when a table mixes measures
    source_name: str
    source_url: str
    note: str | None
    cells: Mapping[str, str]  # every cell as written, for the export

    @property
    def approximate(self) -> bool:
        """True when the source gives no exact count ('about 800', 'more than 1,000')."""
        return self.count is None

    @property
    def value(self) -> int | None:
        """What a chart plots: the count, else the one number the text gives ('about 575' is
        575); None when the text gives no number or several (the figure is then only listed)."""
        if self.count is not None:
            return self.count
        numbers = _NUMBER.findall(self.text)
        return int(numbers[0].replace(",", "")) if len(numbers) == 1 else None

    @property
    def when(self) -> str:
        """'13 December 2023', 'June 2017' or '2017': as precise as the source."""
        return format_date(self.date, self.precision)

    @property
    def datetime(self) -> str:
        """The date in HTML's forms (YYYY-MM-DD, YYYY-MM or YYYY), for ``<time datetime>``."""
        return as_written(self.date, self.precision) or ""

    @property
    def link(self) -> bool:
        return is_link(self.source_url)


@dataclass(frozen=True)
class FigureTable:
    """A figures table, read and checked."""

    name: str  # also the exported file's name: data/NAME.csv
    title: str
    series: str | None  # the column whose values name the chart's lines
    unit: str | None  # what the figures count: the chart's axis title
    columns: tuple[str, ...]
    figures: tuple[Figure, ...]

    @property
    def series_title(self) -> str:
        """The series column as a table heading: 'operator' -> 'Operator'."""
        return (self.series or "series").replace("_", " ").capitalize()

    @property
    def measures(self) -> tuple[str, ...]:
        """The measures the table mixes, in first-seen order (empty when it states none)."""
        return tuple(dict.fromkeys(f.measure for f in self.figures if f.measure))


def read_csv(path: Path, where: str, problems: list[Problem]) -> list[list[str]] | None:
    """The file's rows (the header first), UTF-8 with or without a byte-order mark; None, with
    a problem, when it cannot be read as CSV."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(where, f"cannot be read: {exc.strerror}"))
        return None
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(
            Problem(
                where,
                f"expected UTF-8 text, found the byte {exc.object[exc.start]:#04x} "
                f"at offset {exc.start}",
            )
        )
        return None
    try:
        return [row for row in csv.reader(io.StringIO(content, newline="")) if row]
    except csv.Error as exc:
        problems.append(Problem(where, f"not valid CSV: {exc}"))
        return None


def rows_from_records(
    records: Sequence[Any], where: str, problems: list[Problem]
) -> list[list[str]] | None:
    """Rows given as a list of {column: value} tables (map.toml's ``rows``, or Python's
    ``frame.to_dict("records")``), as the CSV reader gives them: the header, then text cells."""
    if not all(isinstance(r, Mapping) and all(isinstance(k, str) for k in r) for r in records):
        problems.append(Problem(where, "expected a list of rows, each a table {column = value}"))
        return None
    header = list(dict.fromkeys(k for r in records for k in r))
    return [header, *([_cell(r.get(k)) for k in header] for r in records)]


def _cell(value: Any) -> str:
    if value is None or value != value:  # None or NaN: no value
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # pandas reads a whole-number column with gaps as floats
    return str(value)


def figures(
    rows: list[list[str]],
    where: str,
    series: str | None,
    problems: list[Problem],
    *,
    inline: bool = False,
) -> tuple[tuple[str, ...], tuple[Figure, ...]]:
    """Check a table's rows (the header first) and return its columns and figures; every
    problem found is added to ``problems``. A problem names the row as a spreadsheet numbers
    it ('row 3', the header being row 1), or for ``inline`` rows (map.toml's) by index."""
    if not rows:
        problems.append(Problem(where, "empty: expected a header row, then one row per figure"))
        return (), ()
    header, body = [h.strip() for h in rows[0]], rows[1:]
    if not _header_ok(header, where, series, problems):
        return tuple(header), ()
    if len(body) > MAX_ROWS:
        problems.append(Problem(where, f"expected at most {MAX_ROWS} rows, found {len(body)}"))
        return tuple(header), ()
    out, seen = [], set()
    for n, cells in enumerate(body, start=2):
        at = lambda ident, n=n: _at(where, n, ident, inline)  # noqa: E731
        figure = _figure(n, header, cells, at, series, problems)
        if figure is None:
            continue
        if figure.id in seen:
            problems.append(Problem(at(figure.id), "id already used by another row", field="id"))
        seen.add(figure.id)
        out.append(figure)
    return tuple(header), tuple(out)


def _header_ok(header: list[str], where: str, series: str | None, problems: list[Problem]) -> bool:
    before = len(problems)
    at = f"{where}, row 1 (the header)"
    folded: dict[str, str] = {}
    for name in header:
        if not name:
            problems.append(Problem(at, "a column has no name"))
        elif name.casefold() in folded:
            problems.append(
                Problem(at, f"two columns are named {shown(name)} (ignoring case)", field=name)
            )
        folded.setdefault(name.casefold(), name)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        problems.append(
            Problem(
                at,
                f"missing column(s) {', '.join(map(repr, missing))}; a figures table has "
                f"{', '.join(REQUIRED)} (and optionally {', '.join(OPTIONAL)})",
            )
        )
    if series is not None and series not in header:
        problems.append(
            Problem(at, f"no column {shown(series)}, which the table's 'series' key names")
        )
    return len(problems) == before


def _at(where: str, row: int, ident: str | None, inline: bool = False) -> str:
    """'troops.csv, row 3 (id 'us-2017')', or 'map.toml, tables.t.rows[1] (id ...)'."""
    place = f"{where}[{row - 2}]" if inline else f"{where}, row {row}"
    return place + (f" (id {shown(ident)})" if ident else "")


def _figure(
    n: int,
    header: list[str],
    cells: list[str],
    located: Callable[[str | None], str],
    series: str | None,
    problems: list[Problem],
) -> Figure | None:
    """Row ``n`` as a Figure, or None (with its problems) when it is not one; ``located``
    names the row, with its id, for messages."""
    if len(cells) != len(header):
        problems.append(
            Problem(
                located(None),
                f"expected {len(header)} cells (one per column of the header), found {len(cells)}",
            )
        )
        return None
    row = dict(zip(header, cells, strict=True))
    ident = row["id"].strip()
    at = located(ident or None)
    before = len(problems)

    def problem(field: str, message: str) -> None:
        problems.append(Problem(at, message, field=field))

    if not _SLUG.match(ident):
        problem("id", f"expected a lower-case slug like 'us-2017-06', found {shown(row['id'])}")
    precision = row["date_precision"]
    if precision not in PRECISIONS:
        problem(
            "date_precision", f"expected one of {', '.join(PRECISIONS)}, found {shown(precision)}"
        )
    parsed = parse_iso(row["date"])
    if parsed is None:
        problem("date", f"expected a date YYYY-MM-DD, YYYY-MM or YYYY, found {shown(row['date'])}")
    elif precision in PRECISIONS and parsed[1] != precision:
        problem(
            "date",
            f"precision is {precision!r}, so write it as {PRECISIONS[precision]}, "
            f"found {shown(row['date'])}",
        )
    text = row["count_text"].strip()
    if not text:
        problem("count_text", "missing: the figure in the source's words, e.g. 'about 800'")
    count = row.get("count", "").strip()
    if count and not _COUNT.match(count):
        problem("count", f"expected a whole number like 648 (or nothing), found {shown(count)}")
    elif count and int(count) not in [int(m.replace(",", "")) for m in _NUMBER.findall(text)]:
        problem("count", f"{count} is not a number that count_text {shown(text)} gives")
    if not row["source_name"].strip():
        problem("source_name", "missing: every figure names its source")
    reason = url_problem(row["source_url"])
    if reason:
        problem(
            "source_url", f"expected an http(s) URL, found {shown(row['source_url'])} ({reason})"
        )
    if series is not None and not row[series].strip():
        problem(series, "missing: the chart's line this figure belongs to")
    if len(problems) > before or parsed is None:
        return None
    note = row.get("note", "").strip()
    measure = row.get("measure", "").strip()
    return Figure(
        id=ident,
        row=n,
        date=parsed[0],
        precision=precision,
        text=text,
        count=int(count) if count else None,
        series=row[series].strip() if series else None,
        measure=measure or None,
        source_name=row["source_name"].strip(),
        source_url=row["source_url"],
        note=note or None,
        cells=row,
    )


def export_rows(table: FigureTable) -> tuple[list[str], list[list[Any]]]:
    """The table as the build exports it: every column as written, then ``date_start`` and
    ``date_end``, the first and last day each figure's date covers (June 2017: 2017-06-01 to
    2017-06-30), the form time-aware tools filter on."""
    taken = {c.lower() for c in table.columns}
    start, end = _free("date_start", taken), _free("date_end", taken)
    header = [*table.columns, start, end]
    rows = []
    for f in table.figures:
        first, last = period(f.date, f.precision)
        rows.append([*(f.cells[c] for c in table.columns), first, last])
    return header, rows


def _free(name: str, taken: set[str]) -> str:
    while name.lower() in taken:
        name = "_" + name
    return name
