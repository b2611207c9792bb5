"""Refusals of landing files: the one-line reasons a file is not ingested at all.

A refusal names the file and the problem and never quotes the file's content beyond its column
names: the message reaches run logs and the UI. `quiet` takes the quoting out of a reader's own error
(DuckDB quotes paths and values it failed on).
"""

from __future__ import annotations

import re
from pathlib import Path

from dataops_assets.names import UnsafeName

_QUOTED = re.compile(r"""'[^']*'|"[^"]*\"""")
MESSAGE_LIMIT = 200


class RefusedFile(ValueError):
    """A landing file that cannot be ingested at all. The message names the file and why."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class LeavesTheZone(RefusedFile, UnsafeName):
    """A landing file whose name or link leads outside the landing zone: refused, never read."""


def quiet(error: BaseException) -> str:
    """A reader's error as one line without what it quotes: every quoted fragment (a value, a line,
    a path) becomes '…', and the rest is cut at MESSAGE_LIMIT characters."""
    lines = str(error).strip().splitlines()
    text = _QUOTED.sub("'…'", lines[0] if lines else type(error).__name__).strip()
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def column_list(names: list[str], most: int = 8, longest: int = 40) -> str:
    """Column names as a message shows them: at most `most`, each cut at `longest` characters (a
    headerless file's first row is read as its column names; a message shows no more of it)."""
    shown = [n if len(n) <= longest else n[: longest - 1] + "…" for n in names[:most]]
    return ", ".join(shown) + (f" (+{len(names) - most} more)" if len(names) > most else "")
