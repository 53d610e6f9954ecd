"""Polygons and lines for the page, small: quantised, delta-coded varints in base64.

Plain GeoJSON costs about 17 bytes a vertex; this costs about 3. Every coordinate is snapped
to one grid (``quantum`` degrees, finer than half a pixel at the map's deepest zoom), so a
border two countries share stays one line: both sides snap each shared vertex to the same
integers. The layer's vertices are one chain of differences, zigzag-encoded (small negatives
stay small) and written as LEB128 varints, so most take one byte. ``story.js`` (``shapeOf``)
undoes it. The structure is shapely's ragged array: offsets into the vertices, rings, parts.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import shapely

# Grids to choose from, coarsest first: round, so that the page's numbers read as degrees.
GRIDS = (1e-3, 5e-4, 2e-4, 1e-4, 5e-5, 2e-5, 1e-5)
TILE_PX = 256

# shapely's ragged types, as GeoJSON names: a layer of Polygons comes out as MultiPolygons.
RAGGED_TYPES = {
    shapely.GeometryType.MULTILINESTRING: "MultiLineString",
    shapely.GeometryType.MULTIPOLYGON: "MultiPolygon",
    shapely.GeometryType.LINESTRING: "LineString",
    shapely.GeometryType.POLYGON: "Polygon",
}


def quantum(max_zoom: int) -> float:
    """The coarsest grid finer than half a pixel at ``max_zoom`` (at the equator, where a
    degree is widest on a Web Mercator map)."""
    half_pixel = 360 / (TILE_PX * 2**max_zoom) / 2
    return next((g for g in GRIDS if g <= half_pixel), GRIDS[-1])


def encode(geometries: Any, grid: float) -> dict[str, Any] | None:
    """A layer's polygons or lines as ``{type, quantum, coords, offsets}``; None when the
    layer mixes families (points with polygons, say) or holds empty geometries, which the
    page then takes as GeoJSON."""
    geoms = np.asarray(geometries, dtype=object)
    if not len(geoms) or shapely.is_empty(geoms).any():
        return None
    try:
        kind, coords, offsets = shapely.to_ragged_array(geoms)
    except ValueError:  # mixed geometry types
        return None
    if kind not in RAGGED_TYPES:
        return None
    ints = np.rint(coords[:, :2] / grid).astype(np.int64).ravel()
    # differences along the chain of x, y pairs: each x after the previous x, y after y
    deltas = np.diff(ints.reshape(-1, 2), axis=0, prepend=[[0, 0]]).ravel()
    return {
        "type": RAGGED_TYPES[kind],
        "quantum": grid,
        "coords": base64.b64encode(varints(deltas)).decode("ascii"),
        "offsets": [o.tolist() for o in offsets],
    }


def varints(values: np.ndarray) -> bytes:
    """Zigzag LEB128 varints, vectorised: 7 bits a byte, the high bit says "more"."""
    zigzag = ((values << 1) ^ (values >> 63)).astype(np.uint64)
    sizes = np.ones(len(zigzag), dtype=np.int64)
    for bits in (7, 14, 21, 28, 35, 42, 49, 56, 63):
        sizes += zigzag >= np.uint64(1 << bits)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    out = np.zeros(int(sizes.sum()), dtype=np.uint8)
    for k in range(int(sizes.max(initial=1))):
        has = sizes > k
        byte = (zigzag[has] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (sizes[has] > k + 1).astype(np.uint64) << np.uint64(7)
        out[starts[has] + k] = (byte | more).astype(np.uint8)
    return out.tobytes()
