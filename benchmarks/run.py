#!/usr/bin/env python3
"""Benchmark this project against geopandas.explore(): ``python benchmarks/run.py --help``.

A thin door onto benchmarks.harness that works when run as a script from any folder.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.harness import main as run

    return run()


if __name__ == "__main__":
    sys.exit(main())
