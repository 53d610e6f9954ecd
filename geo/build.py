"""Run the pipeline: read a story (from a folder or from GeoDataFrames), publish it atomically.

read_config/options_config -> load -> combine -> kinds' scenes -> render, preview, exports,
embeds. The output folder is assembled beside the target and swapped in only when every step
has succeeded, so a failing build leaves the previous output untouched. Once the story is read,
its outputs are written in two processes (geo.parallel), with the outcome of a serial build.
"""

from __future__ import annotations

import gc
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd

from geo import output
from geo.chapters import chapter_documents, chapter_problems
from geo.combine import Story, combine
from geo.embed import page_url, start_problem, write_embeds
from geo.exports import (
    export_formats,
    export_problems,
    exporting,
    planned_files,
    prepare_datapackage,
    write_datapackage,
    write_format,
)
from geo.load import load_frames, load_layers
from geo.parallel import Relay, Step, run_steps
from geo.problems import Problem, StoryError
from geo.scene import LayerScene
from geo.story import StoryConfig, options_config, read_config

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class BuildResult:
    story: Story
    out: Path
    files: tuple[Path, ...]  # relative to out


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the block (as it was after). A build holds millions of
    lists and dicts for its whole length (the parsed GeoJSON, columns of cells) and makes
    almost no cycles: the collector's passes walked them again and again, a third of a
    100,000-event build's CPU time, to free nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_story(folder: str | Path, log: Log = _quiet) -> Story:
    """Read, validate and combine the story in ``folder``, writing nothing: the only code that
    reads story files. Raises StoryError with every problem found."""
    config = read_config(Path(folder))
    log(f"reading {len(config.layers)} layer(s) from {config.folder}")
    with collector_paused():
        layers, warnings = load_layers(config)
        return _combined(config, layers, warnings, log)


def story_from_frames(
    layers: Mapping[str, gpd.GeoDataFrame | tuple[gpd.GeoDataFrame, Mapping[str, Any]]],
    **options: Any,
) -> Story:
    """A story from GeoDataFrames: ``layers`` maps each layer's name to its frame, or to
    (frame, its map.toml [layers.NAME] keys such as ``kind``, ``title``, ``categories``);
    ``options`` are map.toml's top-level keys (``title``, ``subtitle``, ``chapters``...).
    Validated exactly as a folder is; a problem names the layer instead of a file."""
    frames = {name: v[0] if isinstance(v, tuple) else v for name, v in layers.items()}
    tables = {name: dict(v[1]) if isinstance(v, tuple) else {} for name, v in layers.items()}
    config = options_config(options, tables)
    with collector_paused():
        loaded, warnings = load_frames(config, frames)
        return _combined(config, loaded, warnings, _quiet)


def _combined(config: StoryConfig, layers: list, warnings: list, log: Log) -> Story:
    log("combining layers (neighbours, countries, web geometries)")
    story = combine(config, layers, warnings)
    problems = chapter_problems(story) + export_problems(story)
    if problems:
        raise StoryError(problems)
    return story


def publish(
    story: Story,
    out_dir: str | Path,
    *,
    exports: Sequence[str] = (),
    tiles: str | None = None,
    base_url: str | None = None,
    start: str | None = None,
    log: Log = _quiet,
) -> BuildResult:
    """Write the story's page, preview, embeds and data into ``out_dir``, atomically; a folder
    that a build did not write is never replaced (see geo.output)."""
    out_dir = Path(out_dir)
    story_dir = story.config.folder
    output.check_target(out_dir, story_dir)
    reason = start_problem(story, start) if start else None
    if reason:
        raise StoryError([Problem(f"--start {start!r}", reason)])
    formats = export_formats(exports)
    log = Relay(log)  # the worker's messages reach the caller's log too
    staging = output.new_staging(out_dir)
    try:
        with collector_paused(), exporting(story, staging / "data", log):
            scenes = story.scenes  # computed once (typing the exports did), shared by the steps
            planned = [Path("data", name) for name in planned_files(story, formats)]
            theirs = [f for f in formats if f in _WORKER_FORMATS]
            their_files = [staging / "data" / n for n in planned_files(story, theirs)[:-1]]
            steps = [
                Step(name, partial(write_format, story, staging / "data", name, log), in_worker)
                for name, in_worker in ((f, f in _WORKER_FORMATS) for f in formats)
            ]
            steps += [
                Step("preview", partial(_write_preview, story, scenes, staging, log), True),
                Step(
                    "page",
                    partial(_write_page, story, scenes, staging, planned, tiles, base_url, log),
                ),
                Step("embeds", partial(write_embeds, story, staging, base_url, start)),
                # The worker has time to spare: it hashes its files, finds the layers' sources.
                Step("prepare", partial(prepare_datapackage, story, their_files), True),
            ]
            results = run_steps(steps, log)
            written = [path for name in formats for path in results[name]]
            written.append(write_datapackage(story, staging / "data", written, results["prepare"]))
        if [p.relative_to(staging) for p in written] != planned:  # the page links to these
            raise RuntimeError(f"wrote {written}, expected {planned}")
        files = tuple(sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file()))
        output.write_manifest(staging, files)
        output.check_target(out_dir, story_dir)  # nothing took its place meanwhile
        output.swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log(f"wrote {len(files)} file(s) to {out_dir}")
    return BuildResult(story, out_dir, files)


# Written by the forked worker while this process writes the rest (see geo.parallel), with the
# preview. Balanced by measure: for 100,000 events, GeoJSON, preview and the data package's
# hashes there (about 4 s), the GeoPackage, CSV and page here (about 5 s); for 1,000,000, 34 s
# and 44 s. With the CSV in the worker, it took 6 s and 49 s while this process waited.
_WORKER_FORMATS = frozenset({"geojson", "kml", "shapefile", "flatgeobuf", "geoparquet"})


def write_preview(story: Story, scenes: Sequence[LayerScene], path: Path) -> None:
    """geo.preview's: matplotlib (0.7 s) is imported here, in the process that draws, rather
    than before the build forks."""
    from geo.preview import write_preview as draw

    draw(story, scenes, path)


def _write_preview(story: Story, scenes: Sequence[LayerScene], staging: Path, log: Log) -> None:
    log("drawing the static preview")
    write_preview(story, scenes, staging / "preview.png")


def _write_page(
    story: Story,
    scenes: Sequence[LayerScene],
    staging: Path,
    data_files: Sequence[Path],
    tiles: str | None,
    base_url: str | None,
    log: Log,
) -> None:
    from geo.render import data_links, to_folium  # folium (0.5 s): imported after the fork

    log("rendering the map")
    page = (
        to_folium(
            story,
            scenes,
            data_links(data_files),
            tiles,
            preview=page_url(base_url, "preview.png"),
            chapters=chapter_documents(story),
        )
        .get_root()
        .render()
    )
    (staging / "index.html").write_text(page, encoding="utf-8")


def build(story_dir: str | Path, out_dir: str | Path, **options: Any) -> BuildResult:
    """Build the story in ``story_dir`` into ``out_dir`` (what the command line does): an
    output folder that may not be replaced is refused before the story is read. ``options``
    are :func:`publish`'s."""
    output.check_target(Path(out_dir), Path(story_dir))
    story = read_story(story_dir, options.get("log", _quiet))
    return publish(story, out_dir, **options)
