"""Which dbt models are curated data: exported per day to cold storage (`curated/<model>/date=…`),
where snapshots can pin them beside raw datasets (the backward flow from processing to cold).

Every served model is curated, and so is any daily model whose YAML says

    config: {meta: {dataops: {archive: true}}}

(or `archive: {date_column: <col>, key: [<cols>]}` to name them; a served model's come from its serve
declaration, a plain daily model's date column is its `unique_key`). `archive: false` opts a served
model out. Dagster-free, like the served-data contract it builds on.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dataops_assets.names import SAFE_NAME
from dataops_assets.paths import DBT_MANIFEST_PATH
from dataops_assets.served import declared_tables, manifest_mtime, model_yaml
from dataops_assets.yaml_config import validation_problems


@dataclass(frozen=True)
class CuratedModel:
    name: str  # the dbt model, and its folder in cold storage: curated/<name>/
    relation: str  # where its rows are in the warehouse (schema.table)
    date_column: str  # the DATE column that splits it into days
    key: tuple[str, ...]  # the order of a day's rows (every column when empty): equal data, equal bytes
    description: str


class InvalidArchiveDeclaration(ValueError):
    """A dbt model's `meta.dataops.archive` cannot be exported; the message names the model's YAML."""


class ArchiveDeclaration(BaseModel):
    """`config.meta.dataops.archive` of a dbt model, when it is a mapping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date_column: str | None = Field(default=None, pattern=SAFE_NAME.pattern)
    key: tuple[str, ...] = ()


def _archive_setting(node: dict) -> object:
    meta = (node.get("config") or {}).get("meta") or {}
    return (meta.get("dataops") or {}).get("archive")


def _curated(node: dict, served_key: tuple[str, ...] | None, served_date: str | None) -> CuratedModel:
    where, model = model_yaml(node), node["name"]
    setting = _archive_setting(node)
    try:
        declared = ArchiveDeclaration.model_validate(setting if isinstance(setting, dict) else {})
    except ValidationError as error:
        problems = validation_problems(error)
        raise InvalidArchiveDeclaration(f"{where}: model {model}: meta.dataops.archive: {problems}") from None
    if "daily" not in node.get("tags", []):
        raise InvalidArchiveDeclaration(
            f"{where}: model {model} is not a daily model (tag daily): only a model built per day can be "
            "exported per day"
        )
    unique_key = (node.get("config") or {}).get("unique_key")
    date_column = declared.date_column or served_date or (unique_key if isinstance(unique_key, str) else None)
    if not date_column:
        raise InvalidArchiveDeclaration(
            f"{where}: model {model}: meta.dataops.archive names no date_column and the model has no "
            "unique_key to take it from"
        )
    return CuratedModel(
        name=model,
        relation=f"{node['schema']}.{node['alias']}",
        date_column=date_column,
        key=declared.key or served_key or (),
        description=(node.get("description") or "").strip() or f"Exported from dbt model {model}.",
    )


def declared_models(manifest: dict) -> tuple[CuratedModel, ...]:
    """The curated models of a dbt manifest, by name; InvalidArchiveDeclaration for the first bad one."""
    served = {t.model: t for t in declared_tables(manifest)}
    curated = []
    for node in sorted(manifest["nodes"].values(), key=lambda n: n["name"]):
        if node.get("resource_type") != "model":
            continue
        setting, table = _archive_setting(node), served.get(node["name"])
        if setting is False or (setting is None and table is None):
            continue
        if setting not in (None, True) and not isinstance(setting, dict):
            raise InvalidArchiveDeclaration(
                f"{model_yaml(node)}: model {node['name']}: meta.dataops.archive is {setting!r}: "
                "write true, false or {date_column: <col>, key: [<cols>]}"
            )
        curated.append(_curated(node, table.key if table else None, table.date_column if table else None))
    return tuple(curated)


@functools.lru_cache(maxsize=4)
def _read(path: Path, mtime_ns: int) -> tuple[CuratedModel, ...]:
    return declared_models(json.loads(path.read_text()))


def curated_models(manifest_path: Path = DBT_MANIFEST_PATH) -> dict[str, CuratedModel]:
    """Every curated model by name, read again only when dbt's manifest changes."""
    return {m.name: m for m in _read(manifest_path, manifest_mtime(manifest_path))}
