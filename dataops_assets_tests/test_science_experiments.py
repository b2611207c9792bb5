"""Experiments reproduce, the ledger says how, and the gate promotes only a significantly better model.

Each experiment is a Dagster run (seconds): the module shares a few, on one snapshot of the session's
pipeline run (2013-01-01..03: trained on two days, tested on the third), of the late-arrival task
(science/tasks/late_arrival.yaml) with its models (science/models/).
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow.parquet as pq
import pytest

from dataops_assets.science.evaluation import paired_bootstrap

pytestmark = pytest.mark.slow
DAYS = ["2013-01-01", "2013-01-02", "2013-01-03"]
TEST_DAYS = 1  # of the three: the task's 22 are for a quarter


def _run(testing_env, snapshot: str, model: str, params: dict | None = None, **settings) -> dict:
    from dataops_assets.runs.experiment import run_experiment

    return run_experiment(testing_env, snapshot, model, params, **({"test_days": TEST_DAYS} | settings))


@pytest.fixture(scope="module")
def task():
    from dataops_assets.task_declarations import load_task

    return load_task("late_arrival")


@pytest.mark.parametrize("metric", ["brier", "log_loss", "rmse", "mae"])
def test_the_paired_bootstrap_sees_a_real_difference_and_not_a_null_one(metric):
    rng = np.random.default_rng(0)
    actual = rng.random(2000) < 0.3
    informed = np.where(actual, 0.6, 0.2)
    flat = np.full(2000, 0.3)
    better = paired_bootstrap(actual, informed, flat, metric)
    assert better.significantly_better and better.high < 0 and better.metric == metric
    same = paired_bootstrap(actual, flat, flat, metric)
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0) and not same.significantly_better
    # A fixed seed: the same interval every time.
    assert paired_bootstrap(actual, informed, flat, metric) == better


@pytest.fixture(scope="module")
def cold(pipeline_run, testing_env):
    from dataops_assets.resources.factory import open_resource

    return open_resource(testing_env, "cold_storage")


@pytest.fixture(scope="module")
def frozen(cold):
    from dataops_assets.science.snapshots import create_snapshot

    return create_snapshot(cold, "experiments_test", ["flights", "planes", "weather"], DAYS[0], DAYS[-1])


@pytest.fixture(scope="module")
def runs(testing_env, frozen):
    return {
        "baseline": [_run(testing_env, frozen.name, "baseline") for _ in range(2)],
        "climatology": _run(testing_env, frozen.name, "climatology"),
    }


def test_the_same_experiment_twice_gives_identical_metrics_and_ledger_keys(runs, frozen):
    first, second = runs["baseline"]
    assert first["metrics"] == second["metrics"]
    for key in ("experiment_key", "snapshot", "params", "variant_hash", "seed", "split", "predictions"):
        assert first[key] == second[key], key
    assert first["snapshot"]["id"] == frozen.id
    # Two runs, two records: the ledger appends, it never rewrites.
    assert first["run_id"] != second["run_id"] and first["ledger_key"] != second["ledger_key"]


def test_the_ledger_holds_what_reproduces_a_run(runs):
    from dataops_assets.integrity import fingerprint

    record = runs["baseline"][0]
    assert len(record["code"]["git_sha"]) == 40 and isinstance(record["code"]["dirty"], bool)
    assert record["params_hash"] == fingerprint(record["params"])
    assert record["params"]["prior_strength"] == 20.0 and record["params"]["test_days"] == TEST_DAYS
    assert (
        record["model_file"]["file"] == "science/models/baseline.py"
        and len(record["model_file"]["sha256"]) == 64
    )
    assert record["task"]["name"] == "late_arrival" and record["gate_metric"] == "brier"
    assert {"python", "scikit-learn", "dagster", "pandas"} <= set(record["libraries"])
    assert set(record["timings_s"]) == {"features", "split", "train", "predict", "evaluate"}
    assert record["split"] == {"train_rows": 1785, "test_rows": 914, "first_test_day": DAYS[-1]}
    assert 0 < record["metrics"]["brier"] < 0.25 and record["metrics"]["test_rows"] == 900


def test_metrics_are_numeric_asset_metadata_the_ui_can_plot(runs):
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["science", "evaluation"]))
    metadata = event.asset_materialization.metadata
    assert isinstance(metadata["brier"], dg.FloatMetadataValue)
    assert metadata["brier"].value == runs["climatology"]["metrics"]["brier"]  # the last run's


def test_the_experiment_reproduces_after_a_pinned_partition_is_rematerialized(
    runs, frozen, testing_root, tmp_path, monkeypatch, testing_env
):
    from dataops_assets_tests.test_science_snapshots import _copy_cold, _parquet, _republish

    copy = _copy_cold(testing_root, tmp_path)
    pinned = frozen.files_of("flights")[0]
    table = pq.read_table(io.BytesIO(copy.get_bytes(pinned["path"])))
    _republish(copy, "flights", pinned["partition"], _parquet(table.slice(10)))
    _republish(copy, "flights", "2013-01-05", _parquet(table))
    monkeypatch.setenv("DATAOPS_DATA_DIR", str(tmp_path))

    again = _run(testing_env, frozen.name, "baseline")
    assert again["metrics"] == runs["baseline"][0]["metrics"]
    assert again["experiment_key"] == runs["baseline"][0]["experiment_key"]


def test_the_gate_refuses_a_weak_challenger_and_promotes_a_better_one(runs, cold, frozen, testing_env, task):
    from dataops_assets.resources.factory import open_resource
    from dataops_assets.science.promotion import PromotionRefused, promote, standings

    hot = open_resource(testing_env, "hot_store")
    table = task.serve.table
    # No champion yet: the weak model is no better than knowing nothing.
    with pytest.raises(PromotionRefused, match=r"climatology is not significantly better than the no-skill"):
        promote(cold, hot, task, frozen, "climatology")
    assert hot.count_by_date(table, task.date_column, DAYS) == {}

    promotion = promote(cold, hot, task, frozen, "baseline")
    assert promotion["difference"]["high"] < 0
    assert promotion["published"]["rows"] == 842 + 943 + 914
    assert hot.count_by_date(table, task.date_column, DAYS) == dict(zip(DAYS, [842, 943, 914], strict=True))

    # Now against the champion: the weak model is refused with the interval as the reason.
    with pytest.raises(
        PromotionRefused, match=r"not significantly better than baseline .* brier difference \+"
    ):
        promote(cold, hot, task, frozen, "climatology")
    with pytest.raises(PromotionRefused, match="already the champion"):
        promote(cold, hot, task, frozen, "baseline")

    crowned, table = standings(cold, task, frozen)
    assert crowned["model"] == "baseline"
    by_label = {s.label: s for s in table}
    assert by_label["baseline"].difference is None
    assert by_label["climatology"].difference.low > 0  # significantly worse than the champion


def test_compare_prints_every_model_against_the_champion(runs, frozen):
    from click.testing import CliRunner

    from dataops_assets.cli.main import main

    result = CliRunner().invoke(main, ["experiment", "compare", "--snapshot", frozen.name])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.split("│")[1].strip() == "climatology" for line in lines if "│" in line)
    assert "95% CI" in result.output


def test_an_experiment_the_snapshot_cannot_serve_fails_in_one_line_before_a_run(cold, testing_env):
    import dagster as dg

    from dataops_assets.science.snapshots import SnapshotError, create_snapshot

    with dg.DagsterInstance.get() as instance:
        runs_before = instance.get_runs_count()
    create_snapshot(cold, "one_day", ["flights", "planes", "weather"], DAYS[0], DAYS[0])
    with pytest.raises(
        SnapshotError,
        match=r"^task late_arrival tests on the last 1 day\(s\), so a snapshot needs at least 2 days",
    ):
        _run(testing_env, "one_day", "baseline")
    create_snapshot(cold, "flights_only", ["flights"], DAYS[0], DAYS[-1])
    with pytest.raises(
        SnapshotError,
        match=r"^snapshot flights_only does not pin weather, planes, which task late_arrival needs \(it pins flights\)$",
    ):
        _run(testing_env, "flights_only", "baseline")
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs_count() == runs_before


def _serve(testing_env, task, day: str) -> list[tuple]:
    """Materialize the serving group's champion predictions for `day`; what the hot store then serves."""
    import sqlite3

    import dagster as dg

    from dataops_assets.resources.factory import build_resources, open_resource
    from dataops_assets.science.serving import build_champion_predictions_asset

    asset = build_champion_predictions_asset(task, dg.DailyPartitionsDefinition(start_date=DAYS[0]))
    result = dg.materialize([asset], partition_key=day, resources=build_resources(testing_env))
    assert result.success
    with sqlite3.connect(f"file:{open_resource(testing_env, 'hot_store').path}?mode=ro", uri=True) as con:
        return con.execute(
            "SELECT carrier, flight, origin, sched_dep_time, model, split, predicted FROM flight_delay_predictions "
            "WHERE flight_date = ? ORDER BY carrier, flight, origin, sched_dep_time",
            [day],
        ).fetchall()


