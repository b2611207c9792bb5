"""The dbt project and its manifest, prepared ahead of use rather than on every import.

`dagster-dbt`'s prepare_if_dev() re-parses the project on every import under `dagster dev`; here the
manifest is rebuilt only when it is missing or older than a file it is built from (~6 s, once).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

from dataops_assets.paths import DBT_PROJECT_DIR
from dataops_assets.resources.dbt import dbt_executable

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
SOURCE_PARTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests")


def _newest_source_mtime() -> float:
    newest = 0.0
    for part in SOURCE_PARTS:
        path = DBT_PROJECT_DIR / part
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def _is_current() -> bool:
    return MANIFEST_PATH.exists() and MANIFEST_PATH.stat().st_mtime >= _newest_source_mtime()


def ensure_manifest() -> Path:
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
