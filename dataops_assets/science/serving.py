"""Each task's champion in production: the serving group scores each new day with the promoted model.

Where the two tracks meet. A promotion publishes the champion's predictions for its snapshot's days;
one asset per task that declares `serve: {table: …}` keeps that hot table current for every day the
pipeline lands afterwards, with the task's latest champion (on any snapshot), from the day's current
files. No champion yet: nothing is published, and the metadata says so.

The champion is fitted again, once per run, from what its ledger record says reproduces it: the
pinned snapshot (every file checked against its sha256), the model's file (its sha256 as recorded),
its parameters and seed — all data, nothing executable read from storage. Before it scores, its
predictions on the snapshot must be those the ledger recorded for the promoted run; if anything that
decides them changed since, they are not, and the asset fails saying to run and promote it again.
"""

import datetime as dt
import time

import dagster as dg

from dataops_assets import layout
from dataops_assets.curated import curated_models
from dataops_assets.integrity import fingerprint
from dataops_assets.layout import BadManifest
from dataops_assets.partitions import partition_keys
from dataops_assets.pillars.metadata import markdown_table
from dataops_assets.pillars.serving.assets import hot_table_policy
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.resources.hot_store import HotStore
from dataops_assets.science import ledger
from dataops_assets.science.features import TaskFrameError, build_features, split_by_date
from dataops_assets.science.models import ModelError, load_model_file, train
from dataops_assets.science.promotion import production_champion, publish_predictions
from dataops_assets.science.snapshots import Snapshot, SnapshotError, load_snapshot, pin
from dataops_assets.sources.catalog import load_sources
from dataops_assets.task_declarations import Task, load_tasks
from dataops_assets.yaml_config import InvalidConfig

SERVING_SPLIT = "serving"  # the `split` of a day the model scored after it was promoted
# How closely the re-fit must reproduce the promoted run's predictions: equal, up to the last bits a
# different summation order may change.
SAME_PREDICTION = 1e-12


class ChampionUnusable(ValueError):
    """The promoted champion cannot be fitted again as it was promoted; the message says why and what to do."""


def refit_champion(cold_storage: ColdStorage, task: Task, champion: dict):
    """The promoted model, fitted again exactly as its experiment run fitted it, and shown to be it."""
    import numpy as np

    if not isinstance(champion, dict):
        raise ChampionUnusable("the latest promotion record is not one this platform wrote")
    run = ledger.read_record(cold_storage, champion.get("ledger_key"))
    named = (champion.get("model"), champion.get("variant_hash"))
    if (run.get("model"), run.get("variant_hash")) != named:
        raise ChampionUnusable(
            f"the promotion names {named[0]}@{str(named[1])[:8]} but {run['ledger_key']} is a run of "
            f"{run.get('model')}@{str(run.get('variant_hash'))[:8]}"
        )
    if not (
        isinstance(run.get("snapshot"), dict)
        and isinstance(run.get("params"), dict)
        and isinstance(run.get("model_file"), dict)
        and type(run.get("seed")) is int
    ):
        raise ChampionUnusable(f"{run['ledger_key']} names no snapshot, model file, parameters and seed")
    snapshot = load_snapshot(cold_storage, str(run["snapshot"].get("name")))
    if snapshot.id != run["snapshot"].get("id") or fingerprint(snapshot.content) != snapshot.id:
        raise ChampionUnusable(
            f"snapshot {snapshot.name} no longer holds what {run['model']} was trained on "
            f"(id {snapshot.id[:12]}): run `dataops snapshot verify {snapshot.name}`"
        )
    label = champion.get("label", run["model"])
    again = f"run `dataops experiment run --task {task.name} --snapshot {snapshot.name} --model {run['model']}` again and promote it"
    model_file = load_model_file(run["model"])
    if model_file.sha256 != run["model_file"].get("sha256"):
        raise ChampionUnusable(f"{model_file.path.name} changed since {label} was promoted: {again}")
    params = dict(run["params"])
    test_days = params.pop("test_days", None)
    frame = split_by_date(build_features(cold_storage, snapshot, task), task, test_days)
    fitted = train(model_file, params, frame, task, run["seed"])
    recorded = ledger.read_predictions(cold_storage, run)["predicted"].to_numpy()
    predicted = fitted.predict(frame)
    if len(predicted) != len(recorded) or not np.allclose(predicted, recorded, rtol=0, atol=SAME_PREDICTION):
        raise ChampionUnusable(
            f"re-fitted on snapshot {snapshot.name}, {label} no longer predicts what was promoted "
            f"(task {task.name} or the libraries changed since): {again}"
        )
    return fitted


