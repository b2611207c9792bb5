"""The served-data contract: which hot tables exist, how each is keyed and partitioned, and how fresh
a served table must be.

One Dagster-free module that everything reading or writing the hot store agrees on: the serving
assets publish these tables, retention archives them, the API serves them (without loading Dagster),
and the science track publishes the predictions table.

A table is served because a dbt model declares it, in the model's YAML:

    config: {meta: {dataops: {serve: {table: <hot table>, key: [<cols>], date_column: <col>}}}}

so the tables are read from dbt's manifest (kept current by pillars/processing/dbt_project.py), not
listed here. The science track's tables are declared by its tasks, `serve: {table: …}` in
`science/tasks/<task>.yaml`, each keyed by its task's key and dated by its date column: the task files
are their only declaration (no table of a task is named in the platform's code).
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
from dataops_assets.task_declarations import load_task, tasks_dir
from dataops_assets.yaml_config import InvalidConfig, validation_problems

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
    task: str | None = None  # the science task whose champion's predictions it holds (None: a dbt model's)


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


def declared_tables(manifest: dict, science: dict[str, str] | None = None) -> tuple[ServedTable, ...]:
    """The tables dbt models declare, in model order; InvalidServeDeclaration for the first bad one.
    `science`: the science tasks' tables (table -> task), which no dbt model may take; by default the
    ones `science/tasks/` declares."""
    science = {t.name: t.task for t in task_tables()} if science is None else science
    tables: dict[str, tuple[ServedTable, str]] = {}
    for node in sorted((n for n in manifest["nodes"].values() if _serves(n)), key=lambda n: n["name"]):
        table, where = _declared(node), model_yaml(node)
        if table.name in science:
            raise InvalidServeDeclaration(
                f"{where}: model {table.model} serves table {table.name!r}, the science track's predictions "
                f"of task {science[table.name]}: give it another name"
            )
        if table.name in tables:
            other, other_where = tables[table.name]
            raise InvalidServeDeclaration(
                f"{where}: models {other.model} ({other_where}) and {table.model} both serve table {table.name!r}"
            )
        tables[table.name] = (table, where)
    return tuple(table for table, _ in tables.values())


@functools.lru_cache(maxsize=4)
def _read(path: Path, mtime_ns: int, science: tuple[tuple[str, str], ...]) -> tuple[ServedTable, ...]:
    return declared_tables(json.loads(path.read_text()), dict(science))


@functools.lru_cache(maxsize=4)
def _task_tables(files: tuple[tuple[Path, int], ...]) -> tuple[ServedTable, ...]:
    """Each science task's hot table, read again only when a task file changes."""
    tables = []
    for path, _ in files:
        try:
            task = load_task(path.stem, path.parent)
        except InvalidConfig as error:
            raise InvalidServeDeclaration(str(error)) from None
        if task.serve is not None:
            description = task.description.strip() or f"Predictions of science task {task.name}."
            tables.append(
                ServedTable(task.serve.table, task.date_column, task.key, description, task=task.name)
            )
    return tuple(tables)


def task_tables() -> tuple[ServedTable, ...]:
    """The hot tables the science tasks declare (`serve: {table: …}`), in task order."""
    return _task_tables(tuple((p, p.stat().st_mtime_ns) for p in sorted(tasks_dir().glob("*.yaml"))))


def manifest_mtime(manifest_path: Path) -> int:
    """When dbt's manifest last changed (what its readers cache on); a missing one says how to build it."""
    try:
        return manifest_path.stat().st_mtime_ns
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no dbt manifest at {manifest_path}: run `dataops source check` to build it"
        ) from None


def served_tables(manifest_path: Path = DBT_MANIFEST_PATH) -> dict[str, ServedTable]:
    """Every served table by name: the dbt-declared ones and the science tasks'.

    Read again only when the manifest or a task changes (a reader calls this per request). The caller
    makes sure the manifest is current; a missing one is a FileNotFoundError saying how to build it.
    """
    mtime = manifest_mtime(manifest_path)
    science = task_tables()
    declared = _read(manifest_path, mtime, tuple((t.name, t.task) for t in science))
    return {t.name: t for t in (*declared, *science)}


def published_by_dbt(tables: dict[str, ServedTable]) -> list[ServedTable]:
    """The served tables the pipeline publishes from dbt models (all but the science tasks')."""
    return [t for t in tables.values() if t.model is not None]


def published_by_science(tables: dict[str, ServedTable]) -> list[ServedTable]:
    """The served tables that hold a science task's champion predictions."""
    return [t for t in tables.values() if t.task is not None]
