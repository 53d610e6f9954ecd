"""Polygons and lines for the page, small: one topology of quantised, delta-coded varints.

Plain GeoJSON costs about 17 bytes a vertex; this costs about 2. Every coordinate is snapped
to one grid (``quantum`` degrees, finer than half a pixel at the map's deepest zoom), so a
border two shapes share meets at the same integers. Then, as in TopoJSON, every ring and line
of every layer is cut where shapes meet or part ("junctions") into *arcs*, and each arc is
written once for the whole page: a border two countries share, the outline of Niger that its
regions repeat, a neighbour of the land beyond, each is one arc that both sides refer to (one
of them backwards), and shared borders stay shared by construction. About a third of the
default story's vertices are such repeats.

The page document holds the arcs (:meth:`Arcs.finish`): their vertices as one chain of x, y
differences, zigzag-encoded (small negatives stay small) and written as LEB128 varints, so
most take one byte, and each arc's length. A layer (:meth:`Arcs.add`) keeps shapely's ragged
structure, offsets from parts to rings or lines, but a ring or line is a run of arc
references (``~i``: arc ``i`` backwards). ``story.js`` (``shapeOf``) undoes it.
"""

from __future__ import annotations

import base64
import itertools
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
CLOSED = {"MultiPolygon", "Polygon"}  # rings: their last vertex repeats the first

# A grid point as one int64 (x in the high half, y in the low), so that points compare as
# numbers: at the finest grid a longitude is under 2**25 units either way.
_OFFSET = 1 << 30
_LOW = (1 << 32) - 1


def quantum(max_zoom: int) -> float:
    """The coarsest grid finer than half a pixel at ``max_zoom`` (at the equator, where a
    degree is widest on a Web Mercator map)."""
    half_pixel = 360 / (TILE_PX * 2**max_zoom) / 2
    return next((g for g in GRIDS if g <= half_pixel), GRIDS[-1])


class Arcs:
    """The page's arcs, gathered over its layers: :meth:`add` each layer, then :meth:`finish`
    (junctions depend on every layer, so the references are written at the end)."""

    def __init__(self, grid: float) -> None:
        self.grid = grid
        self._layers: list[tuple[dict[str, Any], np.ndarray, np.ndarray, bool]] = []

    def add(self, geometries: Any) -> dict[str, Any] | None:
        """A layer's polygons or lines as ``{type, refs, offsets}``, its ``refs`` filled in
        by :meth:`finish`; None when the layer mixes families (points with polygons, say)
        or holds empty geometries, which the page then takes as GeoJSON."""
        geoms = np.asarray(geometries, dtype=object)
        if not len(geoms) or shapely.is_empty(geoms).any():
            return None
        try:
            kind, coords, offsets = shapely.to_ragged_array(geoms)
        except ValueError:  # mixed geometry types
            return None
        if kind not in RAGGED_TYPES:
            return None
        ints = np.rint(coords[:, :2] / self.grid).astype(np.int64)
        keys = ((ints[:, 0] + _OFFSET) << 32) | (ints[:, 1] + _OFFSET)
        doc = {"type": RAGGED_TYPES[kind], "refs": "", "offsets": [o.tolist() for o in offsets]}
        self._layers.append((doc, keys, np.asarray(offsets[0]), doc["type"] in CLOSED))
        return doc

    def finish(self) -> dict[str, Any] | None:
        """The arcs as ``{quantum, coords, lengths}``, after writing every added layer's
        ``refs`` and its rings' or lines' offsets into them; None when no layer was added."""
        if not self._layers:
            return None
        junctions = _junctions(self._layers)
        arcs: list[tuple[int, ...]] = []
        index: dict[tuple[int, ...], int] = {}

        def ref(arc: tuple[int, ...]) -> int:
            if arc in index:
                return index[arc]
            if (back := arc[::-1]) in index:
                return ~index[back]
            index[arc] = len(arcs)
            arcs.append(arc)
            return index[arc]

        for doc, keys, chains, closed in self._layers:
            refs: list[int] = []
            starts = [0]
            meets = np.isin(keys, junctions)
            for start, end in itertools.pairwise(chains):
                refs.extend(ref(a) for a in _cut(keys[start:end], meets[start:end], closed))
                starts.append(len(refs))
            doc["refs"] = _base64(varints(np.array(refs, dtype=np.int64)))
            doc["offsets"][0] = starts
        points = np.fromiter((k for a in arcs for k in a), dtype=np.int64)
        ints = np.stack([(points >> 32) - _OFFSET, (points & _LOW) - _OFFSET], axis=1)
        # differences along the chain of x, y pairs: each x after the previous x, y after y
        deltas = np.diff(ints, axis=0, prepend=[[0, 0]]).ravel()
        return {
            "quantum": self.grid,
            "coords": _base64(varints(deltas)),
            "lengths": _base64(varints(np.array([len(a) for a in arcs], dtype=np.int64))),
        }


def _junctions(layers: list[tuple[Any, np.ndarray, np.ndarray, bool]]) -> np.ndarray:
    """The grid points where shapes meet or part: reached from more than one pair of
    neighbours, or the end of a line. Sorted, for ``np.isin``."""
    seen, ends = [], []
    for _doc, keys, chains, closed in layers:
        starts, stops = chains[:-1], chains[1:] - closed  # a ring's last vertex is its first
        sizes = stops - starts
        at = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes - starts, sizes)
        first, last = np.repeat(starts, sizes), np.repeat(stops - 1, sizes)
        none = -1  # no neighbour: a line's end (grid points are positive)
        if closed:
            before = keys[np.where(at == first, last, at - 1)]
            after = keys[np.where(at == last, first, at + 1)]
        else:
            before = np.where(at == first, none, keys[np.maximum(at - 1, 0)])
            after = np.where(at == last, none, keys[np.minimum(at + 1, len(keys) - 1)])
            ends.append(keys[np.concatenate((starts, stops - 1))])
        pairs = np.column_stack([keys[at], np.minimum(before, after), np.maximum(before, after)])
        seen.append(pairs)
    where, counts = np.unique(np.unique(np.concatenate(seen), axis=0)[:, 0], return_counts=True)
    return np.union1d(where[counts > 1], np.concatenate(ends or [np.zeros(0, np.int64)]))


def _cut(chain: np.ndarray, meets: np.ndarray, closed: bool) -> list[tuple[int, ...]]:
    """A ring or line as arcs from junction to junction (``meets``: at a junction). A ring
    starts at its first junction, or, with none, at its least point, so that the same ring
    met twice is one arc."""
    if closed:
        ring = chain[:-1]
        cuts = np.flatnonzero(meets[:-1])
        first = cuts[0] if len(cuts) else int(np.argmin(ring))
        chain = np.concatenate((ring[first:], ring[: first + 1]))
        cuts = np.append(cuts - first, len(ring)) if len(cuts) else np.array([0, len(ring)])
    else:
        cuts = np.flatnonzero(meets)
    items = chain.tolist()
    return [tuple(items[a : b + 1]) for a, b in itertools.pairwise(cuts)]


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


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
