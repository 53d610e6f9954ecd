"""Publish a story (a folder of GeoJSON layers) as an offline Leaflet map and GIS-ready data.

The pipeline reads top to bottom, one module per step:
``story`` (map.toml) -> ``load`` (read + validate) -> ``combine`` (geopandas)
-> ``render`` (folium) -> ``export`` / ``embed``; ``build`` runs them and writes atomically.
"""

from geo.build import build

__all__ = ["build"]
