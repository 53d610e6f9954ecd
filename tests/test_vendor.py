"""The vendored scripts are the files their note names: checksum and licence."""

from __future__ import annotations

import hashlib
import re

from tests.conftest import ROOT

VENDOR = ROOT / "geo" / "vendor"
SUPERCLUSTER_SHA256 = "52e16b1abc1c8cdb3719c5f2fc57da44b4fd65eb0d16803c1106d0975afb72b7"


def test_supercluster_is_the_recorded_file():
    digest = hashlib.sha256((VENDOR / "supercluster.min.js").read_bytes()).hexdigest()
    assert digest == SUPERCLUSTER_SHA256
    note = (VENDOR / "VERSIONS.md").read_text(encoding="utf-8")
    assert SUPERCLUSTER_SHA256 in note and "9.1.0" in note


def test_licences_are_there():
    for name in ("LICENSE.supercluster", "LICENSE.kdbush"):
        text = (VENDOR / name).read_text(encoding="utf-8")
        assert text.startswith("ISC License") and "Permission to use" in text


def test_the_script_loads_nothing():
    script = (VENDOR / "supercluster.min.js").read_text(encoding="utf-8")
    assert not re.search(r"https?://|sourceMappingURL|import\(|</script", script)