def _predicted(cold, record: dict, day: str) -> np.ndarray:
    """What the run predicted for `day`'s flights, as stored beside the ledger."""
    from dataops_assets.science import ledger

    stored = ledger.read_predictions(cold, record)
    return stored[stored["flight_date"] == day]["predicted"].to_numpy()


def test_the_serving_group_scores_new_days_with_the_champion(runs, cold, frozen, testing_env, task):
    from dataops_assets.resources.factory import open_resource
    from dataops_assets.science.promotion import production_champion, promote

    if (production_champion(cold, task) or {}).get(
        "model"
    ) != "baseline":  # the gate test may have crowned it
        promote(cold, open_resource(testing_env, "hot_store"), task, frozen, "baseline")
    day = DAYS[-1]
    served = _serve(testing_env, task, day)
    assert len(served) == 914 and {(r[4], r[5]) for r in served} == {("baseline", "serving")}
    # Scored from the day's current files by the re-fitted champion: what the experiment predicted for it.
    assert np.allclose([r[6] for r in served], _predicted(cold, runs["baseline"][0], day), rtol=0, atol=1e-12)


# Variants: baseline with its default parameters and with a stronger prior (which, like the default,
# beats the no-skill reference on these days), on a snapshot of their own so that `frozen` keeps one
# baseline and the tests above their bare model names.
TUNED = {"prior_strength": 100.0}


