"""The experiment ledger: one immutable JSON record per run, in the environment's cold storage.

Cold storage rather than a database file: it is already per environment, reached through one
interface on every backend (a local dir here, S3 for the shared environments, where the whole team
sees the same ledger), and its writes are atomic. Records are never rewritten — each run adds a new
key — so the ledger is append-only by construction. A run's predictions are stored beside it,
content-addressed, so the gate compares two models on exactly the rows they were scored on.

    experiments/<snapshot id>/runs/<recorded at>-<run id>.json
    experiments/<snapshot id>/predictions/<model>-<sha256 prefix>.parquet

Each record names its task; a run's model is identified by its name, parameters and the sha256 of
its file (`science/models/`), beside the git commit and whether the tree was dirty, so an uncommitted
edit of a model file is a variant of its own.

No fitted model is stored: nothing executable is ever read back from shared storage (a pickle runs
code when it is loaded). A record holds what reproduces the model instead — snapshot, model, parameters,
seed — and the champion is re-fitted from it (science/serving.py). Records written when fitted models
were pickled keep a `model_artifact` key, which nothing reads.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
import platform
import re
import subprocess
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from dataops_assets.integrity import canonical_json, fingerprint
from dataops_assets.layout import BadManifest, checked_entry
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


def experiment_key(snapshot_id: str, task: dict, model: dict, params: dict, seed: int) -> str:
    """What the run computed, independent of when and where: equal keys must give equal metrics.
    `task` and `model` name their files and the sha256 of their content."""
    return fingerprint(
        {"snapshot_id": snapshot_id, "task": task, "model": model, "params": params, "seed": seed}
    )


def variant_hash(params: dict, model_sha256: str) -> str:
    """A model's parameters and its file's content: an edit of either is another candidate."""
    return fingerprint({"params": params, "model_sha256": model_sha256})


def _predictions_directory(snapshot_id: str) -> str:
    return f"{EXPERIMENTS}/{snapshot_id}/predictions"


def write_predictions(cold_storage: ColdStorage, snapshot_id: str, model: str, frame: pd.DataFrame) -> dict:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    data = buffer.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    key = f"{_predictions_directory(snapshot_id)}/{model}-{sha256[:16]}.parquet"
    if not cold_storage.exists(key):
        cold_storage.put_bytes(key, data)
    return {"path": key, "sha256": sha256, "bytes": len(data), "rows": len(frame)}


def read_predictions(cold_storage: ColdStorage, record: dict) -> pd.DataFrame:
    """The run's predictions (plain Parquet data): only from where the ledger stores them, and only the
    bytes whose sha256 the record holds."""
    import pandas as pd

    directory = _predictions_directory(record["snapshot"]["id"])
    entry = checked_entry(record["predictions"], directory, stem=record["model"])
    data = cold_storage.get_bytes(entry["path"])
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise BadManifest(f"{entry['path']} no longer matches the sha256 the ledger recorded")
    return pd.read_parquet(io.BytesIO(data))


def append(cold_storage: ColdStorage, record: dict) -> str:
    stamp = dt.datetime.fromisoformat(record["recorded_at"]).strftime("%Y%m%dT%H%M%S%f")
    key = f"{EXPERIMENTS}/{record['snapshot']['id']}/runs/{stamp}-{record['run_id'][:8]}.json"
    cold_storage.put_bytes(key, canonical_json(record))
    return key


# What append writes: a record's key names its snapshot (a 64-hex id) and the run.
RECORD_KEY = re.compile(
    rf"{EXPERIMENTS}/[0-9a-f]{{64}}/runs/[0-9]{{8}}T[0-9]{{12}}-[0-9A-Za-z_-]{{1,8}}\.json"
)


def read_record(cold_storage: ColdStorage, key: object) -> dict:
    """The ledger record at `key` (as a promotion names it); BadManifest unless there is one."""
    if not isinstance(key, str) or not RECORD_KEY.fullmatch(key):
        raise BadManifest(f"{str(key)[:200]!r} is not the key of an experiment ledger record")
    if not cold_storage.exists(key):
        raise BadManifest(f"there is no experiment ledger record {key}")
    record = json.loads(cold_storage.get_bytes(key))
    if not isinstance(record, dict):
        raise BadManifest(f"{key} is not an experiment ledger record")
    return record | {"ledger_key": key}


def runs(cold_storage: ColdStorage, snapshot_id: str, task: str) -> list[dict]:
    """Every recorded run of `task` on the snapshot, oldest first."""
    keys = cold_storage.list_keys(f"{EXPERIMENTS}/{snapshot_id}/runs/")
    records = (json.loads(cold_storage.get_bytes(k)) | {"ledger_key": k} for k in keys if k.endswith(".json"))
    return [r for r in records if (r.get("task") or {}).get("name") == task]


VARIANT_PREFIX = 8  # hex digits of the variant hash in a variant's label


def variant(record: dict) -> tuple[str, str]:
    """What a run is a candidate of: its model, its parameters (test days included) and its file's content."""
    return record["model"], record["variant_hash"]


def variant_label(record: dict) -> str:
    return f"{record['model']}@{record['variant_hash'][:VARIANT_PREFIX]}"


def latest_by_variant(records: list[dict]) -> dict[tuple[str, str], dict]:
    """Each variant's latest run: two parameter sets of one model are two candidates."""
    return {variant(r): r for r in records}  # oldest first, so the last one of each variant wins
