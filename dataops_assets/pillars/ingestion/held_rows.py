"""A partition's clean rows between the fast read and the landed file (see plain_csv.py).

Rows arrive chunk by chunk, in arrival order, and are held in memory up to HELD_BYTES; beyond that
each chunk goes to a Parquet file in a work directory (written on a second thread while the next
chunk is read), so a partition's size does not set the process's memory. Duplicates (a key an earlier clean row has) are found from the key hashes alone,
kept for every row: only the chunks holding a row whose hash repeats are read back, and only those
rows compared exactly. The landed file is then streamed from memory and the spilled files, without
the duplicates, in arrival order, a row group every ROW_GROUP_ROWS rows whatever the chunks were.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the code location loads without polars
    import polars as pl

HELD_BYTES = 256 << 20  # typed rows held in memory before the rest spill (about 2.5M flights rows)


class HeldRows:
    def __init__(self, spill_to: Path, types: dict) -> None:
        self.spill_to, self.types = spill_to, types
        self.parts: list[pl.DataFrame | Path] = []  # in arrival order: held in memory, then spilled
        self.starts: list[int] = []  # the `_row` each part starts at
        self.held_bytes = 0
        self.hashes: list[pl.Series] = []
        self.rows = 0
        self.writing: Future | None = None  # the last chunk spilled, written while the next is read
        self.writer = ThreadPoolExecutor(1)

    def __enter__(self) -> HeldRows:
        return self

    def __exit__(self, *exc) -> None:
        self.writer.shutdown(wait=True)  # a spill still being written finishes before its folder goes

    def add(self, clean: pl.DataFrame) -> None:
        """Hold a chunk of clean rows (`_file`, `_record`, the typed columns, `_key_hash`), the next
        in arrival order; each gets `_row`, its position among all the clean rows."""
        import polars as pl

        self.hashes.append(clean.get_column("_key_hash"))
        rows = clean.drop("_key_hash").with_columns(
            _row=pl.int_range(self.rows, self.rows + clean.height, dtype=pl.Int64)
        )
        self.starts.append(self.rows)
        self.rows += clean.height
        spilling = bool(self.parts) and isinstance(self.parts[-1], Path)
        if spilling or self.held_bytes + rows.estimated_size() > HELD_BYTES:
            path = self.spill_to / f"held-{len(self.parts):06d}.parquet"
            self._written()
            self.writing = self.writer.submit(
                rows.write_parquet, path, compression="uncompressed", statistics=False
            )
            self.parts.append(path)
        else:
            self.parts.append(rows)
            self.held_bytes += rows.estimated_size()

    def duplicates(self, keys: tuple[str, ...]) -> pl.DataFrame:
        """The rows whose key an earlier row has, in arrival order. Sorting the hashes finds the
        repeated ones in a fifth of the time a hash table of them takes."""
        import numpy as np
        import polars as pl

        self._written()
        if not self.rows:
            return pl.DataFrame(
                schema={"_file": pl.Int32, "_record": pl.Int64, "_row": pl.Int64} | self.types
            )
        hashes = pl.concat(self.hashes)
        ranked = hashes.sort()
        repeated_hashes = ranked.filter((ranked == ranked.shift(1)).fill_null(False))
        candidates = hashes.is_in(repeated_hashes.implode()).arg_true().cast(pl.Int64)  # `_row`s, in order
        holding = np.unique(np.searchsorted(self.starts, candidates.to_numpy(), side="right") - 1)
        wanted = pl.col("_row").is_in(candidates.implode())
        repeated = pl.concat([_lazy(self.parts[i]).filter(wanted) for i in holding] or [self._all().clear()])
        return repeated.collect().filter(~pl.struct(*keys).is_first_distinct())

    def sink(self, path: Path, leave_out: pl.Series, row_group_rows: int) -> int:
        """Write the held rows but those at `leave_out` (`_row`s) as zstd Parquet; return how many."""
        import polars as pl

        rows = self._all()
        if leave_out.len():
            rows = rows.filter(~pl.col("_row").is_in(leave_out.implode()))
        rows.select(list(self.types)).sink_parquet(path, compression="zstd", row_group_size=row_group_rows)
        return self.rows - leave_out.len()

    def _written(self) -> None:
        if self.writing is not None:
            self.writing.result()
            self.writing = None

    def _all(self) -> pl.LazyFrame:
        import polars as pl

        self._written()
        if not self.parts:
            return pl.LazyFrame(
                schema={"_file": pl.Int32, "_record": pl.Int64} | self.types | {"_row": pl.Int64}
            )
        return pl.concat([_lazy(part) for part in self.parts])


def _lazy(part: pl.DataFrame | Path) -> pl.LazyFrame:
    import polars as pl

    return pl.scan_parquet(part) if isinstance(part, Path) else part.lazy()
