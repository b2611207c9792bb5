"""A task's features frame on a snapshot: its features query run by DuckDB over the snapshot's
datasets (each a table of its name), one row per example, in the order of its key.

The target may be null (an example with no known answer yet, such as a diverted flight): such rows
are scored but neither trained nor judged on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.science.snapshots import Snapshot, SnapshotError, load_snapshot, read_dataset
from dataops_assets.task_declarations import Task, load_task

if TYPE_CHECKING:  # duckdb and pandas are imported where used: the code location loads without them
    import pandas as pd

SPLIT = "split"  # the column saying whether a row is in the training or the test days


class TaskFrameError(ValueError):
    """The task's features cannot be computed on the snapshot; the message says why in one line."""


def build_features(cold_storage: ColdStorage, snapshot: Snapshot, task: Task) -> pd.DataFrame:
    import duckdb
    import pandas as pd

    missing = [d for d in task.datasets if d not in snapshot.datasets]
    if missing:
        raise SnapshotError(
            f"snapshot {snapshot.name} does not pin {', '.join(missing)}, which task {task.name} needs "
            f"(it pins {', '.join(snapshot.datasets)})"
        )
    con = duckdb.connect()
    try:
        for dataset in task.datasets:
            # Through the snapshot's reader: every byte checked against the pin, curated data too.
            con.register(dataset, read_dataset(cold_storage, snapshot, dataset))
        query = task.sql_path.read_text().strip().rstrip(";")
        try:
            frame = con.execute(f"SELECT * FROM ({query}) ORDER BY {', '.join(task.key)}").df()
        except duckdb.Error as error:
            first = str(error).strip().splitlines()[0]
            raise TaskFrameError(
                f"task {task.name}: the features query {task.features} failed: {first}"
            ) from None
    finally:
        con.close()
    absent = [c for c in dict.fromkeys((*task.key, task.date_column, task.target)) if c not in frame]
    if absent:
        raise TaskFrameError(
            f"task {task.name}: {task.features} gives no column {', '.join(absent)} "
            f"(it gives {', '.join(frame.columns)})"
        )
    duplicated = frame.duplicated(list(task.key))
    if duplicated.any():
        raise TaskFrameError(
            f"task {task.name}: key ({', '.join(task.key)}) is not unique in {task.features}: "
            f"{int(duplicated.sum()):,} duplicate row(s)"
        )
    frame[task.date_column] = pd.to_datetime(frame[task.date_column])
    kind = "boolean" if task.kind == "classification" else "float64"
    frame[task.target] = frame[task.target].astype(kind)
    return frame


def split_by_date(frame: pd.DataFrame, task: Task, test_days: int | None = None) -> pd.DataFrame:
    """The last `test_days` days (the task's, unless overridden) are the test set: a model is judged
    on days after those it learned from."""
    test_days = test_days or task.test_days
    days = sorted(frame[task.date_column].unique())
    if len(days) <= test_days:
        raise SnapshotError(
            f"task {task.name} tests on the last {test_days} day(s), so a snapshot needs at least "
            f"{test_days + 1} days (this one has {len(days)}): pin more days or pass --test-days"
        )
    first_test = days[-test_days]
    return frame.assign(
        **{SPLIT: (frame[task.date_column] >= first_test).map({True: "test", False: "train"})}
    )


def load_task_frame(
    snapshot: str, task: str | None = None, cold_storage: ColdStorage | None = None
) -> pd.DataFrame:
    """The features frame of `task` (the only one, by default) on `snapshot`, split into training and
    test days exactly as an experiment sees it: for a notebook. Cold storage is DATAOPS_ENV's unless given."""
    if cold_storage is None:
        from dataops_assets.environments.loader import load_environment
        from dataops_assets.resources.factory import open_resource

        cold_storage = open_resource(load_environment(), "cold_storage")
    declared = load_task(task)
    return split_by_date(
        build_features(cold_storage, load_snapshot(cold_storage, snapshot), declared), declared
    )
