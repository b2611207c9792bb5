"""Champion/challenger: compare every variant on a snapshot, and promote one only when the gate says so.

A variant is a model with one set of parameters (the ledger's params hash): two runs of a model with
different parameters are two candidates. Each is labelled by its model's name while the model has one
variant on the snapshot, else by `model@<params hash prefix>`; compare shows these labels, and promote
takes them or `model@` with any prefix of the hash that names one variant.

The gate: the challenger's Brier score minus the champion's, on the same test rows, with a paired
bootstrap 95% confidence interval that lies wholly below zero. With no champion yet on the snapshot,
the challenger is held to the no-skill reference (climatology: the training days' late rate): a
first champion must show it knows something. A promotion publishes the champion's predictions into
the hot store (`flight_delay_predictions`, replacing the snapshot's days) and is recorded, append-only,
beside the ledger:

    promotions/<snapshot id>/<promoted at>-<model>.json
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataops_assets.integrity import canonical_json
from dataops_assets.resources.cold_storage import ColdStorage
from dataops_assets.resources.hot_store import HotStore
from dataops_assets.science import ledger
from dataops_assets.science.evaluation import (
    BOOTSTRAP_SAMPLES,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    GATE_METRIC,
    Difference,
    judged_rows,
    paired_bootstrap,
)
from dataops_assets.science.features import KEY, TARGET
from dataops_assets.science.models import REFERENCE_MODEL, make_model
from dataops_assets.science.snapshots import Snapshot
from dataops_assets.served import PREDICTION_COLUMNS, PREDICTIONS

if TYPE_CHECKING:  # pandas is imported where used: the code location loads without it
    import pandas as pd

PROMOTIONS = "promotions"


class PromotionRefused(RuntimeError):
    """The gate said no; the message says why."""


class OtherTestRows(PromotionRefused):
    """The two runs were scored on different test rows, so the gate cannot compare them."""


@dataclass(frozen=True)
class Standing:
    """One variant's latest run on a snapshot, and how it compares with the champion (or the reference)."""

    label: str
    record: dict
    versus: str
    difference: Difference | None  # None for the champion itself, and when not comparable
    # Why it cannot be compared with the champion: its test rows differ (another test_fraction).
    not_comparable: str | None = None


def champion(cold_storage: ColdStorage, snapshot_id: str) -> dict | None:
    keys = [k for k in cold_storage.list_keys(f"{PROMOTIONS}/{snapshot_id}/") if k.endswith(".json")]
    return json.loads(cold_storage.get_bytes(keys[-1])) if keys else None


def production_champion(cold_storage: ColdStorage) -> dict | None:
    """The latest promotion on any snapshot: the model the serving group scores new days with."""
    keys = [k for k in cold_storage.list_keys(f"{PROMOTIONS}/") if k.endswith(".json")]
    if not keys:
        return None
    return json.loads(cold_storage.get_bytes(max(keys, key=lambda k: k.rsplit("/", 1)[-1])))


def candidates(cold_storage: ColdStorage, snapshot_id: str) -> dict[str, dict]:
    """Each variant's latest run on the snapshot, by its label."""
    latest = ledger.latest_by_variant(ledger.runs(cold_storage, snapshot_id))
    variants = Counter(model for model, _ in latest)
    return {
        model if variants[model] == 1 else ledger.variant_label(record): record
        for (model, _), record in latest.items()
    }


def label_of(table: dict[str, dict], record: dict) -> str:
    """The label of `record`'s variant among the snapshot's candidates."""
    return next(
        (label for label, r in table.items() if ledger.variant(r) == ledger.variant(record)), record["model"]
    )


def find_candidate(table: dict[str, dict], snapshot: Snapshot, name: str) -> tuple[str, dict]:
    """The one candidate `name` (a model, or model@<params hash prefix>) names, and its label."""
    model, _, prefix = name.partition("@")
    found = {
        label: r for label, r in table.items() if r["model"] == model and r["params_hash"].startswith(prefix)
    }
    if len(found) == 1:
        return next(iter(found.items()))
    if found:
        raise PromotionRefused(
            f"{name} names {len(found)} variants on snapshot {snapshot.name}: {', '.join(found)}; "
            "promote one by its label"
        )
    variants = [ledger.variant_label(r) for r in table.values() if r["model"] == model]
    if variants:
        raise PromotionRefused(
            f"no variant {name} on snapshot {snapshot.name}; variants of {model}: {', '.join(variants)}"
        )
    raise PromotionRefused(
        f"no run of {model} on snapshot {snapshot.name}: "
        f"run `dataops experiment run --snapshot {snapshot.name} --model {model}` first"
    )


def difference(cold_storage: ColdStorage, challenger: dict, reference: dict | None) -> Difference:
    """The challenger's gate metric minus the reference run's (the no-skill reference when None)."""
    scored = ledger.read_predictions(cold_storage, challenger)
    test = judged_rows(scored)
    if reference is None:
        no_skill = make_model(REFERENCE_MODEL)
        no_skill.fit(scored[scored["split"] == "train"], challenger["seed"])
        baseline = no_skill.predict(test)
    else:
        other = judged_rows(ledger.read_predictions(cold_storage, reference))
        if not test[KEY].reset_index(drop=True).equals(other[KEY].reset_index(drop=True)):
            raise OtherTestRows(
                f"{challenger['model']} and {reference['model']} were not scored on the same test rows "
                "(different test_fraction?): re-run them with the same settings"
            )
        baseline = other["predicted"].to_numpy()
    return paired_bootstrap(test[TARGET].to_numpy(dtype=bool), test["predicted"].to_numpy(), baseline)


