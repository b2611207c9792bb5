"""The served-data contract: which hot tables exist, how each is keyed and partitioned, and how fresh
a served table must be.

One Dagster-free module that everything reading or writing the hot store agrees on: the serving
assets publish these tables, retention archives them, the API serves them (without loading Dagster),
and the science track publishes the predictions table.

A table is served because a dbt model declares it, in the model's YAML:

    config: {meta: {dataops: {serve: {table: <hot table>, key: [<cols>], date_column: <col>}}}}

so the tables are read from dbt's manifest (kept current by pillars/processing/dbt_project.py), not
listed here. Only the science track's predictions table is declared in code.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dataops_assets.names import SAFE_NAME
from dataops_assets.paths import DBT_MANIFEST_PATH
from dataops_assets.yaml_config import validation_problems

# A daily feed is expected by the next morning; past a day and a half something is stuck.
FRESHNESS_WARN_WINDOW = dt.timedelta(hours=26)
FRESHNESS_FAIL_WINDOW = dt.timedelta(hours=36)


@dataclass(frozen=True)
class ServedTable:
    name: str  # the table's name in the hot store; the only table names the API's SQL ever holds
    date_column: str  # the daily partition column
    key: tuple[str, ...]  # unique per row: the API's lookup key and the tie-breaker that makes paging total
    description: str
    model: str | None = None  # the dbt model it is published from (None: published by the science track)
    relation: str | None = None  # where the model's rows are in the warehouse (schema.table)


# Published by the science track's promotion (champion/challenger) and its daily scoring, one row per flight.
PREDICTIONS = ServedTable(
    name="flight_delay_predictions",
    date_column="flight_date",
    key=("flight_date", "carrier", "flight", "origin", "sched_dep_time"),
    description="The promoted model's delay prediction for each flight.",
)
PREDICTION_COLUMNS = [
    ("flight_date", "DATE"),
    ("carrier", "VARCHAR"),
    ("flight", "INTEGER"),
    ("origin", "VARCHAR"),
    ("dest", "VARCHAR"),
    ("sched_dep_time", "INTEGER"),
    ("model", "VARCHAR"),
    ("snapshot_id", "VARCHAR"),
    ("predicted", "DOUBLE"),  # P(arrives more than 15 minutes late)
    ("split", "VARCHAR"),  # train or test: whether the model saw this flight's outcome
]


class InvalidServeDeclaration(ValueError):
    """A dbt model's `meta.dataops.serve` cannot be served; the message names the model's YAML file."""


class ServeDeclaration(BaseModel):
    """`config.meta.dataops.serve` of a dbt model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str = Field(
        pattern=SAFE_NAME.pattern, description="The table's name in the hot store and the API."
    )
    key: tuple[str, ...] = Field(min_length=1, description="Columns unique per row.")
    date_column: str = Field(
        pattern=SAFE_NAME.pattern, description="The DATE column that partitions it by day."
    )

    @model_validator(mode="after")
    def _safe_distinct_key(self) -> ServeDeclaration:
        unsafe = [k for k in self.key if not SAFE_NAME.fullmatch(k)]
        if unsafe:
            raise ValueError(f"key column(s) {', '.join(map(repr, unsafe))} are not safe names")
        if len(set(self.key)) != len(self.key):
            raise ValueError("key names a column twice")
        return self


def model_yaml(node: dict) -> str:
    # dbt names the model's YAML 'project://models/…yml'; the user knows it as dbt_project/models/…yml.
    return "dbt_project/" + (node.get("patch_path") or node["original_file_path"]).split("://")[-1]


def _declared(node: dict) -> ServedTable:
    where = model_yaml(node)
    model = node["name"]
    raw = node["config"]["meta"]["dataops"]["serve"]
    try:
        serve = ServeDeclaration.model_validate(raw)
    except ValidationError as error:
        problems = validation_problems(error)
        raise InvalidServeDeclaration(f"{where}: model {model}: meta.dataops.serve: {problems}") from None
    documented = set(node.get("columns", {}))
    undocumented = [c for c in (*serve.key, serve.date_column) if c not in documented]
    if undocumented:
        raise InvalidServeDeclaration(
            f"{where}: model {model} serves column(s) {', '.join(dict.fromkeys(undocumented))} that its "
            "YAML does not list under columns: list every key column and the date column there"
        )
    if "daily" not in node.get("tags", []):
        raise InvalidServeDeclaration(
            f"{where}: model {model} is not a daily model (tag daily): only a model built per day can be "
            "served per day"
        )
    return ServedTable(
        name=serve.table,
        date_column=serve.date_column,
        key=serve.key,
        description=(node.get("description") or "").strip() or f"Published from dbt model {model}.",
        model=model,
        relation=f"{node['schema']}.{node['alias']}",
    )


def _serves(node: dict) -> bool:
    meta = (node.get("config") or {}).get("meta") or {}
    return node.get("resource_type") == "model" and "serve" in (meta.get("dataops") or {})


def declared_tables(manifest: dict) -> tuple[ServedTable, ...]:
    """The tables dbt models declare, in model order; InvalidServeDeclaration for the first bad one."""
    tables: dict[str, tuple[ServedTable, str]] = {}
    for node in sorted((n for n in manifest["nodes"].values() if _serves(n)), key=lambda n: n["name"]):
        table, where = _declared(node), model_yaml(node)
        if table.name == PREDICTIONS.name:
            raise InvalidServeDeclaration(
                f"{where}: model {table.model} serves table {table.name!r}, the science track's predictions: "
                "give it another name"
            )
        if table.name in tables:
            other, other_where = tables[table.name]
            raise InvalidServeDeclaration(
                f"{where}: models {other.model} ({other_where}) and {table.model} both serve table {table.name!r}"
            )
        tables[table.name] = (table, where)
    return tuple(table for table, _ in tables.values())


@functools.lru_cache(maxsize=4)
def _read(path: Path, mtime_ns: int) -> tuple[ServedTable, ...]:
    return declared_tables(json.loads(path.read_text()))


def served_tables(manifest_path: Path = DBT_MANIFEST_PATH) -> dict[str, ServedTable]:
    """Every served table by name: the dbt-declared ones and the predictions.

    Read again only when the manifest changes (a reader calls this per request). The caller makes
    sure the manifest is current; a missing one is a FileNotFoundError saying how to build it.
    """
    try:
        mtime = manifest_path.stat().st_mtime_ns
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no dbt manifest at {manifest_path}: run `dataops source check` to build it"
        ) from None
    declared = _read(manifest_path, mtime)
    return {t.name: t for t in (*declared, PREDICTIONS)}


def published_by_dbt(tables: dict[str, ServedTable]) -> list[ServedTable]:
    """The served tables the pipeline publishes from dbt models (all but the predictions)."""
    return [t for t in tables.values() if t.model is not None]