def test_param_values_are_json_when_they_parse_and_strings_otherwise():
    from dataops_assets.cli.experiment_cmd import parse_params

    pairs = ("learning_rate=0.1", "max_iter=300", "early_stopping=false", 'levels=["carrier"]', "name=a=b")
    assert parse_params(pairs) == {
        "learning_rate": 0.1,
        "max_iter": 300,
        "early_stopping": False,
        "levels": ["carrier"],
        "name": "a=b",
    }


def test_an_int_for_a_float_parameter_is_that_float():
    from dataops_assets.science.models import load_model_file

    baseline = load_model_file("baseline")
    resolved = baseline.resolve({"prior_strength": 100})
    assert resolved == baseline.resolve(TUNED) and type(resolved["prior_strength"]) is float


@pytest.fixture(scope="module")
def variants_snapshot(cold):
    from dataops_assets.science.snapshots import create_snapshot

    # With airlines too, which no feature reads: another snapshot id, the same predictions, so that
    # `frozen` keeps one baseline.
    return create_snapshot(
        cold, "variants_test", ["airlines", "flights", "planes", "weather"], DAYS[0], DAYS[-1]
    )


@pytest.fixture(scope="module")
def variant_runs(testing_env, cold, variants_snapshot):
    from click.testing import CliRunner

    from dataops_assets.cli.main import main
    from dataops_assets.science import ledger

    default = _run(testing_env, variants_snapshot.name, "baseline")
    tuned = _run(testing_env, variants_snapshot.name, "baseline", TUNED)
    # The same override again, from the command line, where `100` parses as an int.
    args = [
        "experiment",
        "run",
        "--snapshot",
        variants_snapshot.name,
        "--model",
        "baseline",
        "--test-days",
        "1",
    ]
    result = CliRunner().invoke(main, [*args, "--param", "prior_strength=100"])
    assert result.exit_code == 0, result.output
    again = ledger.runs(cold, variants_snapshot.id, "late_arrival")[-1]
    assert f"variant: {ledger.variant_label(again)} (prior_strength=100.0, test_days=1)" in result.stdout
    return {"default": default, "tuned": [tuned, again]}


