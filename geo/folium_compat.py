"""The workarounds that folium and branca need to make one offline, reproducible page.

Each exists for one reason, said beside it. Everything else in the page is plain folium: the
map a user gets from ``to_folium()`` takes markers and plugins like any ``folium.Map``.
"""

from __future__ import annotations

import json
from typing import ClassVar

import folium
from branca.element import Element


class OfflineMap(folium.Map):
    """folium.Map without its default CDN scripts and stylesheets (jQuery, Bootstrap, Font
    Awesome, Leaflet from a CDN): the page inlines its own Leaflet from pip packages and must
    open with no network. Plugins a user adds still bring their own links."""

    default_js: ClassVar[list] = []
    default_css: ClassVar[list] = []


def stable_ids(root: Element) -> None:
    """Replace branca's random element ids (uuid4) by their position in the tree, so the same
    story gives the same bytes. Call it just before rendering."""
    counter = 0

    def walk(element: Element) -> None:
        nonlocal counter
        element._id = f"{counter}"
        counter += 1
        for child in element._children.values():
            walk(child)

    walk(root)


def js_string(value: str) -> str:
    """A JS string literal for a template rendered twice by Jinja (branca renders every
    element's script again as a template): JSON, with '{' and '}' as escapes so that no
    '{{' or '{%' survives to the second pass, and no '</script'."""
    text = json.dumps(value, ensure_ascii=True)
    for char, escaped in (("{", "\\u007b"), ("}", "\\u007d"), ("<", "\\u003c")):
        text = text.replace(char, escaped)
    return text
