"""A partition's clean rows between the fast read and the landed file (see plain_csv.py).

Rows arrive chunk by chunk, in arrival order, and are held in memory up to HELD_BYTES; beyond that
each chunk goes to a Parquet file in a work directory, so a partition's size does not set the
process's memory. Duplicates (a key an earlier clean row has) are found from the key hashes alone,
kept for every row: only the rows whose hash repeats are read back and compared exactly. The landed
file is then streamed from memory and the spilled files, without the duplicates, in arrival order,
a row group every ROW_GROUP_ROWS rows whatever the chunks were.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the code location loads without polars
    import polars as pl

HELD_BYTES = 256 << 20  # typed rows held in memory before the rest spill (about 2.5M flights rows)


class HeldRows:
    def __init__(self, spill_to: Path, types: dict) -> None:
        self.spill_to, self.types = spill_to, types
        self.held: list[pl.DataFrame] = []
        self.held_bytes = 0
        self.spilled: list[Path] = []
        self.hashes: list[pl.Series] = []
        self.rows = 0

    def add(self, clean: pl.DataFrame) -> None:
        """Hold a chunk of clean rows (`_file`, `_record`, the typed columns, `_key_hash`), the next
        in arrival order; each gets `_row`, its position among all the clean rows."""
        import polars as pl

        self.hashes.append(clean.get_column("_key_hash"))
        rows = clean.drop("_key_hash").with_columns(
            _row=pl.int_range(self.rows, self.rows + clean.height, dtype=pl.Int64)
        )
        self.rows += clean.height
        if self.spilled or self.held_bytes + rows.estimated_size() > HELD_BYTES:
            path = self.spill_to / f"held-{len(self.spilled):06d}.parquet"
            rows.write_parquet(path, compression="uncompressed", statistics=False)
            self.spilled.append(path)
        else:
            self.held.append(rows)
            self.held_bytes += rows.estimated_size()

    def _all(self) -> pl.LazyFrame:
        import polars as pl

        parts = [frame.lazy() for frame in self.held] + (
            [pl.scan_parquet(self.spilled)] if self.spilled else []
        )
        return pl.concat(parts) if parts else pl.LazyFrame(schema=self.types)

    def duplicates(self, keys: tuple[str, ...]) -> pl.DataFrame:
        """The rows whose key an earlier row has, in arrival order. Sorting the hashes finds the
        repeated ones in less time and memory than a hash table of them."""
        import polars as pl

        if not self.rows:
            return pl.DataFrame(
                schema={"_file": pl.Int32, "_record": pl.Int64, "_row": pl.Int64} | self.types
            )
        hashes = pl.concat(self.hashes)
        order = hashes.arg_sort()
        ranked = hashes.gather(order)
        repeats = ((ranked == ranked.shift(1)) | (ranked == ranked.shift(-1))).fill_null(False)
        candidates = order.filter(repeats).cast(pl.Int64).sort()
        repeated = self._all().filter(pl.col("_row").is_in(candidates.implode())).collect()
        return repeated.filter(~pl.struct(*keys).is_first_distinct())

    def sink(self, path: Path, leave_out: pl.Series, row_group_rows: int) -> int:
        """Write the held rows but those at `leave_out` (`_row`s) as zstd Parquet; return how many."""
        import polars as pl

        rows = self._all()
        if leave_out.len():
            rows = rows.filter(~pl.col("_row").is_in(leave_out.implode()))
        rows.select(list(self.types)).sink_parquet(path, compression="zstd", row_group_size=row_group_rows)
        return self.rows - leave_out.len()