def test_an_override_changes_the_ledgers_params_their_hash_and_the_metrics(variant_runs):
    from dataops_assets.integrity import fingerprint

    default, tuned = variant_runs["default"], variant_runs["tuned"][0]
    assert default["params"]["prior_strength"] == 20.0
    assert tuned["params"] == default["params"] | TUNED
    assert tuned["params_hash"] == fingerprint(tuned["params"]) != default["params_hash"]
    assert tuned["variant_hash"] != default["variant_hash"]
    assert tuned["experiment_key"] != default["experiment_key"]
    assert tuned["split"] == default["split"]  # the same rows, other predictions
    assert tuned["metrics"]["brier"] != default["metrics"]["brier"]


def test_the_same_override_twice_gives_identical_metrics_and_ledger_keys(variant_runs):
    first, second = variant_runs["tuned"]
    assert first["metrics"] == second["metrics"]
    for key in ("experiment_key", "params", "variant_hash", "seed", "split", "predictions"):
        assert first[key] == second[key], key
    assert first["run_id"] != second["run_id"] and first["ledger_key"] != second["ledger_key"]


def test_an_unknown_parameter_or_a_wrong_type_is_refused_before_a_run_starts(testing_env, frozen):
    import dagster as dg
    from click.testing import CliRunner

    from dataops_assets.cli.main import main
    from dataops_assets.science.models import InvalidParams

    with dg.DagsterInstance.get() as instance:
        runs_before = instance.get_runs_count()
    with pytest.raises(
        InvalidParams, match=r"^baseline has no parameter 'prior'; its parameters: levels, prior_strength$"
    ):
        _run(testing_env, frozen.name, "baseline", {"prior": 5.0})
    with pytest.raises(
        InvalidParams,
        match=r"^baseline parameter prior_strength must be float like its default 20.0, got str 'high'$",
    ):
        _run(testing_env, frozen.name, "baseline", {"prior_strength": "high"})

    args = ["experiment", "run", "--snapshot", frozen.name, "--model", "gradient_boosting"]
    result = CliRunner().invoke(main, [*args, "--param", "max_iter=false"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (
        "error: gradient_boosting parameter max_iter must be int like its default 250, got bool False\n"
    )
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs_count() == runs_before


def test_compare_lists_each_variant_with_what_it_changed(variant_runs, variants_snapshot):
    from click.testing import CliRunner

    from dataops_assets.cli.main import main
    from dataops_assets.science.ledger import variant_label

    result = CliRunner().invoke(main, ["experiment", "compare", "--snapshot", variants_snapshot.name])
    assert result.exit_code == 0, result.output
    default, tuned = variant_label(variant_runs["default"]), variant_label(variant_runs["tuned"][0])
    rows = [line.split("│")[1].strip() for line in result.stdout.splitlines() if "│" in line]
    assert rows == [default, tuned]
    legend = result.stdout.split("variants:\n", 1)[1].splitlines()[:2]
    assert [line.split()[:2] for line in legend] == [
        [default, "test_days=1"],
        [tuned, "prior_strength=100.0,"],
    ]


def test_promote_takes_a_variant_label_and_the_champion_serves_with_its_parameters(
    variant_runs, variants_snapshot, cold, testing_env, task
):
    from click.testing import CliRunner

    from dataops_assets.cli.main import main
    from dataops_assets.resources.factory import open_resource
    from dataops_assets.science.ledger import variant_label
    from dataops_assets.science.promotion import promote

    default, (tuned, latest) = variant_runs["default"], variant_runs["tuned"]
    labels = f"{variant_label(default)}, {variant_label(tuned)}"
    args = ["experiment", "promote", "--snapshot", variants_snapshot.name, "--model"]
    ambiguous = CliRunner().invoke(main, [*args, "baseline"])
    assert ambiguous.exit_code == 1
    assert ambiguous.stderr == (
        f"error: promotion refused: baseline names 2 variants on snapshot {variants_snapshot.name}: "
        f"{labels}; promote one by its label\n"
    )

    # Any prefix of the params hash that names one variant will do; the record holds the full label.
    promotion = promote(
        cold,
        open_resource(testing_env, "hot_store"),
        task,
        variants_snapshot,
        f"baseline@{tuned['variant_hash'][:5]}",
    )
    assert promotion["label"] == variant_label(tuned) and promotion["ledger_key"] == latest["ledger_key"]
    assert promotion["params"] == tuned["params"] and promotion["variant_hash"] == tuned["variant_hash"]

    # The serving group now scores with this variant, re-fitted with its parameters, not the default one.
    day = DAYS[-1]
    served = [r[6] for r in _serve(testing_env, task, day)]
    assert np.allclose(served, _predicted(cold, tuned, day), rtol=0, atol=1e-12)
    assert not np.allclose(served, _predicted(cold, default, day), rtol=0, atol=1e-6)


def test_a_variant_scored_on_other_test_rows_is_marked_in_compare_and_refused_by_promote(
    variant_runs, variants_snapshot, cold, testing_env, task
):
    from dataops_assets.resources.factory import open_resource
    from dataops_assets.science.ledger import variant_label
    from dataops_assets.science.promotion import OtherTestRows, champion, promote, standings

    hot = open_resource(testing_env, "hot_store")
    # The promotion test above crowns the tuned variant.
    if champion(cold, task, variants_snapshot.id) is None:
        promote(cold, hot, task, variants_snapshot, variant_label(variant_runs["tuned"][0]))
    _run(testing_env, variants_snapshot.name, "climatology", test_days=2)

    _, table = standings(cold, task, variants_snapshot)
    by_label = {s.label: s for s in table}
    assert "not scored on the same test rows" in by_label["climatology"].not_comparable
    assert by_label["climatology"].difference is None
    assert by_label[variant_label(variant_runs["default"])].difference is not None  # the rest still compare
    with pytest.raises(OtherTestRows, match="not scored on the same test rows"):
        promote(cold, hot, task, variants_snapshot, "climatology")


# What the late-arrival models scored on these days before they became files (the package's
# features.py and models.py at 8523a6f): the task and model files reproduce them exactly. On Q1 2013
# they reproduce docs/science.md's table (checked by hand: every metric equal to the last bit).
BEFORE_FILES = {
    "climatology": {"brier": 0.193971347586282, "roc_auc": 0.5},
    "baseline": {"brier": 0.1871233513062182, "roc_auc": 0.6298000319948809},
    "gradient_boosting": {"brier": 0.21970581589508692, "roc_auc": 0.6587873940169573},
}


def test_the_late_arrival_task_and_models_give_the_figures_of_the_code_they_replaced(
    runs, frozen, testing_env
):
    scored = {"baseline": runs["baseline"][0], "climatology": runs["climatology"]}
    scored["gradient_boosting"] = _run(testing_env, frozen.name, "gradient_boosting")
    for model, figures in BEFORE_FILES.items():
        metrics = scored[model]["metrics"]
        assert {k: metrics[k] for k in figures} == pytest.approx(figures, rel=0, abs=1e-12), model
