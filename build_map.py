#!/usr/bin/env python3
"""Build the map: a thin door onto geo.cli (run with --help)."""

import sys

from geo.cli import main

if __name__ == "__main__":
    sys.exit(main())
