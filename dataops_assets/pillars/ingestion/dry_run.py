"""`dataops source check NAME --file F`: what ingestion would do with a file, writing nothing.

The file is read exactly as ingestion reads it (validate.py, in a temporary directory): its rows
routed to the days their partition date gives, each day checked and de-duplicated as if the file
were that day's only file. Days outside the source's span are reported as not expected.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dataops_assets.pillars.ingestion.validate import assemble_day, read_landed_file, validate_partition
from dataops_assets.sources.model import Source


@dataclass
class DryDay:
    day: str  # YYYY-MM-DD, or "whole" for a dataset loaded whole
    rows: int
    land: int = 0
    quarantine: int = 0
    reasons: Counter = field(default_factory=Counter)
    expected: bool = True


@dataclass
class DryRun:
    rows_read: int
    days: list[DryDay]
    undated: int = 0  # rows without a partition date (or lines that do not split): quarantined
    undated_reasons: Counter = field(default_factory=Counter)

    @property
    def landed(self) -> int:
        return sum(d.land for d in self.days)

    @property
    def quarantined(self) -> int:
        return sum(d.quarantine for d in self.days) + self.undated

    @property
    def not_expected(self) -> int:
        return sum(d.rows for d in self.days if not d.expected)

    @property
    def accounted(self) -> bool:
        return self.rows_read == self.landed + self.quarantined + self.not_expected


def dry_run(source: Source, path: Path) -> DryRun:
    """What ingesting `path` as a landing file of `source` would land and quarantine (RefusedFile if
    it would be refused whole)."""
    with tempfile.TemporaryDirectory(prefix="dataops-dry-run-") as tmp:
        work = Path(tmp)
        if not source.is_daily:
            outcome = validate_partition(
                source, [path], None, work / "landed.parquet", work / "q.parquet", [path.name]
            )
            day = DryDay(
                "whole", outcome.rows_read, outcome.rows_landed, outcome.rows_quarantined, outcome.reasons
            )
            return DryRun(outcome.rows_read, [day])
        read = read_landed_file(source, path, path.name, work / "rows.parquet", work / "undated.parquet")
        days = []
        for day, rows in sorted(read.days.items()):
            if not source.expects(dt.date.fromisoformat(day)):
                days.append(DryDay(day, rows, expected=False))
                continue
            outcome = assemble_day(
                source,
                dt.date.fromisoformat(day),
                [(path.name, work / "rows.parquet")],
                work / f"{day}-landed.parquet",
                work / f"{day}-q.parquet",
            )
            days.append(DryDay(day, rows, outcome.rows_landed, outcome.rows_quarantined, outcome.reasons))
        return DryRun(read.rows_read, days, read.undated, read.reasons)
