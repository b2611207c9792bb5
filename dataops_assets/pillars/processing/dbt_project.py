"""The dbt project and its manifest, prepared ahead of use rather than on every import.

`dagster-dbt`'s prepare_if_dev() re-parses the project on every import under `dagster dev`; here the
manifest is rebuilt only when it is missing or older than a file it is built from (~6 s, once).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dataops_assets.paths import DBT_PROJECT_DIR

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
SOURCE_PARTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests")


def dbt_executable() -> str:
    # The dbt installed beside this interpreter, so a venv works without being activated.
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else "dbt"


def _newest_source_mtime() -> float:
    newest = 0.0
    for part in SOURCE_PARTS:
        path = DBT_PROJECT_DIR / part
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def ensure_manifest() -> Path:
    if MANIFEST_PATH.exists() and MANIFEST_PATH.stat().st_mtime >= _newest_source_mtime():
        return MANIFEST_PATH
    env = os.environ | {"DATAOPS_WAREHOUSE_PATH": os.environ.get("DATAOPS_WAREHOUSE_PATH", ":memory:")}
    result = subprocess.run(
        [dbt_executable(), "parse", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--quiet"],
        cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0 or not MANIFEST_PATH.exists():
        raise RuntimeError(f"dbt parse failed for {DBT_PROJECT_DIR}:\n{result.stdout}{result.stderr}")
    return MANIFEST_PATH
