"""Champion/challenger per task: compare every variant on a snapshot, and promote one only when the
gate says so.

A variant is a model with one set of parameters and one content of its file (the ledger's variant
hash): two runs of a model with other parameters, or after an edit of its file, are two candidates.
Each is labelled by its model's name while the model has one variant on the snapshot, else by
`model@<variant hash prefix>`; compare shows these labels, and promote takes them or `model@` with
any prefix of the hash that names one variant.

The gate: the challenger's metric (the task's: lower is better) minus the champion's, on the same
test examples, with a paired bootstrap 95% confidence interval that lies wholly below zero. With no
champion yet, the challenger is held to the no-skill reference — the training days' mean answer
(for a classification, the base rate) for every example: a first champion must show it knows
something. A promotion publishes the champion's predictions into the task's hot table (`serve:`),
replacing the snapshot's days, and is recorded, append-only, beside the ledger:

    promotions/<task>/<snapshot id>/<promoted at>-<model>.json
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
    Difference,
    actual_values,
    judged_rows,
    paired_bootstrap,
)
from dataops_assets.science.snapshots import Snapshot
from dataops_assets.task_declarations import Task

if TYPE_CHECKING:  # pandas is imported where used: the code location loads without it
    import pandas as pd

PROMOTIONS = "promotions"
NO_SKILL = "no-skill reference"


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
    # Why it cannot be compared with the champion: its test rows differ (other test days).
    not_comparable: str | None = None


def _latest(cold_storage: ColdStorage, prefix: str) -> dict | None:
    keys = [k for k in cold_storage.list_keys(prefix) if k.endswith(".json")]
    if not keys:
        return None
    return json.loads(cold_storage.get_bytes(max(keys, key=lambda k: k.rsplit("/", 1)[-1])))


def champion(cold_storage: ColdStorage, task: Task, snapshot_id: str) -> dict | None:
    return _latest(cold_storage, f"{PROMOTIONS}/{task.name}/{snapshot_id}/")


def production_champion(cold_storage: ColdStorage, task: Task) -> dict | None:
    """The task's latest promotion on any snapshot: the model its daily scoring uses."""
    return _latest(cold_storage, f"{PROMOTIONS}/{task.name}/")


def candidates(cold_storage: ColdStorage, task: Task, snapshot_id: str) -> dict[str, dict]:
    """Each variant's latest run of the task on the snapshot, by its label."""
    latest = ledger.latest_by_variant(ledger.runs(cold_storage, snapshot_id, task.name))
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


def find_candidate(table: dict[str, dict], task: Task, snapshot: Snapshot, name: str) -> tuple[str, dict]:
    """The one candidate `name` (a model, or model@<variant hash prefix>) names, and its label."""
    model, _, prefix = name.partition("@")
    found = {
        label: r for label, r in table.items() if r["model"] == model and r["variant_hash"].startswith(prefix)
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
        f"no run of {model} for task {task.name} on snapshot {snapshot.name}: run `dataops experiment run "
        f"--task {task.name} --snapshot {snapshot.name} --model {model}` first"
    )


def difference(cold_storage: ColdStorage, task: Task, challenger: dict, reference: dict | None) -> Difference:
    """The challenger's gate metric minus the reference run's (the no-skill reference when None)."""
    import numpy as np

    scored = ledger.read_predictions(cold_storage, challenger)
    test = judged_rows(scored, task)
    actual = actual_values(test, task)
    if reference is None:
        trained_on = scored[(scored["split"] == "train") & scored[task.target].notna()]
        baseline = np.full(len(test), actual_values(trained_on, task).mean())
    else:
        other = judged_rows(ledger.read_predictions(cold_storage, reference), task)
        key = list(task.served_columns)
        if not test[key].reset_index(drop=True).equals(other[key].reset_index(drop=True)):
            raise OtherTestRows(
                f"{challenger['model']} and {reference['model']} were not scored on the same test rows "
                "(other test days?): re-run them with the same settings"
            )
        baseline = other["predicted"].to_numpy()
    return paired_bootstrap(actual, test["predicted"].to_numpy(), baseline, task.metric)


def standings(
    cold_storage: ColdStorage, task: Task, snapshot: Snapshot
) -> tuple[dict | None, list[Standing]]:
    """The champion's promotion (or None), with its label among the candidates now, and every
    variant's latest run against it."""
    crowned = champion(cold_storage, task, snapshot.id)
    reference = ledger.read_record(cold_storage, crowned["ledger_key"]) if crowned else None
    table = candidates(cold_storage, task, snapshot.id)
    if crowned:
        crowned |= {"label": label_of(table, reference)}  # a variant run since may have changed it
    versus = f"champion {crowned['label']}" if crowned else f"the {NO_SKILL} (no champion yet)"
    return crowned, [
        _standing(cold_storage, task, label, record, reference, versus) for label, record in table.items()
    ]


