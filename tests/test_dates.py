"""A date is as precise as its source: the interval it covers, and how it is written."""

from __future__ import annotations

import datetime as dt

import pytest

from geo.dates import as_written, parse_iso, period, span


@pytest.mark.parametrize(
    ("value", "precision", "first", "last", "written"),
    [
        (dt.date(2017, 11, 1), "month", dt.date(2017, 11, 1), dt.date(2017, 11, 30), "2017-11"),
        (dt.date(2024, 2, 1), "month", dt.date(2024, 2, 1), dt.date(2024, 2, 29), "2024-02"),
        (dt.date(2018, 1, 1), "year", dt.date(2018, 1, 1), dt.date(2018, 12, 31), "2018"),
        (dt.date(2024, 3, 16), "day", dt.date(2024, 3, 16), dt.date(2024, 3, 16), "2024-03-16"),
    ],
)
def test_a_date_covers_what_its_precision_says(value, precision, first, last, written):
    assert period(value, precision) == (first, last)
    assert as_written(value, precision) == written
    assert parse_iso(written) == (value, precision)


def test_a_span_ends_with_the_end_of_its_end_date():
    assert span(dt.date(2024, 3, 12), "day", dt.date(2024, 3, 14)) == (
        dt.date(2024, 3, 12),
        dt.date(2024, 3, 14),
    )
    assert span(dt.date(2023, 10, 1), "month", dt.date(2023, 12, 1), "month") == (
        dt.date(2023, 10, 1),
        dt.date(2023, 12, 31),
    )
    assert span(None, "day") == (None, None)


@pytest.mark.parametrize("text", ["2024-02-30", "24-03", "2024-13", "March 2024", "", None, 2024])
def test_what_is_not_an_iso_date_is_not_parsed(text):
    assert parse_iso(text) is None
