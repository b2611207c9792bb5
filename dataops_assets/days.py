"""Inclusive day windows as users type them (`--start 2013-01-01 --end 2013-01-07`)."""

from __future__ import annotations

import datetime as dt


def day_window(start: str, end: str) -> list[dt.date]:
    """Every day from `start` to `end`, both included; ValueError with a one-line reason otherwise."""
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError as error:
        raise ValueError(f"dates must be YYYY-MM-DD ({error})") from None
    if last < first:
        raise ValueError(f"--end {last} is before --start {first}")
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
