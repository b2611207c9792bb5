"""The `science` group: an experiment of one task on one snapshot with one model, as five assets.

features -> split -> model -> predictions -> evaluation. The experiment resource (task, snapshot,
model, parameter overrides, seed, test days) is set in the run's config, so the same assets serve
every experiment; the evaluation records the run in the ledger and emits its metrics as numeric
metadata, which the Dagster UI plots across runs. Not part of the daily job: experiments are run on purpose.
"""

import contextlib
import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from dataops_assets.integrity import fingerprint
from dataops_assets.paths import PROJECT_DIR
from dataops_assets.pillars.metadata import markdown_table
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.science import ledger
from dataops_assets.science.evaluation import actual_values, judged_rows, metrics
from dataops_assets.science.features import TaskFrameError, build_features, split_by_date
from dataops_assets.science.models import Fitted, ModelError, load_model_file, train
from dataops_assets.science.snapshots import SnapshotError, load_snapshot
from dataops_assets.task_declarations import Task, load_task
from dataops_assets.yaml_config import InvalidConfig

if TYPE_CHECKING:  # pandas is imported where used: the code location loads without it
    import pandas as pd

SCIENCE = "science"
SCIENCE_JOB = "science_experiment"
SCIENCE_IO = "science_io_manager"
PREVIEW_ROWS = 5


class Experiment(dg.ConfigurableResource):
    """Which experiment a run of the science group is: set it in the run's config."""

    task: str | None = Field(None, description="A task of science/tasks/ (default: the only one)")
    snapshot: str = Field(description="Snapshot name (dataops snapshot list)")
    model: str = Field(description="A model of science/models/")
    # A Map(str, Any) in run config: each value keeps its YAML/JSON type, checked against the default's.
    params: dict[str, Any] = Field(
        default={}, description="Overrides of the model's default parameters, e.g. {learning_rate: 0.1}"
    )
    seed: int = Field(2013, description="Seeds every random choice of the model")
    test_days: int | None = Field(
        None, ge=1, description="The snapshot's last N days held out (default: the task's)"
    )


@dataclass
class Stage:
    """What one step hands the next: the task, the rows so far, the run's identity and each step's time."""

    task: Task
    snapshot: dict
    frame: "pd.DataFrame"
    timings: dict = field(default_factory=dict)

    def then(self, step: str, started: float, frame: "pd.DataFrame | None" = None) -> "Stage":
        timings = self.timings | {step: round(time.perf_counter() - started, 3)}
        return Stage(self.task, self.snapshot, self.frame if frame is None else frame, timings)


@dataclass
class Trained:
    stage: Stage
    params: dict
    seed: int
    fitted: Fitted


@dataclass
class Scored:
    stage: Stage  # its frame: the predictions
    params: dict
    seed: int
    model: dict  # name, file, sha256
    stored: dict  # where the predictions are in cold storage: path, sha256, rows


@contextlib.contextmanager
def _as_failure():
    """A task, snapshot, model or parameters the experiment cannot use fail the step with a one-line reason."""
    try:
        yield
    except (SnapshotError, ModelError, TaskFrameError, InvalidConfig) as error:
        raise dg.Failure(str(error), allow_retries=False) from None


def science_key(name: str) -> dg.AssetKey:
    return dg.AssetKey([SCIENCE, name])


def _relative(path) -> str:
    return str(path.relative_to(PROJECT_DIR)) if path.is_relative_to(PROJECT_DIR) else str(path)


def task_identity(task: Task) -> dict:
    """The task's name and the sha256 of its declaration and features query: an edit of either is
    another experiment."""
    content = (task.directory / f"{task.name}.yaml").read_bytes() + b"\0" + task.sql_path.read_bytes()
    return {
        "name": task.name,
        "kind": task.kind,
        "metric": task.metric,
        "sha256": hashlib.sha256(content).hexdigest(),
    }


@dg.asset(
    key=science_key("features"), group_name=SCIENCE, io_manager_key=SCIENCE_IO, kinds={"duckdb", "pandas"}
)
def features(experiment: Experiment, cold_storage: ColdStorage) -> dg.Output:
    """The task's features query over the snapshot's datasets: one row per example."""
    started = time.perf_counter()
    with _as_failure():
        task = load_task(experiment.task)
        snapshot = load_snapshot(cold_storage, experiment.snapshot)
        frame = build_features(cold_storage, snapshot, task)
    stage = Stage(task, {"name": snapshot.name, "id": snapshot.id}, frame).then("features", started)
    return dg.Output(
        stage,
        metadata={
            "dagster/row_count": len(frame),
            "task": task.name,
            "snapshot": snapshot.name,
            "snapshot_id": snapshot.id,
            "rows_with_answer": int(frame[task.target].notna().sum()),
            "preview": markdown_table(frame.head(PREVIEW_ROWS).to_dict("records")),
        },
    )


@dg.asset(key=science_key("split"), group_name=SCIENCE, io_manager_key=SCIENCE_IO, kinds={"pandas"})
def split(experiment: Experiment, features: Stage) -> dg.Output:
    """Train on the first days, test on the last (by date, never by random rows)."""
    started = time.perf_counter()
    date = features.task.date_column
    with _as_failure():
        frame = split_by_date(features.frame, features.task, experiment.test_days)
    counts = frame.groupby("split")[date].agg(["count", "min", "max"])
    return dg.Output(
        features.then("split", started, frame),
        metadata={
            "train_rows": int(counts.loc["train", "count"]),
            "test_rows": int(counts.loc["test", "count"]),
            "train_days": f"{counts.loc['train', 'min']:%Y-%m-%d} .. {counts.loc['train', 'max']:%Y-%m-%d}",
            "test_days": f"{counts.loc['test', 'min']:%Y-%m-%d} .. {counts.loc['test', 'max']:%Y-%m-%d}",
        },
    )


