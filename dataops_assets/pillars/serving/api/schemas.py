"""The API's response models: what clients receive, and what `/openapi.json` documents."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Problem(BaseModel):
    detail: str = Field(description="Why the request was refused, in one line.")


class ColumnInfo(BaseModel):
    name: str
    type: Literal["integer", "number", "boolean", "date", "timestamp", "text"]
    filters: list[str] = Field(
        description="Accepted filter suffixes: `name=v` (eq), `name__gte=v`, `name__gt`, `name__lte`, `name__lt`."
    )


class Freshness(BaseModel):
    name: str
    last_partition: str | None = Field(description="The latest day published.")
    published_at: str | None = Field(description="When the table was last published (UTC, ISO 8601).")
    age_seconds: float | None
    fresh: bool = Field(description="Published within the serving freshness window.")


class Health(BaseModel):
    status: Literal["ok", "stale", "unavailable"]
    store: dict[str, Any] = Field(description="Backend, and whether it is reachable.")
    tables: list[Freshness]


class DatasetInfo(BaseModel):
    name: str
    description: str
    published: bool
    rows: int
    last_partition: str | None
    published_at: str | None
    date_column: str
    key: list[str]
    columns: list[ColumnInfo]


class DatasetList(BaseModel):
    datasets: list[DatasetInfo]


class Page(BaseModel):
    dataset: str
    columns: list[ColumnInfo]
    rows: list[dict[str, Any]]
    limit: int
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same filters and order_by) for the next page; "
        "null on the last page."
    )
