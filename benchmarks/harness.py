"""The benchmark run: generate the stories, build each with both tools, open each page, report.

Every build runs in a child process of its own (see children.py); the pages are opened here,
in headless Chromium, one fresh browser context per repeat. Results are written to
benchmarks/results.json after every workload, so an interrupted run still leaves what it measured.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from benchmarks import assets, browser, measure, report, synth
from benchmarks.children import ChildRun, run_child

if sys.version_info >= (3, 11):
    import tomllib
else:  # the project's own dependency on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000)
LARGE_N = 1_000_000  # from this size on, --repeat-large applies: one build takes minutes
TOOLS = ("ours", "explore")


@dataclass(frozen=True)
class Workload:
    """One input: a story folder for this project, and the GeoJSON layers explore() reads."""

    name: str
    story: Path
    layers: tuple[Path, ...]
    n: int | None = None  # points, for the synthetic stories
    kind: str = "story"


@dataclass
class Context:
    args: argparse.Namespace
    router: assets.Router
    bar: tqdm
    rss_seen: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=dict)
    heap_seen: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=dict)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="Compare this project's build and page with geopandas.explore() on the same "
        "data: seeded synthetic stories of N dated points over Niger (a plain layer and an "
        "events layer for each N) and the default story. Each build runs in its own process "
        "(wall time, peak RSS, output bytes raw and gzip'd); each page is opened in headless "
        "Chromium on file:// (time until drawn, one zoom, one pan, JS heap). Writes "
        "BENCHMARKS.md and benchmarks/results.json.",
        epilog="Needs the 'bench' extra (pip install -e '.[bench]'), npm (for the CDN files "
        "explore's page loads) and /usr/bin/chromium. A run that fails or times out is recorded "
        "as such; a size that MemAvailable cannot hold is skipped with the reason.",
    )
    p.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="comma-separated numbers of points (default: %(default)s)",
    )
    p.add_argument(
        "--repeat", type=int, default=3, help="runs of each build and page; medians (default: 3)"
    )
    p.add_argument(
        "--repeat-large",
        type=int,
        default=None,
        help=f"runs of each build and page for stories of {LARGE_N:,} points or more, whose "
        "builds take minutes (default: --repeat)",
    )
    p.add_argument("--no-browser", action="store_true", help="skip the Chromium measurements")
    p.add_argument("--no-default", action="store_true", help="skip the default story (layers/)")
    p.add_argument(
        "--timeout", type=float, default=1800, help="seconds per build before it is killed (1800)"
    )
    p.add_argument(
        "--browser-timeout",
        type=float,
        default=600,
        help="seconds per page opening before it counts as timed out (600)",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        default=BENCH / ".work",
        help="stories, outputs and the CDN cache (default: benchmarks/.work, git-ignored)",
    )
    p.add_argument(
        "--out-md", type=Path, default=ROOT / "BENCHMARKS.md", help="report (BENCHMARKS.md)"
    )
    p.add_argument(
        "--out-json",
        type=Path,
        default=BENCH / "results.json",
        help="raw results (benchmarks/results.json)",
    )
    p.add_argument(
        "--project",
        type=Path,
        default=ROOT,
        help="the checkout of this project whose build_map.py is measured, e.g. a clone of "
        "another commit to compare (default: this repository)",
    )
    p.add_argument(
        "--plan",
        action="store_true",
        help="generate the stories and print the memory guard's estimates; run nothing",
    )
    p.add_argument(
        "--render",
        action="store_true",
        help="only rewrite the report (--out-md) from the results in --out-json; run nothing",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="also profile this project's build of the largest events story with pyinstrument "
        "(text report in the work dir)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.render:
        results = json.loads(args.out_json.read_text(encoding="utf-8"))
        args.out_md.write_text(report.markdown(results), encoding="utf-8")
        return 0
    try:
        sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser().error(f"--sizes takes comma-separated integers, found {args.sizes!r}")
    if args.repeat < 1 or (args.repeat_large is not None and args.repeat_large < 1):
        parser().error("--repeat and --repeat-large must be at least 1")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    workloads = ([] if args.no_default else [default_workload(args.project)]) + [
        synthetic_workload(n, kind, args.work_dir) for n in sizes for kind in synth.KINDS
    ]
    if args.plan:
        return plan(workloads, args)
    results = new_results(args, sizes)
    steps = sum(repeats(w, args) + (0 if args.no_browser else 1) for w in workloads) * len(TOOLS)
    with tqdm(total=steps, unit="run", dynamic_ncols=True) as bar:
        ctx = Context(args, assets.Router(args.work_dir / "cdn"), bar)
        for workload in workloads:
            results["workloads"].append(run_workload(workload, ctx))
            save(results, args)
        results["unrouted_requests"] = sorted(set(ctx.router.unrouted))
    results["finished"] = _now()
    results["machine"]["load_average_end"] = measure.machine()["load_average"]
    if args.profile:
        results["profile"] = profile(workloads, args)
    save(results, args)
    print(f"wrote {args.out_md} and {args.out_json}", file=sys.stderr)
    return 0


def default_workload(project: Path) -> Workload:
    """The default story, and its layers in map.toml's order for explore()."""
    folder = project.resolve() / "layers"
    config = tomllib.loads((folder / "map.toml").read_text(encoding="utf-8"))
    tables = config.get("layers", {})
    names = config.get("order", [])
    files = [folder / tables.get(name, {}).get("file", f"{name}.geojson") for name in names]
    files += sorted(p for p in folder.glob("*.geojson") if p not in files)
    return Workload("default", folder, tuple(files))


