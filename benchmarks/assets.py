"""Offline stand-ins for the CDN files an explore() page loads, served to Chromium by routing.

The machine has no internet, and a benchmark should not time a CDN anyway. Each CDN prefix maps
to a folder from a pip package (xstatic) or an npm tarball of the same version, unpacked into the
work dir's cache (``npm pack``, never committed). OpenStreetMap tiles get one blank PNG. A request
that matches nothing is aborted and recorded, so a page that needed it shows up in the report.
"""

from __future__ import annotations

import importlib
import mimetypes
import struct
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Route


@dataclass(frozen=True)
class Source:
    """Files under the CDN ``prefix`` come from ``package``; ``paths`` maps CDN sub-paths (or
    their leading folders) to the package's own layout."""

    prefix: str
    origin: str  # "pip" or "npm" or "none"
    package: str  # pip: the xstatic module; npm: the package spec
    subdir: str = ""
    paths: dict[str, str] = field(default_factory=dict)
    note: str = ""
    version: str = ""  # pip: the version the CDN URL names


SOURCES = (
    Source(
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/",
        "pip",
        "xstatic.pkg.leaflet",
        version="1.9.3",
    ),
    Source(
        "https://code.jquery.com/",
        "pip",
        "xstatic.pkg.jquery",
        paths={"jquery-3.7.1.min.js": "jquery.min.js"},
        version="3.7.1",
    ),
    Source(
        "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/",
        "npm",
        "bootstrap@5.2.2",
        note="PyPI's xstatic-bootstrap has 5.3.8 and 4.5.3, not 5.2.2",
    ),
    Source(
        "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/",
        "npm",
        "@fortawesome/fontawesome-free@6.2.0",
        note="PyPI's xstatic-font-awesome has 6.2.1, not 6.2.0",
    ),
    Source(
        "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/",
        "npm",
        "drmonty-leaflet-awesome-markers@2.0.2",
        paths={
            "leaflet.awesome-markers.js": "js/leaflet.awesome-markers.js",
            "leaflet.awesome-markers.css": "css/leaflet.awesome-markers.css",
            "images/": "css/images/",
        },
        note="no PyPI package; drmonty's npm repackaging of the 2.0.2 release",
    ),
    Source(
        "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/",
        "npm",
        "@neos21/bootstrap3-glyphicons@1.0.7",
        subdir="dist",
        paths={"css/bootstrap-glyphicons.css": "css/bootstrap3-glyphicons.css"},
        note="stand-in: Bootstrap 3.3.7's glyphicons extracted; the 3.0.0 file is in no registry",
    ),
    Source(
        "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/",
        "none",
        "",
        note="folium's own leaflet.awesome.rotate.min.css is in no registry: served empty "
        "(it only rotates awesome-markers icons, which explore()'s circle markers do not use)",
    ),
    Source(
        "https://tile.openstreetmap.org/",
        "none",
        "",
        note="every OpenStreetMap tile is one blank 256x256 PNG made here",
    ),
)

EXTRA_TYPES = {".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf", ".map": "json"}


class Router:
    """Answers Chromium's requests for CDN files from local copies (see SOURCES)."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.roots = {s.prefix: _root(s, cache) for s in SOURCES}
        self.blank_tile = _blank_png(256)
        self.unrouted: list[str] = []

    def body(self, url: str) -> tuple[bytes, str] | None:
        """The body and content type for ``url``, or None when no source has it."""
        for source in SOURCES:
            if not url.startswith(source.prefix):
                continue
            if source.prefix.startswith("https://tile."):
                return self.blank_tile, "image/png"
            root = self.roots[source.prefix]
            if root is None:
                return b"", "text/css"
            rest = _local_path(url[len(source.prefix) :].split("?")[0].split("#")[0], source)
            path = (root / rest).resolve()
            if root.resolve() in path.parents and path.is_file():
                return path.read_bytes(), _content_type(path)
            return None
        return None

    def handle(self, route: Route) -> None:
        """A playwright route handler: local files pass, CDN files are served, the rest fail."""
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            route.continue_()
            return
        found = self.body(url)
        if found is None:
            self.unrouted.append(url)
            route.abort()
            return
        body, content_type = found
        headers = {"access-control-allow-origin": "*", "cache-control": "no-store"}
        route.fulfill(status=200, body=body, content_type=content_type, headers=headers)


def describe() -> list[dict[str, str]]:
    """Where each CDN file came from, for the report."""
    rows = []
    for s in SOURCES:
        version = _pip_version(s.package) if s.origin == "pip" else ""
        origin = {"pip": f"PyPI: {_pip_name(s.package)} {version}", "npm": f"npm: {s.package}"}
        note = s.note
        if s.version and not version.startswith(s.version + "."):
            note = f"**version differs from the CDN's {s.version}** {note}".strip()
        source = origin.get(s.origin, "generated here")
        rows.append({"prefix": s.prefix, "from": source, "note": note})
    return rows


def _root(source: Source, cache: Path) -> Path | None:
    if source.origin == "pip":
        return Path(importlib.import_module(source.package).BASE_DIR)
    if source.origin == "npm":
        return _npm_package(source.package, cache) / source.subdir
    return None


def _local_path(rest: str, source: Source) -> str:
    for cdn, local in source.paths.items():
        if rest == cdn or (cdn.endswith("/") and rest.startswith(cdn)):
            return local + rest[len(cdn) :]
    return rest


def _npm_package(spec: str, cache: Path) -> Path:
    """The unpacked npm package ``spec`` (``npm pack``), cached under ``cache/npm``."""
    folder = cache / "npm" / spec.replace("/", "__")
    if (folder / "package" / "package.json").exists():
        return folder / "package"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        name = subprocess.run(
            ["npm", "pack", spec, "--silent", "--pack-destination", tmp],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        with tarfile.open(Path(tmp) / name.splitlines()[-1]) as tar:
            tar.extractall(folder, filter="data")
    return folder / "package"


def _pip_name(module: str) -> str:
    return "xstatic-" + module.rsplit(".", 1)[-1]


def _pip_version(module: str) -> str:
    from importlib.metadata import version

    return version(_pip_name(module))


def _content_type(path: Path) -> str:
    return EXTRA_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "text/plain"


def _blank_png(size: int) -> bytes:
    """A blank (sea-grey) square PNG, made without an imaging library."""
    row = b"\x00" + b"\xdd\xdd\xdd" * size
    raw = zlib.compress(row * size, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
