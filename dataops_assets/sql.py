"""Text spliced into SQL, escaped the one standard way: a string literal or a quoted identifier.

Bind a parameter wherever the statement takes one. Some places do not (DuckDB's `COPY … TO '<path>'`,
a table function's options): there a value goes through `literal`, so a path such as
`/data/o'brien/…` is a path, never the end of the string. A file DuckDB reads goes through
`exact_path` too: DuckDB reads every path as a glob, and escaping does not stop that.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PLAIN_SUFFIX = re.compile(r"\.[A-Za-z0-9]+")


def literal(value: str) -> str:
    """`value` as a SQL string literal (DuckDB, SQLite and PostgreSQL read backslashes literally)."""
    return "'" + value.replace("'", "''") + "'"


def identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextlib.contextmanager
def exact_path(path: Path) -> Iterator[Path]:
    """A path DuckDB reads as exactly this file. DuckDB expands `*`, `?` and `[…]` in every path it is
    given, and a file may be named `*.csv`: a symlink with a plain name can match nothing else."""
    links = Path(tempfile.mkdtemp(prefix="dataops-exact-"))
    link = links / ("file" + (path.suffix if PLAIN_SUFFIX.fullmatch(path.suffix) else ""))
    try:  # the suffix stays: DuckDB infers compression (.gz, .zst) from it
        link.symlink_to(path.absolute())
        yield link
    finally:
        shutil.rmtree(links, ignore_errors=True)
