"""Scripts and stylesheets the page inlines, read from pip-installed packages (never a CDN).

Leaflet's CSS points at images (the layer-control icon); they become data: URIs so that the
page opened from disk makes no request beyond itself. The project's own scripts and
stylesheets are minified (comments and spaces only: names stay readable in a debugger), and
the gesture-handling plugin keeps the messages of the page's language alone, not its 53.

A page with a large clustered point layer (geo.contract.LARGE_LAYER) also gets the vendored
supercluster (``geo/vendor``) and the large-path code of the project's scripts, the parts
between ``/*<big>*/`` and ``/*</big>*/``; every other page gets them without those parts, the
very scripts it had before the large path existed.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from pathlib import Path

import rcssmin
import rjsmin
import xstatic.pkg.leaflet as leaflet
import xstatic.pkg.leaflet_gesturehandling as gesture
import xstatic.pkg.leaflet_markercluster as cluster

_CSS_URL = re.compile(r"url\((images/[\w.-]+\.png)\)")
_BIG_PART = re.compile(r"/\*<big>\*/.*?/\*</big>\*/", re.DOTALL)  # the large path's code
SUPERCLUSTER = "vendor/supercluster.min.js"


_GESTURE_TEXTS = "var o={"  # the plugin's table of messages, one entry per language
FALLBACK_LANGUAGE = "en"  # what the plugin shows a reader whose language it lacks


@cache
def scripts(language: str = FALLBACK_LANGUAGE, large: bool = False) -> tuple[str, ...]:
    """The JavaScript the map runs, in load order, for a page in ``language``; ``large``: the
    page holds a large clustered point layer (supercluster and the large path)."""
    own = rjsmin.jsmin if large else _small
    return (
        _read(leaflet.BASE_DIR, "leaflet.js"),
        _read(cluster.BASE_DIR, "leaflet.markercluster.js"),
        *((_read(str(files("geo")), SUPERCLUSTER),) if large else ()),
        _gesture_handling(language),
        *(_own(f"templates/{name}.js", own) for name in ("story", "timeline", "navigate")),
    )


def _small(script: str) -> str:
    """A script without its large path, minified."""
    return rjsmin.jsmin(_BIG_PART.sub("", script))


@cache
def stylesheets() -> tuple[str, ...]:
    """The CSS the map uses, in cascade order."""
    return (
        rcssmin.cssmin(
            _inline_images(_read(leaflet.BASE_DIR, "leaflet.css"), Path(leaflet.BASE_DIR))
        ),
        rcssmin.cssmin(_read(cluster.BASE_DIR, "MarkerCluster.css")),
        _read(gesture.BASE_DIR, "leaflet-gesture-handling.min.css"),
        _own("templates/story.css", rcssmin.cssmin),
    )


def _own(name: str, minify: Callable[[str], str]) -> str:
    return minify(files("geo").joinpath(name).read_text(encoding="utf-8"))


def _gesture_handling(language: str) -> str:
    """The plugin with its messages for ``language`` (and English, its fallback) only."""
    script = _read(gesture.BASE_DIR, "leaflet-gesture-handling.min.js")
    start = script.index(_GESTURE_TEXTS) + len(_GESTURE_TEXTS) - 1
    end = _closing_brace(script, start)
    kept = {
        key: value
        for key, value in re.findall(r'("?[\w-]+"?):(\{[^{}]*\})', script[start + 1 : end])
        if key.strip('"') in {language, language.split("-")[0], FALLBACK_LANGUAGE}
    }
    table = "{" + ",".join(f"{key}:{value}" for key, value in kept.items()) + "}"
    return script[:start] + table + script[end + 1 :]


def _closing_brace(text: str, start: int) -> int:
    """The index of the brace that closes the one at ``start``, skipping quoted strings."""
    depth, quote, k = 0, None, start
    while True:
        char = text[k]
        if quote:
            if char == "\\":
                k += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return k
        k += 1


@cache
def default_icon() -> str:
    """Leaflet's default marker images as data: URIs, so that a folium.Marker a notebook user
    adds shows offline (Leaflet would look for marker-icon.png beside the page)."""
    images = Path(leaflet.BASE_DIR) / "images"
    options = {
        "iconUrl": "marker-icon.png",
        "iconRetinaUrl": "marker-icon-2x.png",
        "shadowUrl": "marker-shadow.png",
    }
    lines = ['L.Icon.Default.imagePath = "";']
    for key, name in options.items():
        encoded = base64.b64encode((images / name).read_bytes()).decode("ascii")
        lines.append(f'L.Icon.Default.prototype.options.{key} = "data:image/png;base64,{encoded}";')
    return "\n".join(lines) + "\n"


def _read(base_dir: str, name: str) -> str:
    text = (Path(base_dir) / name).read_text(encoding="utf-8")
    return re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", text)  # no request for a .map file


def _inline_images(css: str, base: Path) -> str:
    def data_uri(match: re.Match[str]) -> str:
        encoded = base64.b64encode((base / match.group(1)).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{encoded})"

    return _CSS_URL.sub(data_uri, css)
