"""The experiment ledger: one immutable JSON record per run, in the environment's cold storage.

Cold storage rather than a database file: it is already per environment, reached through one
interface on every backend (a local dir here, S3 for the shared environments, where the whole team
sees the same ledger), and its writes are atomic. Records are never rewritten — each run adds a new
key — so the ledger is append-only by construction. A run's predictions are stored beside it,
content-addressed, so the gate compares two models on exactly the rows they were scored on.

    experiments/<snapshot id>/runs/<recorded at>-<run id>.json
    experiments/<snapshot id>/predictions/<model>-<sha256 prefix>.parquet
    experiments/<snapshot id>/models/<model>-<sha256 prefix>.pickle     (the fitted model)
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
import pickle
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from dataops_assets.integrity import canonical_json, fingerprint
from dataops_assets.paths import PROJECT_DIR
from dataops_assets.resources.cold_storage import ColdStorage

if TYPE_CHECKING:  # pandas is imported where used: the code location loads without it
    import pandas as pd

EXPERIMENTS = "experiments"
LIBRARIES = ("dagster", "scikit-learn", "numpy", "pandas", "pyarrow", "duckdb")


@functools.cache
def code_version() -> dict:
    """The git commit the code ran from, and whether the working tree differed from it."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_sha": git("rev-parse", "HEAD") or "unknown",
        "dirty": bool(status) if status is not None else None,
    }


def library_versions() -> dict[str, str]:
    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return {"python": platform.python_version()} | {name: installed(name) for name in LIBRARIES}


def experiment_key(snapshot_id: str, model: str, params: dict, seed: int) -> str:
    """What the run computed, independent of when and where: equal keys must give equal metrics."""
    return fingerprint({"snapshot_id": snapshot_id, "model": model, "params": params, "seed": seed})


def _put_addressed(
    cold_storage: ColdStorage, snapshot_id: str, kind: str, name: str, suffix: str, data: bytes
) -> dict:
    sha256 = hashlib.sha256(data).hexdigest()
    key = f"{EXPERIMENTS}/{snapshot_id}/{kind}/{name}-{sha256[:16]}.{suffix}"
    if not cold_storage.exists(key):
        cold_storage.put_bytes(key, data)
    return {"path": key, "sha256": sha256, "bytes": len(data)}


def _get_addressed(cold_storage: ColdStorage, stored: dict) -> bytes:
    data = cold_storage.get_bytes(stored["path"])
    if hashlib.sha256(data).hexdigest() != stored["sha256"]:
        raise ValueError(f"{stored['path']} no longer matches the sha256 the ledger recorded")
    return data


def write_predictions(cold_storage: ColdStorage, snapshot_id: str, model: str, frame: pd.DataFrame) -> dict:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    stored = _put_addressed(cold_storage, snapshot_id, "predictions", model, "parquet", buffer.getvalue())
    return stored | {"rows": len(frame)}


def read_predictions(cold_storage: ColdStorage, record: dict) -> pd.DataFrame:
    import pandas as pd

    return pd.read_parquet(io.BytesIO(_get_addressed(cold_storage, record["predictions"])))


def write_model(cold_storage: ColdStorage, snapshot_id: str, model: str, fitted: object) -> dict:
    """The fitted model, so a promoted champion can score days it has never seen."""
    return _put_addressed(cold_storage, snapshot_id, "models", model, "pickle", pickle.dumps(fitted))


def read_model(cold_storage: ColdStorage, stored: dict) -> object:
    # Only ever this ledger's own artifacts, checked against the sha256 recorded when they were written.
    return pickle.loads(_get_addressed(cold_storage, stored))


def append(cold_storage: ColdStorage, record: dict) -> str:
    stamp = dt.datetime.fromisoformat(record["recorded_at"]).strftime("%Y%m%dT%H%M%S%f")
    key = f"{EXPERIMENTS}/{record['snapshot']['id']}/runs/{stamp}-{record['run_id'][:8]}.json"
    cold_storage.put_bytes(key, canonical_json(record))
    return key


def runs(cold_storage: ColdStorage, snapshot_id: str) -> list[dict]:
    """Every recorded run on the snapshot, oldest first."""
    keys = cold_storage.list_keys(f"{EXPERIMENTS}/{snapshot_id}/runs/")
    return [json.loads(cold_storage.get_bytes(k)) | {"ledger_key": k} for k in keys if k.endswith(".json")]


VARIANT_PREFIX = 8  # hex digits of the params hash in a variant's label


def variant(record: dict) -> tuple[str, str]:
    """What a run is a candidate of: its model and its parameters (by hash, test fraction included)."""
    return record["model"], record["params_hash"]


def variant_label(record: dict) -> str:
    return f"{record['model']}@{record['params_hash'][:VARIANT_PREFIX]}"


def latest_by_variant(records: list[dict]) -> dict[tuple[str, str], dict]:
    """Each variant's latest run: two parameter sets of one model are two candidates."""
    return {variant(r): r for r in records}  # oldest first, so the last one of each variant wins
