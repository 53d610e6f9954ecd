"""Problems found in a story: every one is collected and reported, not only the first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SHOWN_CHARS = 80  # a value quoted in a message is cut to this length


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in the input, located as precisely as we can."""

    file: str
    message: str
    feature: str | None = None  # "id 'coup'" or "#3" (0-based index)
    field: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.feature is not None:
            where += f", feature {self.feature}"
        if self.field is not None:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


class StoryError(Exception):
    """The story is invalid; carries every problem found so the user can fix them in one pass."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def shown(value: Any) -> str:
    """The repr of a value for a message, cut short: hostile input can be megabytes long."""
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # nested too deeply, or an int too long to print
        return f"a {type(value).__name__} too large to show"
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 5] + "…" + text[-4:]
