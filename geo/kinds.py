"""The table of layer kinds (geo/kinds.toml), read once into frozen dataclasses."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FIELD_TYPES = ("text", "slug", "date", "precision", "number", "integer", "url", "iso3", "enum")
PRECISIONS = ("day", "month", "year")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = False
    values: tuple[str, ...] = ()
    precision: str | None = None
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kind:
    name: str
    title: str
    order: int
    geometry: tuple[str, ...]
    fields: dict[str, FieldSpec]
    style: dict[str, Any]
    id_field: str | None = None
    label_field: str | None = None

    @property
    def date_fields(self) -> list[str]:
        return [f.name for f in self.fields.values() if f.type == "date"]


@cache
def kinds() -> dict[str, Kind]:
    """All layer kinds by name."""
    raw = tomllib.loads(files("geo").joinpath("kinds.toml").read_text(encoding="utf-8"))
    out = {}
    for name, spec in raw.items():
        fields = {
            fname: FieldSpec(
                name=fname,
                type=f["type"],
                required=f.get("required", False),
                values=tuple(f.get("values", ())),
                precision=f.get("precision"),
                requires=tuple(f.get("requires", ())),
            )
            for fname, f in spec.get("fields", {}).items()
        }
        out[name] = Kind(
            name=name,
            title=spec["title"],
            order=spec["order"],
            geometry=tuple(spec["geometry"]),
            fields=fields,
            style=dict(spec.get("style", {})),
            id_field=spec.get("id_field"),
            label_field=spec.get("label_field"),
        )
    return out
