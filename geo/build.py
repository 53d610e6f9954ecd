"""Run the pipeline and write its output atomically.

load -> combine -> render -> export/embed. The output folder is assembled beside the target
and swapped in only when every step has succeeded, so a failing build leaves the previous
output untouched.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from geo import output
from geo.combine import Story, combine
from geo.embed import page_url, write_embeds
from geo.export import write_exports
from geo.kindmods import story_scenes
from geo.load import load_layers
from geo.preview import write_preview
from geo.render import data_links, render_html
from geo.story import read_story

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class BuildResult:
    story: Story
    out: Path
    files: tuple[Path, ...]  # relative to out


def check(story_dir: Path, log: Log = _quiet) -> Story:
    """Read, validate and combine a story without writing anything."""
    config = read_story(Path(story_dir))
    log(f"reading {len(config.layers)} layer(s) from {config.folder}")
    layers, warnings = load_layers(config)
    log("combining layers (neighbours, countries, web geometries)")
    return combine(config, layers, warnings)


def build(
    story_dir: Path,
    out_dir: Path,
    *,
    exports: Sequence[str] = (),
    tiles: str | None = None,
    base_url: str | None = None,
    log: Log = _quiet,
) -> BuildResult:
    """Build the story in ``story_dir`` into ``out_dir``; raise StoryError on invalid input."""
    out_dir = Path(out_dir)
    output.check_target(out_dir, Path(story_dir))
    story = check(story_dir, log)
    staging = output.new_staging(out_dir)
    try:
        written = write_exports(story, staging / "data", exports, log)
        scenes = story_scenes(story)
        log("drawing the static preview")
        write_preview(story, scenes, staging / "preview.png")
        log("rendering the map")
        page = render_html(
            story,
            scenes,
            data_links([p.relative_to(staging) for p in written]),
            tiles,
            preview=page_url(base_url, "preview.png"),
        )
        (staging / "index.html").write_text(page, encoding="utf-8")
        write_embeds(story, staging, base_url)
        files = tuple(sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file()))
        output.write_manifest(staging, files)
        output.check_target(out_dir, Path(story_dir))  # nothing took its place meanwhile
        output.swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log(f"wrote {len(files)} file(s) to {out_dir}")
    return BuildResult(story, out_dir, files)