def standings(cold_storage: ColdStorage, snapshot: Snapshot) -> tuple[dict | None, list[Standing]]:
    """The champion's promotion (or None), with its label among the candidates now, and every
    variant's latest run against it."""
    crowned = champion(cold_storage, snapshot.id)
    reference = ledger.read_record(cold_storage, crowned["ledger_key"]) if crowned else None
    table = candidates(cold_storage, snapshot.id)
    if crowned:
        crowned |= {"label": label_of(table, reference)}  # a variant run since may have changed it
    versus = f"champion {crowned['label']}" if crowned else f"{REFERENCE_MODEL} (no champion yet)"
    return crowned, [
        _standing(cold_storage, label, record, reference, versus) for label, record in table.items()
    ]


def _standing(
    cold_storage: ColdStorage, label: str, record: dict, reference: dict | None, versus: str
) -> Standing:
    if reference is not None and record["ledger_key"] == reference["ledger_key"]:
        return Standing(label, record, versus, None)
    try:
        return Standing(label, record, versus, difference(cold_storage, record, reference))
    except OtherTestRows as error:
        # One variant at another test_fraction must not hide every other row: the ledger keeps it for good.
        return Standing(label, record, versus, None, not_comparable=str(error))


def promote(cold_storage: ColdStorage, hot_store: HotStore, snapshot: Snapshot, name: str) -> dict:
    """Make the latest run of the variant `name` names its snapshot's champion, if the gate allows;
    the promotion record."""
    table = candidates(cold_storage, snapshot.id)
    label, latest = find_candidate(table, snapshot, name)
    crowned = champion(cold_storage, snapshot.id)
    if crowned and crowned["ledger_key"] == latest["ledger_key"]:
        raise PromotionRefused(f"{label} is already the champion on snapshot {snapshot.name}")
    reference = ledger.read_record(cold_storage, crowned["ledger_key"]) if crowned else None
    versus = label_of(table, reference) if reference else f"the no-skill reference ({REFERENCE_MODEL})"
    diff = difference(cold_storage, latest, reference)
    if not diff.significantly_better:
        raise PromotionRefused(
            f"{label} is not significantly better than {versus} on snapshot {snapshot.name}: "
            f"{GATE_METRIC} difference {diff.describe()} ({CONFIDENCE:.0%} CI, {diff.rows:,} test flights) "
            "does not lie below zero"
        )

    published = publish_predictions(hot_store, ledger.read_predictions(cold_storage, latest))
    now = dt.datetime.now(dt.UTC)
    promotion = {
        "snapshot": latest["snapshot"],
        "model": latest["model"],
        # As compare showed it when promoted: the model's name while it had one variant on the snapshot.
        "label": label,
        "params": latest["params"],
        "params_hash": latest["params_hash"],
        "ledger_key": latest["ledger_key"],
        "run_id": latest["run_id"],
        "experiment_key": latest["experiment_key"],
        # The no-skill reference has no run of its own: it is fitted from the challenger's training rows.
        "versus": {
            "model": reference["model"] if reference else REFERENCE_MODEL,
            "label": label_of(table, reference) if reference else REFERENCE_MODEL,
            "params_hash": reference["params_hash"] if reference else None,
            "ledger_key": reference["ledger_key"] if reference else None,
        },
        "metric": GATE_METRIC,
        "difference": {
            "mean": diff.mean,
            "low": diff.low,
            "high": diff.high,
            "rows": diff.rows,
            "confidence": CONFIDENCE,
            "bootstrap_samples": BOOTSTRAP_SAMPLES,
            "bootstrap_seed": BOOTSTRAP_SEED,
        },
        "published": published,
        "promoted_at": now.isoformat(),
    }
    key = f"{PROMOTIONS}/{snapshot.id}/{now:%Y%m%dT%H%M%S%f}-{latest['model']}.json"
    cold_storage.put_bytes(key, canonical_json(promotion))
    return promotion


def publish_predictions(hot_store: HotStore, scored: pd.DataFrame) -> dict:
    """The champion's predictions into the hot store, replacing its days in one transaction."""
    import pandas as pd

    frame = scored.assign(flight_date=pd.to_datetime(scored["flight_date"]).dt.date)
    frame = frame[[name for name, _ in PREDICTION_COLUMNS]].astype(object)
    days = sorted({d.isoformat() for d in frame["flight_date"]})
    rows = hot_store.publish(
        PREDICTIONS.name,
        PREDICTION_COLUMNS,
        list(frame.itertuples(index=False, name=None)),
        PREDICTIONS.date_column,
        days,
    )
    return {"table": PREDICTIONS.name, "rows": rows, "first_day": days[0], "last_day": days[-1]}
