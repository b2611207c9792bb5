"""Configuration values that become paths or SQL identifiers, validated in one place.

Dataset, column, table, snapshot and schema names end up in storage keys (`raw/<dataset>/…`), file
names and SQL (`raw.<dataset>`, `"<column>"`). Allowing only lower-case letters, digits and `_`
(starting with a letter, at most 63 characters: PostgreSQL's identifier limit) rules out path
traversal (`..`, `/`), quoting tricks and injection however the value is later spliced in.
"""

from __future__ import annotations

import datetime as dt
import re

SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PARTITION_KEY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
GLOB_PART = re.compile(r"^[A-Za-z0-9_.*?\[\]{}=-]+$")


class UnsafeName(ValueError):
    """A name that could escape its directory or its SQL quoting; the message says which and why."""


def checked_name(kind: str, value: object) -> str:
    """`value` if it is a safe name for a `kind` (dataset, column, table, snapshot…), else UnsafeName."""
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value):
        raise UnsafeName(
            f"{kind} name {value!r} is not allowed: use lower-case letters, digits and _, "
            "starting with a letter, at most 63 characters"
        )
    return value


def checked_partition(value: object) -> str:
    """A daily partition key: a real YYYY-MM-DD date and nothing else."""
    try:
        if isinstance(value, str) and PARTITION_KEY.fullmatch(value):
            dt.date.fromisoformat(value)
            return value
    except ValueError:
        pass
    raise UnsafeName(f"partition {value!r} is not a YYYY-MM-DD date")


def checked_key(kind: str, value: object) -> str:
    """A key read from outside (an S3 listing, a manifest someone could edit) that is a relative path
    of plain parts: no leading /, no empty, . or .. part, so it cannot climb out of its directory."""
    if (
        not isinstance(value, str)
        or value.startswith("/")
        or "\0" in value
        or any(p in ("", ".", "..") for p in value.split("/"))
    ):
        raise UnsafeName(
            f"{kind} {value!r} is refused: it must be a relative path without empty, . or .. parts"
        )
    return value


def checked_glob(value: str) -> str:
    """A landing glob relative to the landing zone that cannot climb out of it."""
    parts = value.split("/")
    if value.startswith("/") or any(p in ("", ".", "..") or not GLOB_PART.fullmatch(p) for p in parts):
        raise UnsafeName(
            f"landing glob {value!r} must be a relative path of plain names and wildcards "
            "(no leading /, no . or .. parts)"
        )
    return value
