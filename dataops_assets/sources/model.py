"""The typed model of a source declaration (`sources/<name>.yaml`).

A source is configuration, not code: format, schema with types, primary key, event-time column and
landing location are all a new daily CSV/JSON/Parquet feed needs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dataops_assets.names import SAFE_NAME, checked_glob

ColumnType = Literal["integer", "bigint", "double", "string", "boolean", "date", "timestamp", "timestamptz"]

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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(Strict):
    name: str = Field(pattern=SAFE_NAME.pattern)
    type: ColumnType
    nullable: bool = True
    description: str = ""


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
        description="Glob under the landing zone; '{date}' is replaced by the partition's YYYY-MM-DD.",
    )
    columns: tuple[Column, ...] = Field(min_length=1)
    primary_key: tuple[str, ...] = Field(min_length=1)
    event_time: str | None = Field(None, description="The column that says when the event happened.")
    partition_date: PartitionDate | None = None
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
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError("columns: a column name is declared twice")
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
            if "{date}" not in self.landing:
                raise ValueError("a daily source's landing glob needs a '{date}' placeholder")
        return self

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> frozenset[str]:
        """Columns every row needs a value in: not nullable, in the primary key or the partition date."""
        required = {c.name for c in self.columns if not c.nullable} | set(self.primary_key)
        return frozenset(required | set(self.partition_date.columns if self.partition_date else ()))

    @property
    def is_daily(self) -> bool:
        return self.partitioning == "daily"

    def landing_glob(self, partition: str | None) -> str:
        return self.landing.replace("{date}", partition) if partition else self.landing