@dg.asset(key=science_key("model"), group_name=SCIENCE, io_manager_key=SCIENCE_IO, kinds={"scikitlearn"})
def model(experiment: Experiment, split: Stage) -> dg.Output:
    """The model trained on the training days."""
    started = time.perf_counter()
    task = split.task
    with _as_failure():
        model_file = load_model_file(experiment.model)
        params = model_file.resolve(experiment.params)
        fitted = train(model_file, params, split.frame, task, experiment.seed)
    stage = split.then("train", started)
    test_days = experiment.test_days or task.test_days
    recorded = params | {"test_days": test_days}
    return dg.Output(
        Trained(stage, recorded, experiment.seed, fitted),
        metadata={
            "model": model_file.name,
            "model_sha256": model_file.sha256,
            "params": dg.MetadataValue.json(recorded),
            "params_hash": fingerprint(recorded),
            "seed": experiment.seed,
            "train_seconds": stage.timings["train"],
        },
    )


@dg.asset(key=science_key("predictions"), group_name=SCIENCE, io_manager_key=SCIENCE_IO, kinds={"parquet"})
def predictions(cold_storage: ColdStorage, model: Trained) -> dg.Output:
    """A prediction for every example of the snapshot, stored content-addressed beside the ledger."""
    started = time.perf_counter()
    task, frame, fitted = model.stage.task, model.stage.frame, model.fitted
    scored = frame[[*task.served_columns, "split", task.target]].assign(
        model=fitted.model_file.name,
        snapshot_id=model.stage.snapshot["id"],
        predicted=fitted.predict(frame),
    )
    stored = ledger.write_predictions(
        cold_storage, model.stage.snapshot["id"], fitted.model_file.name, scored
    )
    stage = model.stage.then("predict", started, scored)
    identity = {
        "name": fitted.model_file.name,
        "file": _relative(fitted.model_file.path),
        "sha256": fitted.model_file.sha256,
    }
    return dg.Output(
        Scored(stage, model.params, model.seed, identity, stored),
        metadata={
            "dagster/row_count": len(scored),
            "path": dg.MetadataValue.path(cold_storage.uri(stored["path"])),
            "sha256": stored["sha256"],
            "preview": markdown_table(scored.head(PREVIEW_ROWS).to_dict("records")),
        },
    )


@dg.asset(key=science_key("evaluation"), group_name=SCIENCE, io_manager_key=SCIENCE_IO, kinds={"scikitlearn"})
def evaluation(
    context: dg.AssetExecutionContext, cold_storage: ColdStorage, predictions: Scored
) -> dg.MaterializeResult:
    """Metrics on the test days, recorded with everything needed to reproduce them in the ledger."""
    started = time.perf_counter()
    task, scored = predictions.stage.task, predictions.stage.frame
    test = judged_rows(scored, task)
    scores = metrics(task, actual_values(test, task), test["predicted"].to_numpy())
    timings = predictions.stage.then("evaluate", started).timings
    snapshot_id = predictions.stage.snapshot["id"]
    identity = task_identity(task)
    record = {
        "run_id": context.run_id,
        "experiment_key": ledger.experiment_key(
            snapshot_id,
            identity,
            {k: predictions.model[k] for k in ("name", "sha256")},  # the content, wherever the file is
            predictions.params,
            predictions.seed,
        ),
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(),
        "task": identity,
        "snapshot": predictions.stage.snapshot,
        "code": ledger.code_version(),
        "model": predictions.model["name"],
        "model_file": predictions.model,
        "params": predictions.params,
        "params_hash": fingerprint(predictions.params),
        "variant_hash": ledger.variant_hash(predictions.params, predictions.model["sha256"]),
        "seed": predictions.seed,
        "libraries": ledger.library_versions(),
        "split": {
            "train_rows": int((scored["split"] == "train").sum()),
            "test_rows": int((scored["split"] == "test").sum()),
            "first_test_day": f"{scored.loc[scored['split'] == 'test', task.date_column].min():%Y-%m-%d}",
        },
        "gate_metric": task.metric,
        "metrics": scores,
        "timings_s": timings,
        "predictions": predictions.stored,
    }
    key = ledger.append(cold_storage, record)
    return dg.MaterializeResult(
        metadata={name: dg.MetadataValue.float(value) for name, value in scores.items()}
        | {
            "task": task.name,
            "model": predictions.model["name"],
            "model_sha256": predictions.model["sha256"],
            "snapshot_id": snapshot_id,
            "experiment_key": record["experiment_key"],
            "ledger_record": key,
            "git_sha": str(record["code"]["git_sha"]),
            "timings_s": dg.MetadataValue.json(timings),
            "record": dg.MetadataValue.md(f"```json\n{json.dumps(record, indent=2, default=str)}\n```"),
        }
    )


SCIENCE_ASSETS = [features, split, model, predictions, evaluation]
# The steps hand each other their values in memory, inside one process: two experiments running at
# once can never read each other's intermediate frames, and nothing but the ledger is kept.
SCIENCE_RESOURCES = {"experiment": Experiment.configure_at_launch(), SCIENCE_IO: dg.mem_io_manager}
science_experiment = dg.define_asset_job(
    SCIENCE_JOB,
    selection=dg.AssetSelection.groups(SCIENCE),
    executor_def=dg.in_process_executor,
    description="One experiment: a task, a snapshot and a model (set them in the `experiment` resource's config).",
)