def _standing(
    cold_storage: ColdStorage, task: Task, label: str, record: dict, reference: dict | None, versus: str
) -> Standing:
    if reference is not None and record["ledger_key"] == reference["ledger_key"]:
        return Standing(label, record, versus, None)
    try:
        return Standing(label, record, versus, difference(cold_storage, task, record, reference))
    except OtherTestRows as error:
        # One variant on other test days must not hide every other row: the ledger keeps it for good.
        return Standing(label, record, versus, None, not_comparable=str(error))


def promote(
    cold_storage: ColdStorage, hot_store: HotStore, task: Task, snapshot: Snapshot, name: str
) -> dict:
    """Make the latest run of the variant `name` names the task's champion on its snapshot, if the
    gate allows; the promotion record."""
    if task.serve is None:
        raise PromotionRefused(
            f"task {task.name} declares no serve: {{table: …}}: there is nowhere to publish"
        )
    table = candidates(cold_storage, task, snapshot.id)
    label, latest = find_candidate(table, task, snapshot, name)
    crowned = champion(cold_storage, task, snapshot.id)
    if crowned and crowned["ledger_key"] == latest["ledger_key"]:
        raise PromotionRefused(f"{label} is already the champion of {task.name} on snapshot {snapshot.name}")
    reference = ledger.read_record(cold_storage, crowned["ledger_key"]) if crowned else None
    versus = label_of(table, reference) if reference else f"the {NO_SKILL}"
    diff = difference(cold_storage, task, latest, reference)
    if not diff.significantly_better:
        raise PromotionRefused(
            f"{label} is not significantly better than {versus} on snapshot {snapshot.name}: "
            f"{task.metric} difference {diff.describe()} ({CONFIDENCE:.0%} CI, {diff.rows:,} test examples) "
            "does not lie below zero"
        )

    published = publish_predictions(hot_store, task, ledger.read_predictions(cold_storage, latest))
    now = dt.datetime.now(dt.UTC)
    promotion = {
        "task": latest["task"],
        "snapshot": latest["snapshot"],
        "model": latest["model"],
        "model_file": latest["model_file"],
        # As compare showed it when promoted: the model's name while it had one variant on the snapshot.
        "label": label,
        "params": latest["params"],
        "params_hash": latest["params_hash"],
        "variant_hash": latest["variant_hash"],
        "ledger_key": latest["ledger_key"],
        "run_id": latest["run_id"],
        "experiment_key": latest["experiment_key"],
        # The no-skill reference has no run of its own: the challenger's training days' mean answer.
        "versus": {
            "model": reference["model"] if reference else NO_SKILL,
            "label": versus,
            "variant_hash": reference["variant_hash"] if reference else None,
            "ledger_key": reference["ledger_key"] if reference else None,
        },
        "metric": task.metric,
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
    key = f"{PROMOTIONS}/{task.name}/{snapshot.id}/{now:%Y%m%dT%H%M%S%f}-{latest['model']}.json"
    cold_storage.put_bytes(key, canonical_json(promotion))
    return promotion


PREDICTION_COLUMNS = ("model", "snapshot_id", "predicted", "split")


def _sql_type(series: pd.Series) -> str:
    from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_float_dtype, is_integer_dtype

    if is_bool_dtype(series):
        return "BOOLEAN"
    if is_integer_dtype(series):
        return "BIGINT"
    if is_float_dtype(series):
        return "DOUBLE"
    if is_datetime64_any_dtype(series):
        return "TIMESTAMP"
    return "VARCHAR"


def publish_predictions(hot_store: HotStore, task: Task, scored: pd.DataFrame) -> dict:
    """A model's predictions into the task's hot table, replacing their days in one transaction:
    each example's key (and date), the model, its snapshot, the prediction and the split."""
    import pandas as pd

    date = task.date_column
    frame = scored[[*task.served_columns, *PREDICTION_COLUMNS]]
    columns = [(c, "DATE" if c == date else _sql_type(frame[c])) for c in frame.columns]
    frame = frame.assign(**{date: pd.to_datetime(frame[date]).dt.date}).astype(object)
    frame = frame.where(frame.notna(), None)
    days = sorted({d.isoformat() for d in frame[date]})
    rows = hot_store.publish(
        task.serve.table, columns, list(frame.itertuples(index=False, name=None)), date, days
    )
    return {"table": task.serve.table, "rows": rows, "first_day": days[0], "last_day": days[-1]}
