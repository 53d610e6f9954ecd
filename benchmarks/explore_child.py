"""The comparison: read GeoJSON layers with geopandas and save ``gdf.explore()`` with defaults.

Run in its own process by the harness, so its wall time and peak RSS are explore's alone:
``python benchmarks/explore_child.py OUT.html LAYER.geojson [LAYER.geojson ...]``. Several layers
go on one map (the first layer's ``explore()``, then ``explore(m=m)``), as a notebook user would.
"""

from __future__ import annotations

import sys

import geopandas as gpd


def main(argv: list[str]) -> int:
    out, layers = argv[0], argv[1:]
    m = None
    for path in layers:
        gdf = gpd.read_file(path)
        m = gdf.explore() if m is None else gdf.explore(m=m)
    m.save(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
