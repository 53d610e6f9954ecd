"""BENCHMARKS.md from results.json: a table per workload, the issue's targets, and the method.

The report is made from the raw results alone, so an old results.json renders the same way,
plus ``gains.md``: the hand-kept record of what each change gained when it landed.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import browser

# Hand-kept: what each change gained, measured when it landed (a run measures only the present).
GAINS = Path(__file__).with_name("gains.md")

Getter = Callable[[dict], float | None]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    get: Getter
    unit: str  # "s", "ms" or "bytes"
    part: str  # the part of a tool's result it needs: "build", "bytes" or "browser"


@dataclass(frozen=True)
class Target:
    """An issue 9 target: ``side`` "ours" compares our value, "ratio" ours/explore."""

    workload: str
    metric: str
    side: str
    op: str
    limit: float
    text: str


def _path(*keys: str) -> Getter:
    def get(result: dict) -> float | None:
        value = result
        for k in keys:
            if not isinstance(value, dict) or value.get(k) is None:
                return None
            value = value[k]
        return value

    return get


B = ("bytes", "bytes")  # unit and part of the size metrics
METRICS = (
    Metric("build_s", "build: wall time (median)", _path("build", "wall_s"), "s", "build"),
    Metric("rss", "build: peak RSS", _path("build", "peak_rss_bytes"), "bytes", "build"),
    Metric("page_raw", "page: index.html / explore's .html", _path("bytes", "page", "raw"), *B),
    Metric("page_gzip", "page, gzip'd", _path("bytes", "page", "gzip"), *B),
    Metric("folder_raw", "whole output folder", _path("bytes", "folder", "raw"), *B),
    Metric("folder_gzip", "whole output, each file gzip'd", _path("bytes", "folder", "gzip"), *B),
    Metric("drawn_ms", "Chromium: drawn", _path("browser", "drawn_ms"), "ms", "browser"),
    Metric("zoom_ms", "Chromium: one zoom", _path("browser", "zoom_ms"), "ms", "browser"),
    Metric("pan_ms", "Chromium: one pan", _path("browser", "pan_ms"), "ms", "browser"),
    Metric(
        "heap", "Chromium: JS heap after GC", _path("browser", "heap_bytes"), "bytes", "browser"
    ),
)

TARGETS = (
    Target("default", "page_raw", "ours", "<=", 300e3, "index.html ≤ 300 kB, all inlined"),
    Target("default", "page_gzip", "ours", "<=", 110e3, "index.html ≤ 110 kB gzip'd"),
    Target("events-100000", "page_raw", "ratio", "<=", 0.2, "page ≤ 1/5 of explore's bytes"),
    Target("events-100000", "build_s", "ratio", "<=", 0.4, "build ≤ 40% of explore's time"),
    Target("events-100000", "rss", "ratio", "<=", 1.0, "peak RSS ≤ explore's"),
    Target("events-100000", "drawn_ms", "ours", "<=", 1500, "drawn ≤ 1.5 s"),
    Target("events-100000", "zoom_ms", "ours", "<=", 100, "one zoom ≤ 100 ms"),
    Target("events-100000", "heap", "ours", "<=", 60e6, "JS heap ≤ 60 MB"),
    Target("events-1000000", "build_s", "ours", "<", 60, "build < 60 s"),
    Target("events-1000000", "rss", "ours", "<", 4e9, "build peak RSS < 4 GB"),
    Target("events-1000000", "drawn_ms", "ours", "<", 3000, "opens in Chromium (drawn) < 3 s"),
)
OPS = {"<=": operator.le, "<": operator.lt}
SYMBOL = {"<=": "≤", "<": "<"}


def markdown(results: dict) -> str:
    workloads = {w["name"]: w for w in results["workloads"]}
    parts = [
        _head(results),
        _targets(results, workloads),
        "## Results\n",
        *(_workload(w) for w in results["workloads"]),
        GAINS.read_text(encoding="utf-8"),
        _method(results),
        _assets(results),
        _machine(results),
    ]
    return "\n".join(parts)


def _runs(settings: dict) -> str:
    """How many runs each workload had: "3 run(s)", or "3 run(s) (1 from 1,000,000 points)"."""
    runs = f"{settings['repeat']} run(s)"
    large = settings.get("repeat_large")
    if large is None or large == settings["repeat"]:
        return runs
    return f"{runs} ({large} from {settings.get('large_n', 1_000_000):,} points)"


def _head(results: dict) -> str:
    return (
        "# Benchmarks: geo-story against geopandas.explore()\n\n"
        "Made by `benchmarks/run.py` (see [benchmarks/README.md](benchmarks/README.md)); do not "
        "edit by hand. Raw numbers: [benchmarks/results.json](benchmarks/results.json).\n\n"
        f"Run `{results['command']}`, started {results['started']}"
        f"{', finished ' + results['finished'] if results.get('finished') else ' (unfinished)'}; "
        f"{_runs(results['settings'])} of each build and page, medians. "
        "kB, MB and GB are powers of 1000. *ratio* is this project's value over explore()'s.\n"
    )


def _targets(results: dict, workloads: dict[str, dict]) -> str:
    lines = [
        "## Issue 9's targets\n",
        "| workload | target | measured | met? |",
        "|---|---|---|---|",
    ]
    for t in TARGETS:
        value, verdict = _check(t, workloads.get(t.workload))
        shown = "not measured" if value is None else _format_target_value(t, value)
        lines.append(f"| {_title(t.workload)} | {t.text} | {shown} | {verdict} |")
    return "\n".join(lines) + "\n"


def _check(t: Target, workload: dict | None) -> tuple[float | None, str]:
    if workload is None:
        return None, "not measured (not in this run)"
    value = _value(workload, t.metric, t.side)
    if value is None:
        return None, "not measured: " + _why_missing(workload, t.metric, t.side)
    return value, "met" if OPS[t.op](value, t.limit) else "**not met**"


def _value(workload: dict, metric: str, side: str) -> float | None:
    m = next(m for m in METRICS if m.key == metric)
    ours = m.get(workload["tools"].get("ours", {}))
    if side == "ours":
        return ours
    theirs = m.get(workload["tools"].get("explore", {}))
    return ours / theirs if ours is not None and theirs else None


def _why_missing(workload: dict, metric: str, side: str) -> str:
    tools = ["ours"] if side == "ours" else ["ours", "explore"]
    part = next(m.part for m in METRICS if m.key == metric)
    reasons = [_status(workload["tools"].get(t, {}), part) for t in tools]
    return "; ".join(f"{_tool_name(t)} {r}" for t, r in zip(tools, reasons, strict=True) if r)


def _status(result: dict, part: str) -> str:
    """Why a tool has no value for this part: its build's status, or its page's."""
    if result.get("status") == "skipped":
        return result.get("reason", "skipped")
    if result.get("status") != "ok":
        return f"{result.get('status', 'not run')}{_reason(result)}"
    if part == "browser":
        page = result.get("browser")
        if page is None:
            return "not opened (--no-browser)"
        if page.get("status") != "ok":
            if page.get("status") == "skipped":
                return "page " + page.get("reason", "skipped")
            return f"page {page.get('status')}{_reason(page)}"
    return ""


def _reason(result: dict) -> str:
    text = result.get("reason") or result.get("detail") or ""
    return f" ({text})" if text else ""


def _format_target_value(t: Target, value: float) -> str:
    if t.side == "ratio":
        return f"{value:.2f}× explore's"
    unit = next(m.unit for m in METRICS if m.key == t.metric)
    return _fmt(value, unit)


def _workload(workload: dict) -> str:
    ours, theirs = workload["tools"].get("ours", {}), workload["tools"].get("explore", {})
    lines = [
        f"### {_title(workload['name'])}\n",
        f"Input: {_fmt(workload['input_bytes'], 'bytes')} of GeoJSON.\n",
        "| metric | this project | explore() | ratio | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    for m in METRICS:
        a, b = m.get(ours), m.get(theirs)
        ratio = f"{a / b:.2f}" if a is not None and b else "—"
        targets = [t for t in TARGETS if t.workload == workload["name"] and t.metric == m.key]
        target = "; ".join(t.text for t in targets) or ""
        met = "; ".join(_check(t, workload)[1] for t in targets) if targets else ""
        lines.append(
            f"| {m.label} | {_cell(ours, m, a)} | {_cell(theirs, m, b)} | {ratio} "
            f"| {target} | {met} |"
        )
    return "\n".join(lines) + "\n" + _notes(workload)


def _cell(result: dict, metric: Metric, value: float | None) -> str:
    if value is not None:
        return _fmt(value, metric.unit)
    return _status(result, metric.part) or "—"


def _notes(workload: dict) -> str:
    notes = []
    for tool, result in workload["tools"].items():
        page = result.get("browser") or {}
        errors = sorted({e for run in page.get("runs", []) for e in run.get("errors", [])})
        if errors:
            notes.append(f"- {_tool_name(tool)}'s page logged: " + "; ".join(errors[:3]))
        runs = page.get("runs") or []
        if runs and runs[0].get("counts"):
            c = runs[0]["counts"]
            notes.append(
                f"- {_tool_name(tool)}'s page when drawn: {c['paths']} vector paths and "
                f"{c['markers']} markers in the DOM; zoom {c['zoom'][0]:g} → {c['zoom'][1]:g}."
            )
    return ("\n".join(notes) + "\n") if notes else ""


def _method(results: dict) -> str:
    s = results["settings"]
    return f"""## How each number is measured