def synthetic_workload(n: int, kind: str, work: Path) -> Workload:
    spec = synth.spec(n, kind, work / "stories")
    return Workload(spec.workload, spec.folder, (spec.geojson,), n, kind)


def plan(workloads: list[Workload], args: argparse.Namespace) -> int:
    """Generate every story and say what the memory guard would decide (--plan), scaling from
    the peaks in the last results.json when there is one."""
    seen = previous_peaks(args.out_json)
    print(f"MemAvailable: {measure.mem_available() / measure.GB:.1f} GB")
    for w in tqdm(workloads, desc="generating", unit="story"):
        if w.n is not None:
            synth.write_story(synth.spec(w.n, w.kind, args.work_dir / "stories"))
    for w in workloads:
        if w.n is None:
            continue
        for tool in TOOLS:
            need = measure.estimate_peak(tool, w.n, seen.get((tool, w.kind), []))
            verdict = measure.memory_refusal(need) or "would run"
            tqdm.write(f"{w.name:>16} {tool:<8} build needs ~{need / 1e9:.2f} GB: {verdict}")
    return 0


def previous_peaks(path: Path) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """(points, peak RSS) of each tool and kind in an earlier results.json."""
    if not path.exists():
        return {}
    seen: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for w in json.loads(path.read_text(encoding="utf-8")).get("workloads", []):
        for tool, result in w["tools"].items():
            peak = (result.get("build") or {}).get("peak_rss_bytes")
            if w["n"] and peak and result.get("status") == "ok":
                seen.setdefault((tool, w["kind"]), []).append((w["n"], peak))
    return seen


def new_results(args: argparse.Namespace, sizes: list[int]) -> dict:
    return {
        "schema": 1,
        "started": _now(),
        "command": "python benchmarks/run.py " + " ".join(sys.argv[1:]),
        "settings": {
            "sizes": sizes,
            "repeat": args.repeat,
            "repeat_large": args.repeat_large,
            "large_n": LARGE_N,
            "browser": not args.no_browser,
            "timeout_s": args.timeout,
            "browser_timeout_s": args.browser_timeout,
            "seed": synth.SEED,
            "gzip_level": measure.GZIP_LEVEL,
            "viewport": browser.VIEWPORT,
            "project": str(args.project.resolve()),
        },
        "machine": measure.machine(),
        "versions": measure.versions(args.project.resolve(), browser.chromium_version()),
        "assets": assets.describe(),
        "workloads": [],
    }


def run_workload(workload: Workload, ctx: Context) -> dict:
    if workload.n is not None:
        ctx.bar.set_description(f"{workload.name}: generating")
        synth.write_story(synth.spec(workload.n, workload.kind, ctx.args.work_dir / "stories"))
    entry = {
        "name": workload.name,
        "kind": workload.kind,
        "n": workload.n,
        "input_bytes": sum(p.stat().st_size for p in workload.layers),
        "tools": {},
    }
    for tool in TOOLS:
        entry["tools"][tool] = run_tool(workload, tool, ctx)
    return entry


def repeats(workload: Workload, args: argparse.Namespace) -> int:
    """How many times the workload is built and its page opened."""
    large = workload.n is not None and workload.n >= LARGE_N and args.repeat_large is not None
    return args.repeat_large if large else args.repeat


