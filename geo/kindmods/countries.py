"""Countries: the focus country stands out; its neighbours frame it. Names label the map."""

from __future__ import annotations

from typing import Any

from geo.combine import Story
from geo.kindmods.common import symbol
from geo.load import Layer
from geo.scene import Categories, Label, LayerScene, LegendEntry, Phrase, TextEntry, TextSection
from geo.text import is_link, missing
from geo.view import Bounds, label_point

FOCUS_FIELD, FOCUS_VALUE = "role", "focus"
POPUP = (
    {"as": "heading", "field": "name"},
    {"as": "text", "field": "name_fr_text", "class": "gs-fr", "lang": "fr"},
    {"as": "text", "field": "role_text", "class": "gs-role"},
    {"as": "text", "field": "note"},
    {"as": "link", "field": "note_source_name", "href": "note_source_url", "label": "Source: "},
)


def scene(layer: Layer, story: Story, view: Bounds) -> LayerScene:
    style = layer.config.style
    base = symbol(style, "polygon")
    focus = symbol(
        {**style, **{k.removeprefix("focus_"): v for k, v in style.items() if "focus_" in k}},
        "polygon",
    )
    frame = layer.web.reset_index(drop=True)
    records = frame.to_dict("records")
    drawn = frame.assign(
        name_fr_text=[_french(r) for r in records],
        role_text=[_role(r, story.focus) for r in records],
    )
    labels = tuple(
        Label(
            r["name"],
            *reversed(label_point(g, view)),
            100 if r["role"] == FOCUS_VALUE else 50,
            "focus" if r["role"] == FOCUS_VALUE else "country",
        )
        for r, g in zip(records, frame.geometry, strict=True)
    )
    return LayerScene(
        name=layer.name,
        kind="countries",
        title=layer.config.title,
        family="polygon",
        frame=drawn,
        symbol=base,
        categories=Categories(FOCUS_FIELD, {FOCUS_VALUE: focus}),
        labels=labels,
        legend=(
            LegendEntry("fill", story.focus or "Focus", focus.fill, focus.stroke),
            LegendEntry(
                "fill", "Neighbours" if story.focus else layer.config.title, base.fill, base.stroke
            ),
        ),
        popup=POPUP,
        title_field="name",
        id_field="id",
        show=layer.config.show,
        in_legend=layer.config.legend,
        text_section=_text_section(layer, records),
    )


def _french(record: dict[str, Any]) -> str | None:
    name_fr = record.get("name_fr")
    return None if missing(name_fr) or name_fr == record["name"] else f"({name_fr})"


def _role(record: dict[str, Any], focus: str | None) -> str:
    if record["role"] == FOCUS_VALUE:
        return "Focus of the story"
    return f"Neighbour of {focus}" if focus else "Neighbour"


def _text_section(layer: Layer, records: list[dict[str, Any]]) -> TextSection | None:
    """The countries' notes in the text version (None when no country has one): a note is a
    fact the map shows only in a popup, so it is listed with its source."""
    entries = tuple(
        TextEntry(
            id=TextEntry.element_id(layer.name, r["id"]),
            title=r["name"],
            lines=((Phrase(r["note"]),),),
            source_name=r.get("note_source_name"),
            source_url=r.get("note_source_url"),
            link=is_link(r.get("note_source_url")),
        )
        for r in records
        if not missing(r.get("note"))
    )
    if not entries:
        return None
    about = "1 country" if len(entries) == 1 else f"{len(entries)} countries"
    return TextSection(f"{layer.config.title}: notes on {about}, with sources", entries)
