"""The `science` group: an experiment on one snapshot with one model, as five assets.

features -> split -> model -> predictions -> evaluation. The experiment resource (snapshot, model,
parameter overrides, seed, test fraction) is set in the run's config, so the same assets serve every
experiment; the evaluation records the run in the ledger and emits its metrics as numeric metadata,
which the Dagster UI plots across runs. Not part of the daily job: experiments are run on purpose.
"""

import contextlib
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from dataops_assets.integrity import fingerprint
from dataops_assets.pillars.metadata import markdown_table
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.science import ledger
from dataops_assets.science.evaluation import GATE_METRIC, judged_rows, metrics
from dataops_assets.science.features import DEFAULT_TEST_FRACTION, KEY, TARGET, build_features, split_by_date
from dataops_assets.science.models import MODELS, ModelError, train
from dataops_assets.science.snapshots import SnapshotError, load_snapshot

if TYPE_CHECKING:  # pandas is imported where used: the code location loads without it
    import pandas as pd

SCIENCE = "science"
SCIENCE_JOB = "science_experiment"
SCIENCE_IO = "science_io_manager"
PREVIEW_COLUMNS = [*KEY, "dest", "dep_hour", "temp", "visib", "plane_year", TARGET]


class Experiment(dg.ConfigurableResource):
    """Which experiment a run of the science group is: set it in the run's config."""

    snapshot: str = Field(description="Snapshot name (dataops snapshot list)")
    model: str = Field(description=f"One of: {', '.join(MODELS)}")
    # A Map(str, Any) in run config: each value keeps its YAML/JSON type, checked against the default's.
    params: dict[str, Any] = Field(
        default={}, description="Overrides of the model's default parameters, e.g. {learning_rate: 0.1}"
    )
    seed: int = Field(2013, description="Seeds every random choice of the model")
    test_fraction: float = Field(
        DEFAULT_TEST_FRACTION, gt=0, lt=1, description="Share of the snapshot's last days held out"
    )


@dataclass
class Stage:
    """What one step hands the next: the rows so far, the run's identity and the time each step took."""

    snapshot: dict
    frame: "pd.DataFrame"
    timings: dict = field(default_factory=dict)

    def then(self, step: str, started: float, frame: "pd.DataFrame | None" = None) -> "Stage":
        timings = self.timings | {step: round(time.perf_counter() - started, 3)}
        return Stage(self.snapshot, self.frame if frame is None else frame, timings)


@dataclass
class Trained:
    stage: Stage
    name: str
    params: dict
    seed: int
    model: object


@dataclass
class Scored:
    stage: Stage  # its frame: the predictions
    name: str
    params: dict
    seed: int
    stored: dict  # where the predictions are in cold storage: path, sha256, rows


@contextlib.contextmanager
def _as_failure():
    """A snapshot, model or parameters the experiment cannot use fail the step with a one-line reason."""
    try:
        yield
    except (SnapshotError, ModelError) as error:
        raise dg.Failure(str(error), allow_retries=False) from None


def science_key(name: str) -> dg.AssetKey:
    return dg.AssetKey([SCIENCE, name])


@dg.asset(
    key=science_key("features"), group_name=SCIENCE, io_manager_key=SCIENCE_IO, kinds={"duckdb", "pandas"}
)
def features(experiment: Experiment, cold_storage: ColdStorage) -> dg.Output:
    """Each flight of the snapshot with the weather at its origin in its departure hour and its plane."""
    started = time.perf_counter()
    with _as_failure():
        snapshot = load_snapshot(cold_storage, experiment.snapshot)
        frame = build_features(cold_storage, snapshot)
    stage = Stage({"name": snapshot.name, "id": snapshot.id}, frame).then("features", started)
    return dg.Output(
        stage,
        metadata={
            "dagster/row_count": len(frame),
            "snapshot": snapshot.name,
            "snapshot_id": snapshot.id,
            "rows_with_weather": int(frame["temp"].notna().sum()),
            "rows_with_plane": int(frame["plane_year"].notna().sum()),
            "rows_with_outcome": int(frame[TARGET].notna().sum()),
            "preview": markdown_table(frame[PREVIEW_COLUMNS].head(5).to_dict("records")),
        },
    )