def run_tool(workload: Workload, tool: str, ctx: Context) -> dict:
    """Build ``repeats`` times (medians), measure the output, then open the page."""
    args, key = ctx.args, (tool, workload.kind)
    out = args.work_dir / "out" / workload.name / ("ours" if tool == "ours" else "explore.html")
    repeat = repeats(workload, args)
    steps_left = repeat + (0 if args.no_browser else 1)
    if workload.n is not None:
        need = measure.estimate_peak(tool, workload.n, ctx.rss_seen.get(key, []))
        refusal = measure.memory_refusal(need)
        if refusal:
            tqdm.write(f"{workload.name} {tool}: {refusal}")
            ctx.bar.update(steps_left)
            return {"status": "skipped", "reason": refusal}
    runs: list[ChildRun] = []
    for i in range(repeat):
        ctx.bar.set_description(f"{workload.name} {tool}: build {i + 1}/{repeat}")
        runs.append(build_once(workload, tool, out, args))
        ctx.bar.update(1)
        if runs[-1].status != "ok":
            tqdm.write(f"{workload.name} {tool}: build {runs[-1].status}: {runs[-1].detail}")
            ctx.bar.update(repeat - i - 1)
            break
    result = summarise_builds(runs)
    if result["status"] != "ok":
        ctx.bar.update(steps_left - repeat)
        return result
    if workload.n is not None:
        ctx.rss_seen.setdefault(key, []).append((workload.n, result["build"]["peak_rss_bytes"]))
    result["bytes"] = output_bytes(tool, out)
    if not args.no_browser:
        ctx.bar.set_description(f"{workload.name} {tool}: Chromium x{repeat}")
        result["browser"] = open_page(workload, tool, out, ctx)
        ctx.bar.update(1)
    return result


def build_once(workload: Workload, tool: str, out: Path, args: argparse.Namespace) -> ChildRun:
    if out.is_dir():
        shutil.rmtree(out)
    out.unlink(missing_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if tool == "ours":
        cmd = [sys.executable, "build_map.py", str(workload.story), "--out", str(out), "-q"]
    else:
        cmd = [sys.executable, str(BENCH / "explore_child.py"), str(out)]
        cmd += [str(p) for p in workload.layers]
    log = out.parent / f"{tool}.log"
    return run_child(cmd, args.timeout, args.project.resolve(), log)


def summarise_builds(runs: list[ChildRun]) -> dict:
    ok = [r for r in runs if r.status == "ok"]
    failed = next((r for r in runs if r.status != "ok"), None)
    build = {
        "runs": [asdict(r) for r in runs],
        "wall_s": statistics.median(r.wall_s for r in ok) if ok and not failed else None,
        "peak_rss_bytes": int(statistics.median(r.peak_rss_bytes for r in ok)) if ok else None,
    }
    if failed:
        return {"status": failed.status, "reason": failed.detail, "build": build}
    return {"status": "ok", "build": build}


def output_bytes(tool: str, out: Path) -> dict:
    if tool == "ours":
        return {"page": measure.file_sizes(out / "index.html"), "folder": measure.folder_sizes(out)}
    page = measure.file_sizes(out)
    return {"page": page, "folder": page | {"files": 1}}  # explore writes one file


def open_page(workload: Workload, tool: str, out: Path, ctx: Context) -> dict:
    key = (tool, workload.kind)
    if workload.n is not None:
        need = measure.estimate_browser(workload.n, ctx.heap_seen.get(key, []))
        refusal = measure.memory_refusal(need)
        if refusal:
            tqdm.write(f"{workload.name} {tool} in Chromium: {refusal}")
            return {"status": "skipped", "reason": refusal}
    html = out / "index.html" if tool == "ours" else out
    repeat = repeats(workload, ctx.args)
    page = browser.measure(html, ctx.router, repeat, ctx.args.browser_timeout)
    if page["status"] != "ok":
        tqdm.write(f"{workload.name} {tool} in Chromium: {page['status']}: {page['detail']}")
    elif workload.n is not None and page["heap_bytes"]:
        ctx.heap_seen.setdefault(key, []).append((workload.n, int(page["heap_bytes"])))
    return page


def profile(workloads: list[Workload], args: argparse.Namespace) -> dict:
    """One pyinstrument run of this project's build of the largest events story."""
    events = [w for w in workloads if w.kind == "events"]
    if not events:
        return {"status": "skipped", "reason": "no events size in --sizes"}
    target = max(events, key=lambda w: w.n or 0)
    report_path = args.work_dir / f"profile-{target.name}.txt"
    out = args.work_dir / "out" / f"profile-{target.name}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(report_path)]
    cmd += ["build_map.py", str(target.story), "--out", str(out), "-q"]
    started = time.perf_counter()
    run = run_child(cmd, args.timeout, args.project.resolve(), args.work_dir / "profile.log")
    print(f"profile: {report_path} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return {"workload": target.name, "report": str(report_path), "status": run.status}


def save(results: dict, args: argparse.Namespace) -> None:
    args.out_json.parent.mkdir(parents=True, exist_ok=True)
    args.out_json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    args.out_md.write_text(report.markdown(results), encoding="utf-8")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
