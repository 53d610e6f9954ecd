"""Scripts and stylesheets the page inlines, read from pip-installed packages (never a CDN).

Leaflet's CSS points at images (the layer-control icon); they become data: URIs so that the
page opened from disk makes no request beyond itself.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from importlib.resources import files
from pathlib import Path

import xstatic.pkg.leaflet as leaflet
import xstatic.pkg.leaflet_gesturehandling as gesture
import xstatic.pkg.leaflet_markercluster as cluster

_CSS_URL = re.compile(r"url\((images/[\w.-]+\.png)\)")


@cache
def scripts() -> tuple[str, ...]:
    """The JavaScript the map runs, in load order."""
    return (
        _read(leaflet.BASE_DIR, "leaflet.js"),
        _default_icon(),
        _read(cluster.BASE_DIR, "leaflet.markercluster.js"),
        _read(gesture.BASE_DIR, "leaflet-gesture-handling.min.js"),
        files("geo").joinpath("templates/story.js").read_text(encoding="utf-8"),
        files("geo").joinpath("templates/timeline.js").read_text(encoding="utf-8"),
        files("geo").joinpath("templates/navigate.js").read_text(encoding="utf-8"),
    )


@cache
def stylesheets() -> tuple[str, ...]:
    """The CSS the map uses, in cascade order."""
    return (
        _inline_images(_read(leaflet.BASE_DIR, "leaflet.css"), Path(leaflet.BASE_DIR)),
        _read(cluster.BASE_DIR, "MarkerCluster.css"),
        _read(gesture.BASE_DIR, "leaflet-gesture-handling.min.css"),
        files("geo").joinpath("templates/story.css").read_text(encoding="utf-8"),
    )


def _default_icon() -> str:
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
