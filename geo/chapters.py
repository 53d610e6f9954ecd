"""The story's chapters (map.toml [[chapters]]): their ids checked against the layers, and the
form the page takes them in."""

from __future__ import annotations

import datetime as dt

from geo.combine import Story
from geo.contract import ChapterDoc
from geo.dates import day_number, period
from geo.problems import Problem
from geo.story import CONFIG_NAME, Chapter


def chapter_problems(story: Story) -> list[Problem]:
    """Every id a chapter names must be a feature of one of the story's layers."""
    known = {
        str(v)
        for layer in story.layers
        if layer.kind.id_field and layer.kind.id_field in layer.frame
        for v in layer.frame[layer.kind.id_field].dropna().tolist()
    } | {
        str(v)
        for layer in story.layers
        if "site_id" in layer.frame  # a site is framed by its id, as the map draws it
        for v in layer.frame["site_id"].dropna().tolist()
    }
    where = (
        str(story.config.folder / CONFIG_NAME) if story.config.folder is not None else "chapters"
    )
    problems = []
    for i, chapter in enumerate(story.config.chapters):
        named = [
            *((f"chapters[{i}].events[{j}]", v) for j, v in enumerate(chapter.events)),
            *((f"chapters[{i}].frame[{j}]", v) for j, v in enumerate(chapter.frame)),
            *(
                (f"chapters[{i}].text[{j}].events[{k}]", v)
                for j, s in enumerate(chapter.text)
                for k, v in enumerate(s.events)
            ),
        ]
        problems.extend(
            Problem(where, f"no feature of the story has the id {v!r}", field=field)
            for field, v in named
            if v not in known
        )
    return problems


def chapter_documents(story: Story) -> list[ChapterDoc]:
    return [_document(c) for c in story.config.chapters]


def _document(chapter: Chapter) -> ChapterDoc:
    west_south_east_north = chapter.bounds
    return {
        "title": chapter.title,
        "text": [{"text": s.text, "events": list(s.events)} for s in chapter.text],
        "start": _day(chapter.start, last=False),
        "end": _day(chapter.end, last=True),
        "bounds": (
            [
                [west_south_east_north[1], west_south_east_north[0]],
                [west_south_east_north[3], west_south_east_north[2]],
            ]
            if west_south_east_north
            else None
        ),
        "frame": list(chapter.frame),
        "events": list(chapter.events),
    }


def _day(text: str | None, *, last: bool) -> int | None:
    """'2024-03' -> the first (or last) day of March 2024, as a day number."""
    if text is None:
        return None
    parts = [int(p) for p in text.split("-")]
    precision = {1: "year", 2: "month", 3: "day"}[len(parts)]
    first, final = period(dt.date(*[*parts, 1, 1][:3]), precision)
    return day_number(final if last else first)
