"""Online tile basemaps (--tiles): off by default, from xyzservices' catalogue, never one
that needs an API key."""

from __future__ import annotations

from typing import TYPE_CHECKING

import xyzservices

if TYPE_CHECKING:
    import folium


def tile_provider(name: str) -> xyzservices.TileProvider:
    """The xyzservices provider for --tiles, or a ValueError saying how to pick one."""
    try:
        provider = xyzservices.providers.query_name(name)
    except ValueError:
        provider = None
    if provider is None or not isinstance(provider, xyzservices.TileProvider):
        raise ValueError(
            f"unknown tile provider {name!r}: use a name from xyzservices, "
            "e.g. OpenStreetMap.Mapnik or Esri.WorldGrayCanvas"
        )
    if provider.requires_token():
        raise ValueError(
            f"tile provider {name!r} needs an API key; pick one that does not, "
            "e.g. OpenStreetMap.Mapnik"
        )
    return provider


def tile_layer(name: str) -> folium.TileLayer:
    import folium  # only with --tiles, and not for the CLI's argument check

    provider = tile_provider(name)
    return folium.TileLayer(
        tiles=provider.build_url(scale_factor="{r}"),
        attr=provider.html_attribution,
        name=provider.name,
        overlay=False,
        control=False,
        max_zoom=provider.get("max_zoom", 18),
    )
