"""Progress for long CLI work, on stderr so stdout stays the command's result."""

from __future__ import annotations

from collections.abc import Iterable


def progress(items: Iterable, total: int, description: str) -> Iterable:
    from rich.console import Console
    from rich.progress import track

    return track(items, total=total, description=description, console=Console(stderr=True))
