"""Run the pipeline: read a story (from a folder or from GeoDataFrames), publish it atomically.

read_config/options_config -> load -> combine -> kinds' scenes -> render, preview, exports,
embeds. The output folder is assembled beside the target and swapped in only when every step
has succeeded, so a failing build leaves the previous output untouched.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd

from geo import output
from geo.chapters import chapter_documents, chapter_problems
from geo.combine import Story, combine
from geo.embed import page_url, start_problem, write_embeds
from geo.exports import export_problems, write_exports
from geo.load import load_frames, load_layers
from geo.preview import write_preview
from geo.problems import Problem, StoryError
from geo.render import data_links, to_folium
from geo.story import StoryConfig, options_config, read_config

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class BuildResult:
    story: Story
    out: Path
    files: tuple[Path, ...]  # relative to out


def read_story(folder: str | Path, log: Log = _quiet) -> Story:
    """Read, validate and combine the story in ``folder``, writing nothing: the only code that
    reads story files. Raises StoryError with every problem found."""
    config = read_config(Path(folder))
    log(f"reading {len(config.layers)} layer(s) from {config.folder}")
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
    staging = output.new_staging(out_dir)
    try:
        written = write_exports(story, staging / "data", exports, log)
        scenes = story.scenes  # computed once: the exports drew their styles from them too
        log("drawing the static preview")
        write_preview(story, scenes, staging / "preview.png")
        log("rendering the map")
        page = (
            to_folium(
                story,
                scenes,
                data_links([p.relative_to(staging) for p in written]),
                tiles,
                preview=page_url(base_url, "preview.png"),
                chapters=chapter_documents(story),
            )
            .get_root()
            .render()
        )
        (staging / "index.html").write_text(page, encoding="utf-8")
        write_embeds(story, staging, base_url, start)
        files = tuple(sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file()))
        output.write_manifest(staging, files)
        output.check_target(out_dir, story_dir)  # nothing took its place meanwhile
        output.swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log(f"wrote {len(files)} file(s) to {out_dir}")
    return BuildResult(story, out_dir, files)


def build(story_dir: str | Path, out_dir: str | Path, **options: Any) -> BuildResult:
    """Build the story in ``story_dir`` into ``out_dir`` (what the command line does): an
    output folder that may not be replaced is refused before the story is read. ``options``
    are :func:`publish`'s."""
    output.check_target(Path(out_dir), Path(story_dir))
    story = read_story(story_dir, options.get("log", _quiet))
    return publish(story, out_dir, **options)
