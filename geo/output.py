"""The output folder: which folders a build may replace, and how it swaps the new one in.

A build replaces only a folder that an earlier build wrote, recognised by the manifest file
every build leaves in it, or an empty one. Anything else (a folder of the user's, the story
folder or one of its ancestors, the current directory, a file, a symlink) is refused before any
work is done, so ``--out`` can never delete what it did not make.

The new output is assembled in a staging folder beside the target, then exchanged with the old
one in a single ``renameat2(RENAME_EXCHANGE)`` where Linux offers it: at every instant the
target holds either the whole old output or the whole new one. Staging folders left behind by
a build that was killed are swept on the next run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from geo.problems import Problem, StoryError

MANIFEST = ".geo-story-output"  # written by every build; marks a folder as ours to replace
_STAGING = re.compile(r"^\.(?P<name>.+)-(?P<what>staging|old)-(?P<pid>\d+)-[\w]+$")
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def check_target(out_dir: Path, story_dir: Path | None) -> None:
    """Refuse an output folder that a build must not replace (raises StoryError)."""
    reason = _refusal(Path(out_dir), Path(story_dir))
    if reason:
        raise StoryError([Problem(f"--out {str(out_dir)!r}", reason)])


def _refusal(out_dir: Path, story_dir: Path | None) -> str | None:
    if str(out_dir) in ("", "."):
        return "expected a folder for the build's output, found the current directory"
    if out_dir.is_symlink():
        return (
            "is a symbolic link; a build never replaces or follows one: name the folder it "
            f"points to ({os.path.realpath(out_dir)}) instead"
        )
    if out_dir.exists() and not out_dir.is_dir():
        return "is a file, not a folder; a build never replaces a file"
    out = out_dir.resolve()
    story = story_dir.resolve() if story_dir is not None else None
    if story is not None and (out == story or out in story.parents):
        return "is the story folder or contains it; choose an output folder outside the story"
    cwd = Path.cwd().resolve()
    if out == cwd or out in cwd.parents:
        return "is the current directory or contains it; choose a folder such as dist/"
    if out_dir.is_dir() and not (out_dir / MANIFEST).is_file() and any(out_dir.iterdir()):
        return (
            f"is a folder that a build did not write (it has no {MANIFEST} file) and is not "
            "empty; a build replaces only its own output: choose a new or empty folder"
        )
    return None


def new_staging(out_dir: Path) -> Path:
    """An empty staging folder beside ``out_dir`` (after sweeping those of dead builds)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    sweep(out_dir)
    return Path(
        tempfile.mkdtemp(prefix=f".{out_dir.name}-staging-{os.getpid()}-", dir=out_dir.parent)
    )


def write_manifest(staging: Path, files: Iterable[Path]) -> None:
    """Mark the staged folder as a build's output; list its files (reproducibly)."""
    listing = sorted(p.as_posix() for p in files)
    text = json.dumps({"tool": "geo-story", "files": listing}, indent=1) + "\n"
    (staging / MANIFEST).write_text(text, encoding="utf-8")


def swap_in(staging: Path, out_dir: Path) -> None:
    """Put ``staging`` in ``out_dir``'s place atomically; the old output is removed after."""
    os.chmod(staging, 0o755)
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    if _exchange(staging, out_dir):
        shutil.rmtree(staging)  # now holds the old output
        return
    # No atomic exchange (not Linux, or a file system without it): two renames, the old output
    # kept under a name that the next run sweeps should this process die in between.
    old = Path(str(staging).replace("-staging-", "-old-", 1))
    out_dir.rename(old)
    staging.rename(out_dir)
    shutil.rmtree(old)


def _exchange(a: Path, b: Path) -> bool:
    """renameat2(RENAME_EXCHANGE): swap two paths in one step. False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    renameat2 = getattr(ctypes.CDLL(libc_name, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def sweep(out_dir: Path) -> list[Path]:
    """Remove staging folders that builds of ``out_dir`` left behind when they were killed."""
    removed = []
    parent = out_dir.parent
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        match = _STAGING.match(entry.name)
        if not match or match["name"] != out_dir.name or entry.is_symlink() or not entry.is_dir():
            continue
        if _alive(int(match["pid"])):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