def champion_predictions_key(task: Task) -> dg.AssetKey:
    return dg.AssetKey(["serving", task.serve.table])


def _input_key(dataset: str) -> dg.AssetKey:
    """The asset a task's dataset is: a curated dbt model's export (curated/) or a raw dataset."""
    return dg.AssetKey([layout.CURATED if dataset in curated_models() else layout.RAW, dataset])


def build_champion_predictions_asset(
    task: Task, partitions_def: dg.PartitionsDefinition, hot_store_kind: str = "sqlite"
) -> dg.AssetsDefinition:
    deps = [_input_key(name) for name in task.datasets]
    # A dimension (raw/planes) is re-published by every daily run: not new data for the days scored before.
    daily = {source.name: source.is_daily for source in load_sources()}
    dimensions = tuple(k for k in deps if k.path[0] == layout.RAW and not daily.get(k.path[1], True))

    @dg.asset(
        name=task.serve.table,
        key_prefix="serving",
        deps=deps,
        description=f"Task {task.name}'s prediction for every example of the day, by its promoted champion "
        f"(`dataops experiment promote --task {task.name}`), served from the hot store as `{task.serve.table}`.",
        **hot_table_policy(partitions_def, dimensions),
        kinds={"scikitlearn", hot_store_kind},
    )
    def champion_predictions(
        context: dg.AssetExecutionContext, cold_storage: ColdStorage, hot_store: HotStore
    ) -> dg.MaterializeResult:
        days = [k for k in partition_keys(context) if k]
        champion = production_champion(cold_storage, task)
        if champion is None:
            return dg.MaterializeResult(
                metadata={"dagster/row_count": 0, "champion": "none yet: nothing to publish"}
            )
        started = time.perf_counter()
        try:
            fitted = refit_champion(cold_storage, task, champion)
        except (
            ChampionUnusable,
            BadManifest,
            ModelError,
            SnapshotError,
            TaskFrameError,
            InvalidConfig,
        ) as error:
            raise dg.Failure(f"the champion cannot score: {error}", allow_retries=False) from None
        refit_seconds = time.perf_counter() - started
        try:
            # The day's current files, pinned exactly as a snapshot would pin them.
            content = pin(cold_storage, list(task.datasets), days[0], days[-1])
            current = Snapshot("current", fingerprint(content), dt.datetime.now(dt.UTC).isoformat(), content)
            frame = build_features(cold_storage, current, task)
        except (SnapshotError, TaskFrameError) as error:
            raise dg.Failure(str(error), allow_retries=False) from None
        scored = frame.assign(
            model=champion["model"],
            snapshot_id=champion["snapshot"]["id"],
            predicted=fitted.predict(frame),
            split=SERVING_SPLIT,
        )
        published = publish_predictions(hot_store, task, scored)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": published["rows"],
                "task": task.name,
                "champion": champion.get("label", champion["model"]),
                "params": dg.MetadataValue.json(champion.get("params", {})),
                "variant_hash": str(champion.get("variant_hash")),
                "trained_on_snapshot": champion["snapshot"]["name"],
                "promoted_at": champion["promoted_at"],
                "refit_seconds": round(refit_seconds, 2),
                "mean_predicted": float(scored["predicted"].mean()),
                "preview": markdown_table(
                    scored[[*task.served_columns, "predicted"]].head(5).to_dict("records")
                ),
            }
        )

    return champion_predictions


def build_champion_predictions_assets(
    partitions_def: dg.PartitionsDefinition, hot_store_kind: str = "sqlite"
) -> list[dg.AssetsDefinition]:
    """One daily scoring asset per task that declares a hot table."""
    return [
        build_champion_predictions_asset(task, partitions_def, hot_store_kind)
        for task in load_tasks()
        if task.serve is not None
    ]
