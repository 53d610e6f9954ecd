"""Step 5: the snippets a newsroom pastes into its CMS to embed the map.

``embed.html`` is a responsive iframe. ``embed-autoheight.html`` adds a small script that sizes
the iframe to the height the map reports by ``postMessage``, so the legend is never cut off.
The iframe is sandboxed: scripts (the map), popups for source links, downloads for the data.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from geo import pages
from geo.combine import Story

SANDBOX = "allow-scripts allow-popups allow-popups-to-escape-sandbox allow-downloads"
ASPECT_RATIO = "1 / 1"  # title, a 4:3 map, credit line and list summary at article widths
MIN_HEIGHT_PX = 640  # phones: a two-line title, the key and a usable map
SNIPPETS = {"embed.html": False, "embed-autoheight.html": True}


def page_url(base_url: str | None, name: str = "index.html") -> str:
    """Where a published file will live: under --base-url, or relative to the snippet."""
    return f"{base_url.rstrip('/')}/{name}" if base_url else name


def write_embeds(
    story: Story, folder: Path, base_url: str | None, start: str | None = None
) -> list[Path]:
    """Write both snippets into ``folder``; return their paths. ``start`` is where the
    embedded map opens: 'chapter=N' or 'event=ID' (see start_problem)."""
    written = []
    for name, auto_height in SNIPPETS.items():
        path = folder / name
        path.write_text(snippet(story, base_url, auto_height, start), encoding="utf-8")
        written.append(path)
    return written


def start_problem(story: Story, start: str) -> str | None:
    """Why ``start`` cannot open the map, or None: a chapter the story has, or a feature id."""
    key, _, value = start.partition("=")
    if key == "chapter":
        count = len(story.config.chapters)
        if value.isdigit() and 1 <= int(value) <= count:
            return None
        return (
            f"expected chapter=1..{count}, found {start!r}"
            if count
            else "the story has no chapters"
        )
    if key == "event":
        known = {
            str(v)
            for layer in story.layers
            if "id" in layer.frame
            for v in layer.frame["id"].dropna()
        }
        return None if value in known else f"no feature of the story has the id {value!r}"
    return f"expected chapter=N or event=ID, found {start!r}"


def snippet(story: Story, base_url: str | None, auto_height: bool, start: str | None = None) -> str:
    fragment = "#" + quote(start, safe="=") if start else ""
    return pages.render(
        "embed.html",
        src=page_url(base_url) + fragment,
        title=f"Map: {story.config.title}",
        sandbox=SANDBOX,
        aspect_ratio=ASPECT_RATIO,
        min_height=MIN_HEIGHT_PX,
        auto_height=auto_height,
        base_url=base_url,
    )
