"""The page's Content-Security-Policy: only what the page itself holds may run.

Every inline script is allowed by its sha256, so a script injected into the page by a layer's
text could not run even if escaping failed. Nothing may be fetched (no ``connect-src``), no
remote script or font loads, images come from the page itself, ``data:`` URIs, the preview
image's address and, with ``--tiles``, the tile server. Scripts and stylesheets that a notebook
user adds to the folium map by URL (plugins) are allowed by their origin.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.DOTALL | re.IGNORECASE)
_LINK = re.compile(r"<link\b[^>]*\bhref=\"(?P<href>[^\"]+)\"[^>]*>", re.IGNORECASE)
_SRC = re.compile(r"\bsrc=\"(?P<src>[^\"]+)\"", re.IGNORECASE)
_HEAD = "<head>"


def with_policy(page: str, images: Iterable[str] = ()) -> str:
    """``page`` with a CSP meta tag, first in its head, allowing just what it uses."""
    hashes, script_origins = [], set()
    for match in _SCRIPT.finditer(page):
        attrs = match["attrs"]
        src = _SRC.search(attrs)
        if src:
            script_origins.add(_origin(src["src"]))
        elif "application/json" not in attrs:
            digest = hashlib.sha256(match["body"].encode("utf-8")).digest()
            hashes.append(f"'sha256-{base64.b64encode(digest).decode('ascii')}'")
    style_origins = {_origin(m["href"]) for m in _LINK.finditer(page) if ".css" in m["href"]}
    image_origins = {_origin(u) for u in images}
    policy = "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join([*sorted(set(hashes)), *sorted(script_origins - {""})]),
            "style-src 'unsafe-inline' " + " ".join(sorted(style_origins - {""})),
            "img-src 'self' data: " + " ".join(sorted(image_origins - {""})),
            "font-src data:",
            "connect-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    content = html.escape(policy, quote=False)
    meta = f'<meta http-equiv="Content-Security-Policy" content="{content}">'
    return page.replace(_HEAD, f"{_HEAD}\n{meta}", 1)


def _origin(url: str) -> str:
    """The scheme and host a URL loads from ('' for a relative URL: the page's own)."""
    parts = urlsplit(html.unescape(url))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    host = re.sub(r"\{s\}", "*", parts.netloc)  # tile URL templates: {s}.tile.example.org
    return f"{parts.scheme}://{host}"
