"""The dbt project and its manifest, prepared ahead of use rather than on every import.

`dagster-dbt`'s prepare_if_dev() re-parses the project on every import under `dagster dev`; here the
manifest is rebuilt only when it is missing or older than a file it is built from (~6 s, once): the
dbt project's files and the source declarations, from which dbt's `raw` sources are generated first.
Dagster-free: the API reads the served tables from this manifest too.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

from dataops_assets.paths import DBT_MANIFEST_PATH, DBT_PROJECT_DIR, SOURCES_DIR
from dataops_assets.pillars.processing.dbt_sources import write_dbt_sources
from dataops_assets.resources.dbt import dbt_executable
from dataops_assets.sources.catalog import load_sources

MANIFEST_PATH = DBT_MANIFEST_PATH
SOURCE_PARTS = tuple(
    DBT_PROJECT_DIR / part for part in ("dbt_project.yml", "profiles.yml", "models", "macros", "tests")
) + (SOURCES_DIR,)


def _newest_source_mtime() -> float:
    newest = 0.0
    for path in SOURCE_PARTS:
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def _is_current() -> bool:
    return MANIFEST_PATH.exists() and MANIFEST_PATH.stat().st_mtime >= _newest_source_mtime()


def ensure_manifest() -> Path:
    """The current manifest: dbt's sources generated from the declarations, then parsed if stale.

    An invalid source declaration is an InvalidConfig naming its file, before dbt runs.
    """
    write_dbt_sources(load_sources())
    if _is_current():
        return MANIFEST_PATH
    MANIFEST_PATH.parent.mkdir(parents=True, exist_ok=True)
    # `dagster dev` imports the code location in several processes at once: one parses, the rest wait.
    with open(MANIFEST_PATH.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _is_current():
            _parse()
    return MANIFEST_PATH


def _parse() -> None:
    env = os.environ | {"DATAOPS_WAREHOUSE_PATH": os.environ.get("DATAOPS_WAREHOUSE_PATH", ":memory:")}
    result = subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--quiet",
        ],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not MANIFEST_PATH.exists():
        raise RuntimeError(f"dbt parse failed for {DBT_PROJECT_DIR}:\n{result.stdout}{result.stderr}")
