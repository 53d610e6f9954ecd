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

# Colour-blind-safe colours (Okabe–Ito first): for categories map.toml leaves out, and for plain
# layers without a colour of their own. The web map, the preview and QGIS all take them from here.
PALETTE = (
    "#0072b2",
    "#d55e00",
    "#009e73",
    "#cc79a7",
    "#e69f00",
    "#56b4e9",
    "#7a3b8f",
    "#8c6d31",
    "#404040",
    "#b2182b",
)
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
    min: float | None = None  # number and integer fields: the range a value must lie in
    max: float | None = None
    description: str = ""  # what the field holds, for the exported data's users
    label: str = ""  # its name in popups ("" : made from the property's name)
    popup: bool = True  # listed in popups by default (False: a technical code)


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
    view: str = "include"  # "fit", "include" or "ignore": see kinds.toml
    base: bool = False  # the map's geography: not in the key, last in "Get the data"

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
                min=f.get("min"),
                max=f.get("max"),
                description=f.get("description", ""),
                label=f.get("label", ""),
                popup=f.get("popup", True),
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
            view=spec.get("view", "include"),
            base=spec.get("base", False),
        )
    return out
