"""The champion in production: the serving group scores each new day with the promoted model.

Where the two tracks meet. A promotion publishes the champion's predictions for its snapshot's days;
this asset keeps `flight_delay_predictions` current for every day the pipeline lands afterwards,
with the latest champion (on any snapshot), from the day's current raw files. No champion yet:
nothing is published, and the metadata says so.
"""

import datetime as dt

import dagster as dg

from dataops_assets.integrity import fingerprint
from dataops_assets.partitions import partition_keys
from dataops_assets.pillars.metadata import markdown_table
from dataops_assets.pillars.serving.assets import hot_table_policy
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.resources.hot_store import HotStore
from dataops_assets.science import ledger
from dataops_assets.science.features import build_features
from dataops_assets.science.promotion import production_champion, publish_predictions
from dataops_assets.science.snapshots import Snapshot, SnapshotError, pin
from dataops_assets.served import PREDICTIONS

SCORED_DATASETS = ["flights", "planes", "weather"]  # what the features read
SERVING_SPLIT = "serving"  # the `split` of a day the model scored after it was promoted


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
        try:
            # The day's current files, pinned exactly as a snapshot would pin them.
            content = pin(cold_storage, SCORED_DATASETS, days[0], days[-1])
        except SnapshotError as error:
            raise dg.Failure(str(error)) from None
        current = Snapshot("current", fingerprint(content), dt.datetime.now(dt.UTC).isoformat(), content)
        frame = build_features(cold_storage, current)
        # The fitted model the champion's own run stored: exactly the promoted variant's parameters.
        fitted = ledger.read_model(cold_storage, champion["model_artifact"])
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
                "mean_predicted": float(scored["predicted"].mean()),
                "preview": markdown_table(
                    scored[["flight_date", "carrier", "flight", "origin", "dest", "predicted"]]
                    .head(5)
                    .to_dict("records")
                ),
            }
        )

    return champion_predictions