- **Inputs.** `benchmarks/synth.py` draws N points over Niger (lon 0.2–15.9, lat 11.7–23.5)
  with numpy's `default_rng({s["seed"]})`: id, date (ISO day), title, category (6 values),
  a number (`value`), `source_name` and an https `source_url`. Each N is written twice as a
  story folder (one GeoJSON layer and map.toml): as a plain layer (kind `features`) and as an
  `events` layer, which also carries `date_precision`, `description`, `place` and
  `location_precision` (1% placed only to the country, whose place is then "Niger": the page
  lists those on the country's name, not as points). The default story is `layers/`;
  explore() gets all of its layers on
  one map, in map.toml's order (the first layer's `explore()`, then `explore(m=m)`).
- **Build.** This project: `python build_map.py STORY --out OUT -q`, the whole command
  (reading, validation, exports, preview, page). explore(): `python
  benchmarks/explore_child.py OUT.html LAYER.geojson...`, which reads each layer with
  `geopandas.read_file`, calls `explore()` with its defaults and `m.save()`. Each is a child
  process of its own; wall time is from start to exit, the median of {_runs(s)}.
  Each build is killed after {s["timeout_s"]:.0f} s and then reported as a timeout.
- **Peak RSS** is `ru_maxrss` from `os.wait4()` on that child: the kernel's high-water mark of
  its resident memory, as GNU `time -v` reports it. (Not `getrusage(RUSAGE_CHILDREN)`, which
  mixes every child the harness has waited for; not polling, which can miss a peak.) This
  project's build forks one worker for half of its outputs (`geo/parallel.py`); the kernel
  counts the larger of the two processes' peaks here, not their sum. The worker shares the
  story with the build (copy on write); sampled by hand, the two together used up to about
  a quarter more (proportional set size) at 1M events.
