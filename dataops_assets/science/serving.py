"""The champion in production: the serving group scores each new day with the promoted model.

Where the two tracks meet. A promotion publishes the champion's predictions for its snapshot's days;
this asset keeps `flight_delay_predictions` current for every day the pipeline lands afterwards,
with the latest champion (on any snapshot), from the day's current raw files. No champion yet:
nothing is published, and the metadata says so.

The champion is fitted again, once per run, from what its ledger record says reproduces it: the
pinned snapshot (every file checked against its sha256), the model's code (from Git), its parameters
and seed — all data, nothing executable read from storage. Before it scores, its predictions on the
snapshot must be those the ledger recorded for the promoted run; if the model's code changed since,
they are not, and the asset fails saying to run and promote it again.
"""

import datetime as dt
import time

import dagster as dg

from dataops_assets.integrity import fingerprint
from dataops_assets.layout import BadManifest
from dataops_assets.partitions import partition_keys
from dataops_assets.pillars.metadata import markdown_table
from dataops_assets.pillars.serving.assets import hot_table_policy
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.resources.hot_store import HotStore
from dataops_assets.science import ledger
from dataops_assets.science.features import DEFAULT_TEST_FRACTION, build_features, split_by_date
from dataops_assets.science.models import ModelError, train
from dataops_assets.science.promotion import production_champion, publish_predictions
from dataops_assets.science.snapshots import Snapshot, SnapshotError, load_snapshot, pin
from dataops_assets.served import PREDICTIONS

SCORED_DATASETS = ["flights", "planes", "weather"]  # what the features read
SERVING_SPLIT = "serving"  # the `split` of a day the model scored after it was promoted
# How closely the re-fit must reproduce the promoted run's predictions (probabilities): equal, up to
# the last bits a different summation order may change.
SAME_PREDICTION = 1e-12


class ChampionUnusable(ValueError):
    """The promoted champion cannot be fitted again as it was promoted; the message says why and what to do."""


def refit_champion(cold_storage: ColdStorage, champion: dict):
    """The promoted model, fitted again exactly as its experiment run fitted it, and shown to be it."""
    import numpy as np

    if not isinstance(champion, dict):
        raise ChampionUnusable("the latest promotion record is not one this platform wrote")
    run = ledger.read_record(cold_storage, champion.get("ledger_key"))
    named = (champion.get("model"), champion.get("params_hash"))
    if (run.get("model"), run.get("params_hash")) != named:
        raise ChampionUnusable(
            f"the promotion names {named[0]}@{str(named[1])[:8]} but {run['ledger_key']} is a run of "
            f"{run.get('model')}@{str(run.get('params_hash'))[:8]}"
        )
    if not (
        isinstance(run.get("snapshot"), dict)
        and isinstance(run.get("params", {}), dict)
        and type(run.get("seed")) is int
    ):
        raise ChampionUnusable(f"{run['ledger_key']} names no snapshot, parameters and seed")
    snapshot = load_snapshot(cold_storage, str(run["snapshot"].get("name")))
    if snapshot.id != run["snapshot"].get("id") or fingerprint(snapshot.content) != snapshot.id:
        raise ChampionUnusable(
            f"snapshot {snapshot.name} no longer holds what {run['model']} was trained on "
            f"(id {snapshot.id[:12]}): run `dataops snapshot verify {snapshot.name}`"
        )
    params = dict(run.get("params", {}))
    test_fraction = params.pop("test_fraction", DEFAULT_TEST_FRACTION)
    frame = split_by_date(build_features(cold_storage, snapshot), test_fraction)
    fitted = train(run["model"], params, frame, run["seed"])
    recorded = ledger.read_predictions(cold_storage, run)["predicted"].to_numpy()
    again = fitted.predict(frame)
    if len(again) != len(recorded) or not np.allclose(again, recorded, rtol=0, atol=SAME_PREDICTION):
        raise ChampionUnusable(
            f"re-fitted on snapshot {snapshot.name}, {champion.get('label', run['model'])} no longer predicts "
            "what was promoted (its model code changed since): run `dataops experiment run --snapshot "
            f"{snapshot.name} --model {run['model']}` again and promote it"
        )
    return fitted


def champion_predictions_key() -> dg.AssetKey:
    return dg.AssetKey(["serving", PREDICTIONS.name])


def build_champion_predictions_asset(
    partitions_def: dg.PartitionsDefinition, hot_store_kind: str = "sqlite"
) -> dg.AssetsDefinition:
    @dg.asset(
        key=champion_predictions_key(),
        deps=[dg.AssetKey(["raw", name]) for name in SCORED_DATASETS],
        description="P(arrives more than 15 minutes late) for every flight of the day, scored by the "
        "promoted champion model (`dataops experiment promote`) and served from the hot store as "
        f"`{PREDICTIONS.name}`.",
        **hot_table_policy(partitions_def),
        kinds={"scikitlearn", hot_store_kind},
    )
    def champion_predictions(
        context: dg.AssetExecutionContext, cold_storage: ColdStorage, hot_store: HotStore
    ) -> dg.MaterializeResult:
        days = [k for k in partition_keys(context) if k]
        champion = production_champion(cold_storage)
        if champion is None:
            return dg.MaterializeResult(
                metadata={"dagster/row_count": 0, "champion": "none yet: nothing to publish"}
            )
        started = time.perf_counter()
        try:
            fitted = refit_champion(cold_storage, champion)
        except (ChampionUnusable, BadManifest, ModelError, SnapshotError) as error:
            raise dg.Failure(f"the champion cannot score: {error}", allow_retries=False) from None
        refit_seconds = time.perf_counter() - started
        try:
            # The day's current files, pinned exactly as a snapshot would pin them.
            content = pin(cold_storage, SCORED_DATASETS, days[0], days[-1])
        except SnapshotError as error:
            raise dg.Failure(str(error), allow_retries=False) from None
        current = Snapshot("current", fingerprint(content), dt.datetime.now(dt.UTC).isoformat(), content)
        frame = build_features(cold_storage, current)
        scored = frame.assign(
            model=champion["model"],
            snapshot_id=champion["snapshot"]["id"],
            predicted=fitted.predict(frame),
            split=SERVING_SPLIT,
        )
        published = publish_predictions(hot_store, scored)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": published["rows"],
                "champion": champion.get("label", champion["model"]),
                # Promotions recorded before variants existed hold no parameters.
                "params": dg.MetadataValue.json(champion.get("params", {})),
                "params_hash": str(champion.get("params_hash")),
                "trained_on_snapshot": champion["snapshot"]["name"],
                "promoted_at": champion["promoted_at"],
                "refit_seconds": round(refit_seconds, 2),
                "mean_predicted": float(scored["predicted"].mean()),
                "preview": markdown_table(
                    scored[["flight_date", "carrier", "flight", "origin", "dest", "predicted"]]
                    .head(5)
                    .to_dict("records")
                ),
            }
        )

    return champion_predictions
