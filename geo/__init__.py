"""Publish a story (a folder of GeoJSON layers) as an offline Leaflet map and GIS-ready data.

The pipeline reads top to bottom: ``story`` (map.toml) -> ``load`` (read + validate) ->
``combine`` (geopandas) -> ``kindmods`` (one scene per layer) -> outputs that draw scenes
(``render``, ``preview``, ``exports``) -> ``build`` (writes atomically). The names below are
the Python API; they are imported on first use, so the command line starts fast.

    story = geo.read_story("layers")            # or geo.story_from_frames({...}, title=...)
    m = story.to_folium()                       # a folium.Map: add markers, then m.save(...)
    story.publish("dist")                       # page, preview, embeds and data, atomically
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "read_story": "geo.build",
    "story_from_frames": "geo.build",
    "publish": "geo.build",
    "build": "geo.build",
    "BuildResult": "geo.build",
    "Story": "geo.combine",
    "StoryError": "geo.problems",
    "Problem": "geo.problems",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'geo' has no attribute {name!r}")
