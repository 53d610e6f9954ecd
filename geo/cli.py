"""Command line: ``python build_map.py [STORY_DIR] [--out DIR] [--check] [-v/-q]``.

A thin caller of the Python API. The heavy modules (geopandas, folium, matplotlib) are imported
only once the arguments are parsed, so ``--help`` and usage errors answer at once.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from geo.formats import EXTRA_FORMATS, parse_formats
from geo.problems import StoryError

if TYPE_CHECKING:
    from geo.combine import Story

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="build_map.py",
        description="Publish a story - a folder of GeoJSON layers with an optional map.toml - as "
        "one self-contained, offline HTML map plus the layers as GIS-ready data.",
        epilog="Exit status: 0 built (or valid with --check); 2 invalid input, every problem "
        "listed with its file, feature and field, nothing written; 1 unexpected failure.",
    )
    p.add_argument(
        "story",
        nargs="?",
        default="layers",
        type=Path,
        metavar="STORY_DIR",
        help="folder of .geojson layers and optional map.toml (default: layers/)",
    )
    p.add_argument(
        "--out",
        default=Path("dist"),
        type=Path,
        metavar="DIR",
        help="output folder, replaced atomically on success (default: dist/)",
    )
    p.add_argument(
        "--check", action="store_true", help="validate the story and print a summary; write nothing"
    )
    p.add_argument(
        "--export",
        default="",
        metavar="FORMATS",
        help="extra data formats, comma-separated, or 'all': "
        + ", ".join(EXTRA_FORMATS)
        + " (GeoPackage, GeoJSON and CSV are always written)",
    )
    p.add_argument(
        "--tiles",
        metavar="NAME",
        help="add an online tile basemap from xyzservices, e.g. OpenStreetMap.Mapnik "
        "(off by default: the map is drawn from the story's own layers, offline)",
    )
    p.add_argument(
        "--base-url",
        metavar="URL",
        help="where dist/ will be published, e.g. https://example.org/maps/niger: "
        "embed.html's iframe and the link-preview image point there",
    )
    p.add_argument(
        "--start",
        metavar="WHERE",
        help="where the embedded map opens: chapter=N or event=ID "
        "(the embed snippets' iframe points there)",
    )
    loud = p.add_mutually_exclusive_group()
    loud.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="more progress detail, and a full traceback on unexpected errors",
    )
    loud.add_argument(
        "-q", "--quiet", action="store_true", help="print only errors (and the --check summary)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        exports = parse_formats(args.export)
    except ValueError as exc:
        p.error(str(exc))  # exits 2 with the usage line
    if args.tiles:
        from geo.tiles import tile_provider

        try:
            tile_provider(args.tiles)
        except ValueError as exc:
            p.error(str(exc))
    if args.base_url and not args.base_url.startswith(("https://", "http://", "/")):
        p.error(f"--base-url must start with https://, http:// or /, found {args.base_url!r}")

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr)

    from geo.build import build, read_story
    from geo.exports.tables import gdal_warnings_to

    try:
        with gdal_warnings_to(log):  # GDAL's warnings obey -q, like every progress line
            if args.check:
                story = read_story(args.story, log)
                print(summary(story))
            else:
                result = build(
                    args.story,
                    args.out,
                    exports=exports,
                    tiles=args.tiles,
                    base_url=args.base_url,
                    start=args.start,
                    log=log,
                )
                for warning in result.story.warnings:
                    log(f"warning: {warning}")
    except StoryError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found; nothing was written.", file=sys.stderr)
        return EXIT_INVALID
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        print(
            f"build failed: {type(exc).__name__}: {exc}"
            + ("" if args.verbose else " (run with -v for the traceback)"),
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


def summary(story: Story) -> str:
    """What --check prints: layers with feature counts, derived facts, warnings."""
    lines = [f"story: {story.config.title} ({story.config.folder})"]
    for layer in story.layers:
        lines.append(
            f"  {layer.name:<16} {layer.config.kind:<10} {len(layer.frame):>4} features"
            f"  ({layer.config.file})"
        )
    if story.focus:
        lines.append(f"neighbours of {story.focus} (by geometry): {', '.join(story.neighbours)}")
    lines.append(f"{len(story.warnings)} warning(s)")
    lines.extend(f"  warning: {w}" for w in story.warnings)
    lines.append("valid: nothing written (--check)")
    return "\n".join(lines)
