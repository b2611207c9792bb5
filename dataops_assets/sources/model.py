"""The typed model of a source declaration (`sources/<name>.yaml`).

A source is configuration, not code: format, schema with types, primary key, event-time column,
landing location and the days it covers are all a new CSV/JSON/Parquet feed needs. A column whose
name in the files is not a safe identifier says so with `from:`; everything after landing uses `name`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dataops_assets.names import SAFE_NAME, checked_glob

ColumnType = Literal["integer", "bigint", "double", "string", "boolean", "date", "timestamp", "timestamptz"]
DATE_TYPES = ("date", "timestamp", "timestamptz")

# One vocabulary of types, spelled for each engine that needs it.
DUCKDB_TYPES: dict[str, str] = {
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",
}

# The strptime directives DuckDB reads (a `-` drops zero padding, as in %-d).
FORMAT_DIRECTIVE = re.compile(r"%(-?[aAwdbBmyYHIpMSfgnzZjUWcxX]|%)")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def file_name_key(name: str) -> str:
    """How a column name in a file is compared with a declaration's `from`: Unicode-normalized and
    stripped, so 'Café' typed on one keyboard matches 'Café' written by another system."""
    return unicodedata.normalize("NFC", name).strip()


class Column(Strict):
    name: str = Field(pattern=SAFE_NAME.pattern, description="The safe identifier used after landing.")
    from_: str | None = Field(
        None,
        alias="from",
        min_length=1,
        description="The column's name in the landing files, when it is not `name` (any text).",
    )
    type: ColumnType
    nullable: bool = True
    description: str = ""
    format: str | None = Field(
        None, description="strptime format of a date/timestamp/timestamptz column, e.g. '%d/%m/%Y %H:%M'."
    )
    true_values: tuple[str, ...] | None = Field(None, description="Spellings of true in a boolean column.")
    false_values: tuple[str, ...] | None = Field(None, description="Spellings of false in a boolean column.")

    @field_validator("format")
    @classmethod
    def _a_strptime_format(cls, format: str | None) -> str | None:
        if format is None:
            return None
        rest = FORMAT_DIRECTIVE.sub("", format)
        if "%" in rest:
            bad = rest[rest.index("%") : rest.index("%") + 2]
            raise ValueError(f"format {format!r}: {bad!r} is not a strptime directive")
        if not FORMAT_DIRECTIVE.search(format.replace("%%", "")):
            raise ValueError(f"format {format!r} has no strptime directive (such as %Y, %d, %H)")
        return format

    @model_validator(mode="after")
    def _options_fit_the_type(self) -> Column:
        if self.format is not None and self.type not in DATE_TYPES:
            raise ValueError(f"column {self.name}: format applies to {', '.join(DATE_TYPES)} columns only")
        spelled = (self.true_values is not None, self.false_values is not None)
        if any(spelled) and self.type != "boolean":
            raise ValueError(f"column {self.name}: true_values/false_values apply to boolean columns only")
        if any(spelled) and not all(spelled):
            raise ValueError(f"column {self.name}: true_values and false_values go together")
        if all(spelled) and set(self.true_values) & set(self.false_values):  # type: ignore[arg-type]
            both = sorted(set(self.true_values) & set(self.false_values))  # type: ignore[arg-type]
            raise ValueError(f"column {self.name}: {', '.join(map(repr, both))} is both true and false")
        return self

    @property
    def in_file(self) -> str:
        """The column's name in the landing files."""
        return file_name_key(self.from_) if self.from_ is not None else self.name

    @property
    def label(self) -> str:
        """How errors and quarantine reasons name the column: both names when they differ."""
        return self.name if self.from_ is None else f'{self.name} (from "{self.from_}")'


class PartitionDate(Strict):
    """How a row's partition date is derived: one date/timestamp column, or year/month/day columns."""

    column: str | None = None
    parts: tuple[str, str, str] | None = Field(None, description="[year, month, day] column names")

    @model_validator(mode="after")
    def _exactly_one(self) -> PartitionDate:
        if (self.column is None) == (self.parts is None):
            raise ValueError("partition_date needs exactly one of 'column' or 'parts'")
        return self

    @property
    def columns(self) -> tuple[str, ...]:
        return self.parts if self.parts else (self.column,)  # type: ignore[return-value]


class CsvOptions(Strict):
    delimiter: str = ","
    quote: str = '"'
    header: bool = True


