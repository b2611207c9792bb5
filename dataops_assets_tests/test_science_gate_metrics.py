"""The gate judges on the task's metric whichever it is: `mae` for a regression and `log_loss` for a
classification (test_science_tasks.py has `rmse`, test_science_experiments.py `brier`), on the
generated sales days of test_science_tasks.py.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dataops_assets.cli.main import main
from dataops_assets_tests.test_science_tasks import DAYS, RIDGE, SQL, STORE_MEAN, TASK, science_lab

pytestmark = pytest.mark.slow

SALES_MAE = (
    TASK.replace("name: sales\n", "name: sales_mae\n")
    .replace("metric: rmse", "metric: mae")
    .replace("sales_predictions", "sales_mae_predictions")
)
BUSY = """\
name: busy
description: Whether a time slot sells more than its store's capacity.
datasets: [sales]
features: busy.sql
key: [day, store, slot]
date_column: day
target: busy
kind: classification
metric: log_loss
test_days: 3
serve: {table: busy_predictions}
"""
# A slot is busy when it sells more than its store's capacity: how often depends on the store, and
# when on promotion and temperature.
BUSY_SQL = """\
SELECT s.day, s.store, s.slot, CAST(s.promo AS INTEGER) AS promo, s.temperature, s.units > c.capacity AS busy
FROM sales s JOIN (VALUES ('north', 50), ('south', 70), ('east', 36), ('west', 84)) c(store, capacity)
  ON c.store = s.store
"""
LOGISTIC = """\
estimator: sklearn.linear_model.LogisticRegression
params: {max_iter: 1000}
features: [store, promo, temperature]
categorical: one_hot
"""


@pytest.fixture(scope="module")
def lab(testing_env, tmp_path_factory):
    """Both tasks over the generated snapshot; store_mean (a store's mean answer, for `busy` its rate) is
    the weak model of each, ridge and logistic the strong ones."""
    science = {
        "tasks/sales_mae.yaml": SALES_MAE,
        "tasks/sales.sql": SQL,
        "tasks/busy.yaml": BUSY,
        "tasks/busy.sql": BUSY_SQL,
        "models/store_mean.py": STORE_MEAN,
        "models/ridge.yaml": RIDGE,
        "models/logistic.yaml": LOGISTIC,
    }
    with science_lab(testing_env, tmp_path_factory.mktemp("gate-metrics-lab"), science) as lab:
        yield lab


@pytest.mark.parametrize(
    ("task_name", "metric", "weak", "strong"),
    [("sales_mae", "mae", "store_mean", "ridge"), ("busy", "log_loss", "store_mean", "logistic")],
    ids=["mae", "log_loss"],
)
def test_the_gate_promotes_a_clearly_better_model_and_refuses_a_worse_one(
    lab, testing_env, task_name, metric, weak, strong
):
    from dataops_assets.resources.factory import open_resource
    from dataops_assets.runs.experiment import run_experiment
    from dataops_assets.science.promotion import champion
    from dataops_assets.task_declarations import load_task

    weak_run, strong_run = (
        run_experiment(testing_env, "sales_days", m, task=task_name) for m in (weak, strong)
    )
    assert weak_run["gate_metric"] == strong_run["gate_metric"] == metric

    def promote(model: str):
        args = ["--task", task_name, "--snapshot", "sales_days", "--model", model]
        return CliRunner().invoke(main, ["experiment", "promote", *args])

    first = promote(weak)  # against the no-skill reference: the training days' mean answer
    assert first.exit_code == 0, first.stderr
    assert f"promoted {weak} for task {task_name} on sales_days: {metric} -" in first.stdout
    better = promote(strong)
    assert better.exit_code == 0, better.stderr
    assert f"vs {weak}" in better.stdout and f"published {len(DAYS) * 48} predictions" in better.stdout
    # The difference is the task's metric's: each is a mean of per-example losses over the same rows.
    crowned = champion(lab["cold"], load_task(task_name), weak_run["snapshot"]["id"])
    assert crowned["model"] == strong and crowned["metric"] == metric
    expected = strong_run["metrics"][metric] - weak_run["metrics"][metric]
    assert crowned["difference"]["mean"] == pytest.approx(expected, rel=0, abs=1e-12)
    worse = promote(weak)
    assert worse.exit_code == 1 and worse.stdout == ""
    assert (
        worse.stderr.startswith(
            f"error: promotion refused: {weak} is not significantly better than {strong} on snapshot sales_days: "
            f"{metric} difference +"
        )
        and worse.stderr.count("\n") == 1
    )
    hot = open_resource(testing_env, "hot_store")
    assert hot.count_by_date(f"{task_name}_predictions", "day", DAYS) == dict.fromkeys(DAYS, 48)
