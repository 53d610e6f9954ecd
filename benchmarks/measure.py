"""Output sizes, memory estimates and the machine: the small measurements around the runs."""

from __future__ import annotations

import os
import platform
import subprocess
import zlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

GZIP_LEVEL = 6  # gzip's own default, and what most servers are set to
GB = 1e9  # kB, MB and GB are powers of 1000 throughout the report
# Peak RSS of a build before any results exist to scale from (bytes = BASE + PER_POINT * n):
# the steeper of the two kinds between 10k and 100k points, measured on the development
# machine (2 cores, Debian 12, geo-story 6c9f8f1); a run of smaller sizes first replaces them.
FALLBACK_MODEL = {"ours": (260e6, 9_500.0), "explore": (320e6, 7_000.0)}
BROWSER_HEAP_PER_POINT = 2_500.0  # JS heap per point, both pages at 100k points (2.3-2.4 kB)
HEADROOM = 1.25  # an estimate must fit in MemAvailable with this margin


def gzip_size(path: Path) -> int:
    """Bytes of ``path`` once gzip'd (level 6), streamed so a 1 GB page needs no 1 GB buffer."""
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    total = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            total += len(packer.compress(chunk))
    return total + len(packer.flush())


def file_sizes(path: Path) -> dict[str, int]:
    return {"raw": path.stat().st_size, "gzip": gzip_size(path)}


def folder_sizes(folder: Path) -> dict[str, int]:
    """Every file of the folder: raw bytes, and the sum of each file gzip'd on its own (as a
    server sends them)."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    return {
        "raw": sum(p.stat().st_size for p in files),
        "gzip": sum(gzip_size(p) for p in files),
        "files": len(files),
    }


def mem_available() -> int:
    """MemAvailable from /proc/meminfo, in bytes: what can be used without swapping."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def estimate_peak(tool: str, n: int, seen: list[tuple[int, int]]) -> float:
    """Expected peak RSS of ``tool`` at ``n`` points: a line through the two largest sizes
    measured in this run, or FALLBACK_MODEL with fewer."""
    points = sorted({p for p in seen if p[1] > 0})[-2:]
    if len(points) == 2 and points[1][0] > points[0][0]:
        (n0, r0), (n1, r1) = points
        slope = max((r1 - r0) / (n1 - n0), 0.0)
        return r1 + slope * (n - n1)
    base, per_point = FALLBACK_MODEL[tool]
    if points:  # one size seen: keep the fallback slope, anchored on it
        n0, r0 = points[0]
        return r0 + per_point * (n - n0)
    return base + per_point * n


def estimate_browser(n: int, heaps: list[tuple[int, int]]) -> float:
    """Rough memory of Chromium showing ``n`` points: the JS heap (scaled as estimate_peak
    does) three times over for the DOM, layout and paint, plus 0.5 GB for the browser."""
    points = sorted({p for p in heaps if p[1] > 0})[-2:]
    if len(points) == 2 and points[1][0] > points[0][0]:
        (n0, h0), (n1, h1) = points
        heap = h1 + max((h1 - h0) / (n1 - n0), 0.0) * (n - n1)
    else:
        heap = BROWSER_HEAP_PER_POINT * n
    return 3 * heap + 0.5e9


def memory_refusal(estimate: float) -> str | None:
    """Why a run that needs ``estimate`` bytes may not start now, or None when it fits."""
    free = mem_available()
    if estimate * HEADROOM <= free:
        return None
    return f"skipped: needs ~{estimate / GB:.1f} GB, {free / GB:.1f} GB free"


def machine() -> dict[str, str | int]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    total = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            total = int(line.split()[1]) * 1024
    return {
        "cpu": cpu,
        "cores": os.cpu_count() or 0,
        "ram": f"{total / 1024**3:.1f} GiB",
        "os": f"{_os_name()}, Linux {platform.release()}",
        "load_average": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def _os_name() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def versions(root: Path, chromium: str) -> dict[str, str]:
    out = {"python": platform.python_version(), "chromium": chromium}
    for name in ("geopandas", "folium", "shapely", "pyogrio", "numpy", "mapclassify", "playwright"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    out["geo-story commit"] = _git(root)
    return out


def _git(root: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "geo", "build_map.py")
    return commit + (" (geo/ has uncommitted changes)" if dirty else "")