class Source(Strict):
    name: str = Field(pattern=SAFE_NAME.pattern)
    description: str
    format: Literal["csv", "json", "parquet"]
    partitioning: Literal["daily", "none"]
    landing: str = Field(
        description="Glob under the landing zone. A daily source's glob with '{date}' (replaced by the "
        "partition's YYYY-MM-DD) holds one file per day; without it, each file may hold many days and "
        "its rows go to the partitions their partition_date gives.",
    )
    columns: tuple[Column, ...] = Field(min_length=1)
    primary_key: tuple[str, ...] = Field(min_length=1)
    event_time: str | None = Field(None, description="The column that says when the event happened.")
    partition_date: PartitionDate | None = None
    start: dt.date | None = Field(None, description="The first day the source has data (inclusive).")
    end: dt.date | None = Field(None, description="The last day the source has data (inclusive).")
    missing: Literal["fail", "empty"] = Field(
        "fail",
        description="What a day inside the source's span with no landing data does: 'fail' the run "
        "naming the day, or publish it 'empty'.",
    )
    null_values: tuple[str, ...] = ("",)
    csv: CsvOptions = CsvOptions()
    schema_drift: Literal["fail", "accept_nullable"] = Field(
        "fail",
        description="What a landing file whose columns differ from the declared ones does. 'fail': the "
        "file is refused. 'accept_nullable': unexpected columns are ignored (not landed) and a missing "
        "nullable column lands as null, both recorded as drift; a missing required column (not nullable, "
        "in the key or the partition date) still refuses the file.",
    )

    @field_validator("landing")
    @classmethod
    def _inside_the_landing_zone(cls, landing: str) -> str:
        return checked_glob(landing)

    @model_validator(mode="after")
    def _consistent(self) -> Source:
        self._columns_are_distinct()
        names = [c.name for c in self.columns]
        referenced = {"primary_key": self.primary_key}
        if self.event_time:
            referenced["event_time"] = (self.event_time,)
        if self.partition_date:
            referenced["partition_date"] = self.partition_date.columns
        for field, cols in referenced.items():
            unknown = [c for c in cols if c not in names]
            if unknown:
                raise ValueError(f"{field} names undeclared column(s): {', '.join(unknown)}")
        if self.partitioning == "daily":
            if self.partition_date is None:
                raise ValueError("a daily source needs partition_date")
            if self.partition_date.column:
                column = self.column(self.partition_date.column)
                if column.type not in DATE_TYPES:
                    raise ValueError(
                        f"partition_date column {column.label} is {column.type}; it must be one of "
                        f"{', '.join(DATE_TYPES)} (or use parts: [year, month, day])"
                    )
        elif "{date}" in self.landing:
            raise ValueError("'{date}' in the landing glob needs partitioning: daily")
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def _columns_are_distinct(self) -> None:
        """Two columns may share neither a name nor the file column they read: say which ones clash."""
        for attribute, what in (("name", "name"), ("in_file", "file column")):
            seen: dict[str, Column] = {}
            for column in self.columns:
                value = getattr(column, attribute)
                if value in seen:
                    raise ValueError(
                        f"columns: {what} {value!r} is declared twice ({seen[value].label} and {column.label}); "
                        "give each column a name of its own"
                    )
                seen[value] = column

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def required_columns(self) -> frozenset[str]:
        """Columns every row needs a value in: not nullable, in the primary key or the partition date."""
        required = {c.name for c in self.columns if not c.nullable} | set(self.primary_key)
        return frozenset(required | set(self.partition_date.columns if self.partition_date else ()))

    @property
    def is_daily(self) -> bool:
        return self.partitioning == "daily"

    @property
    def holds_many_days(self) -> bool:
        """A daily source whose files may each hold many days (its glob has no '{date}')."""
        return self.is_daily and "{date}" not in self.landing

    def landing_glob(self, partition: str | None) -> str:
        return self.landing.replace("{date}", partition) if partition else self.landing

    def expects(self, day: dt.date) -> bool:
        """Whether `day` lies inside the source's span (a day outside it has nothing to land)."""
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def expects_window(self, first: dt.date, last: dt.date) -> bool:
        """Whether a window of days overlaps the span (what a dimension is expected for)."""
        return (self.start is None or last >= self.start) and (self.end is None or first <= self.end)

    @property
    def span(self) -> str:
        return f"{self.start or '…'}..{self.end or '…'}"