@dg.asset(key=science_key("split"), group_name=SCIENCE, io_manager_key=SCIENCE_IO, kinds={"pandas"})
def split(experiment: Experiment, features: Stage) -> dg.Output:
    """Train on the first days, test on the last (by date, never by random rows)."""
    started = time.perf_counter()
    with _as_failure():
        frame = split_by_date(features.frame, experiment.test_fraction)
    counts = frame.groupby("split")["flight_date"].agg(["count", "min", "max"])
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
    with _as_failure():
        trained = train(experiment.model, experiment.params, split.frame, experiment.seed)
    stage = split.then("train", started)
    params = trained.params | {"test_fraction": experiment.test_fraction}
    return dg.Output(
        Trained(stage, experiment.model, params, experiment.seed, trained),
        metadata={
            "model": experiment.model,
            "params": dg.MetadataValue.json(params),
            "params_hash": fingerprint(params),
            "seed": experiment.seed,
            "train_seconds": stage.timings["train"],
        },
    )


@dg.asset(key=science_key("predictions"), group_name=SCIENCE, io_manager_key=SCIENCE_IO, kinds={"parquet"})
def predictions(cold_storage: ColdStorage, model: Trained) -> dg.Output:
    """P(late) for every flight of the snapshot, stored content-addressed beside the ledger."""
    started = time.perf_counter()
    frame = model.stage.frame
    scored = frame[[*KEY, "dest", "split"]].assign(
        model=model.name,
        snapshot_id=model.stage.snapshot["id"],
        predicted=model.model.predict(frame),
        **{TARGET: frame[TARGET]},
    )
    stored = ledger.write_predictions(cold_storage, model.stage.snapshot["id"], model.name, scored)
    stage = model.stage.then("predict", started, scored)
    return dg.Output(
        Scored(stage, model.name, model.params, model.seed, stored),
        metadata={
            "dagster/row_count": len(scored),
            "path": dg.MetadataValue.path(cold_storage.uri(stored["path"])),
            "sha256": stored["sha256"],
            "preview": markdown_table(scored.head(5).to_dict("records")),
        },
    )


@dg.asset(key=science_key("evaluation"), group_name=SCIENCE, io_manager_key=SCIENCE_IO, kinds={"scikitlearn"})
def evaluation(
    context: dg.AssetExecutionContext, cold_storage: ColdStorage, predictions: Scored
) -> dg.MaterializeResult:
    """Metrics on the test days, recorded with everything needed to reproduce them in the ledger."""
    started = time.perf_counter()
    scored = predictions.stage.frame
    test = judged_rows(scored)
    scores = metrics(test[TARGET].to_numpy(dtype=bool), test["predicted"].to_numpy())
    timings = predictions.stage.then("evaluate", started).timings
    record = {
        "run_id": context.run_id,
        "experiment_key": ledger.experiment_key(
            predictions.stage.snapshot["id"], predictions.name, predictions.params, predictions.seed
        ),
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(),
        "snapshot": predictions.stage.snapshot,
        "code": ledger.code_version(),
        "model": predictions.name,
        "params": predictions.params,
        "params_hash": fingerprint(predictions.params),
        "seed": predictions.seed,
        "libraries": ledger.library_versions(),
        "split": {
            "train_rows": int((scored["split"] == "train").sum()),
            "test_rows": int((scored["split"] == "test").sum()),
            "first_test_day": f"{scored.loc[scored['split'] == 'test', 'flight_date'].min():%Y-%m-%d}",
        },
        "gate_metric": GATE_METRIC,
        "metrics": scores,
        "timings_s": timings,
        "predictions": predictions.stored,
    }
    key = ledger.append(cold_storage, record)
    return dg.MaterializeResult(
        metadata={name: dg.MetadataValue.float(value) for name, value in scores.items()}
        | {
            "model": predictions.name,
            "snapshot_id": predictions.stage.snapshot["id"],
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
    description="One experiment: a snapshot and a model (set them in the `experiment` resource's config).",
)
