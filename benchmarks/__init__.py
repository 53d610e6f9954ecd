"""Benchmark harness: this project's build and page against geopandas.explore() (issue 9).

Run ``python benchmarks/run.py --help``. Nothing here is imported by ``geo`` or the tests.
"""