- **Bytes.** Raw, and gzip'd at level {s["gzip_level"]}. For this project the page is
  `index.html` and the folder is everything the build wrote (each file gzip'd on its own, as a
  server sends them); explore() writes one file, counted for both.
- **Chromium.** Debian's `{browser.CHROMIUM}`, headless, launched by playwright with the flags
  `tests/browser.py` uses, viewport {s["viewport"]["width"]}×{s["viewport"]["height"]}, the page
  opened on `file://`, a fresh browser context for each opening, {_runs(s)}, medians.
  An init script, run before the page's own, catches the moment Leaflet sets `window.L` and
  adds an `L.Map` init hook, so both pages' maps are found the same way, from outside.
  Times are `performance.now()` inside the page:
  - *drawn*: from navigation start until the document is parsed (every page script has run;
    tiles and other images are not waited for), every Leaflet map has fired `load`, a vector
    path, canvas or marker is in a map's panes, and two animation frames have passed;
  - *one zoom*: `map.setZoom(z + 1, {{animate: false}})` until `zoomend` and two animation
    frames (markercluster's own 0.2 s fade after it is not counted);
  - *one pan*: after that zoom, `map.panBy([256, 128], {{animate: false}})` until `moveend` and
    two animation frames;
  - *JS heap*: `Runtime.getHeapUsage().usedSize` over CDP after
    `HeapProfiler.collectGarbage`, once drawn (V8's heap only: DOM nodes are not in it).
  A page that does not get there within {s["browser_timeout_s"]:.0f} s is a timeout.
- **Memory guard.** Before each build the harness estimates the child's peak RSS from the two
  largest sizes it has measured of that tool and kind (a line through them; with fewer,
  constants in `benchmarks/measure.py`), and before each page three times the JS heap so
  estimated plus 0.5 GB. A run whose estimate × 1.25 exceeds `MemAvailable` is skipped and
  reported as "skipped: needs ~X GB, Y GB free".
- **Noise.** Load average at the start: {results["machine"].get("load_average", "?")}, at the
  end: {results["machine"].get("load_average_end", "?")}. On a shared machine the times move
  by tens of percent between runs; bytes do not move at all.
"""


def _assets(results: dict) -> str:
    lines = [
        "## explore()'s CDN files, served offline\n",
        "explore()'s page loads its scripts and styles from CDNs; Chromium gets them from local "
        "copies through playwright's request routing (`benchmarks/assets.py`), so neither page "
        "touches the network. A request no copy matches is aborted and listed below.\n",
        "| CDN prefix | served from | note |",
        "|---|---|---|",
    ]
    lines += [f"| `{a['prefix']}` | {a['from']} | {a['note']} |" for a in results["assets"]]
    unrouted = results.get("unrouted_requests") or []
    lines.append(
        "\nRequests that matched no copy (aborted): "
        + (", ".join(f"`{u}`" for u in unrouted[:10]) if unrouted else "none.")
    )
    return "\n".join(lines) + "\n"


def _machine(results: dict) -> str:
    m, v = results["machine"], results["versions"]
    machine = f"{m['cpu']}, {m['cores']} cores, {m['ram']} RAM; {m['os']}"
    vers = ", ".join(f"{k} {val}" for k, val in v.items())
    return (
        "## Machine and versions\n\n"
        f"- Machine: {machine}.\n- Versions: {vers}.\n\n"
        "## Reproduce\n\n"
        "```sh\n"
        'python -m pip install -e ".[bench]"\n'
        f"{results['command']}\n"
        "```\n"
    )


def _title(name: str) -> str:
    if name == "default":
        return "default story (layers/)"
    kind, _, n = name.rpartition("-")
    return f"{int(n):,} {kind}" if n.isdigit() else name


def _tool_name(tool: str) -> str:
    return "this project" if tool == "ours" else "explore()"


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "ms":
        return f"{value:,.0f} ms"
    for size, name in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if value >= size:
            return f"{value / size:,.1f} {name}"
    return f"{value:.0f} B"
