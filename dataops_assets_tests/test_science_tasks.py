"""A question and models declared by files only: a regression task on data the test generates (daily
sales of four stores, not flights), a Python model and a scikit-learn YAML model, run, compared,
promoted through the gate and served over HTTP.

The task and models are written into a temporary `science/` that the platform reads as the user's;
the generated days are written into cold storage as raw partitions and pinned by a snapshot, as the
pipeline and `dataops snapshot create` would. Each experiment is a Dagster run (seconds): the module
shares a few.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dataops_assets.cli.main import main
from dataops_assets.paths import PROJECT_DIR

pytestmark = pytest.mark.slow

DAYS = [(dt.date(2024, 3, 1) + dt.timedelta(days=i)).isoformat() for i in range(10)]
STORES = {"north": 40.0, "south": 55.0, "east": 30.0, "west": 70.0}  # each store's base sales
SLOTS = 12  # examples per store and day
TASK = """\
name: sales
description: Units sold per store and time slot.
datasets: [sales]
features: sales.sql
key: [day, store, slot]
date_column: day
target: units
kind: regression
metric: rmse
test_days: 3
serve: {table: sales_predictions}
"""
SQL = "SELECT day, store, slot, CAST(promo AS INTEGER) AS promo, temperature, units FROM sales\n"
STORE_MEAN = '''\
"""Each store's mean over the training days (a store never seen: the overall mean)."""


class Model:
    params = {"shrink": 0.0}

    def fit(self, frame, target, seed):
        k = self.params["shrink"]
        self.overall = float(target.mean())
        sums = target.groupby(frame["store"]).agg(["sum", "count"])
        self.means = (sums["sum"] + k * self.overall) / (sums["count"] + k)

    def predict(self, frame):
        return frame["store"].map(self.means).fillna(self.overall).to_numpy()
'''
RIDGE = """\
estimator: sklearn.linear_model.Ridge
params: {alpha: 1.0}
features: [store, promo, temperature]  # the store is part of the key, so it must be named
categorical: one_hot
"""


def sales_table():
    """Units = the store's base + 8 on promotion + 0.5 per degree + noise: learnable, not trivial."""
    import pyarrow as pa

    rng = np.random.default_rng(7)
    rows = []
    for day in DAYS:
        for store, base in STORES.items():
            for slot in range(SLOTS):
                promo = bool(rng.random() < 0.3)
                temperature = float(rng.normal(12, 6))
                units = base + 8 * promo + 0.5 * temperature + float(rng.normal(0, 2))
                rows.append((dt.date.fromisoformat(day), store, slot, promo, temperature, units))
    names = ["day", "store", "slot", "promo", "temperature", "units"]
    return pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows])


def pin_generated(cold, name: str, dataset: str, table) -> None:
    """Each day of `table` as a raw partition of `dataset`, and a snapshot `name` pinning them."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from dataops_assets import layout
    from dataops_assets.integrity import fingerprint
    from dataops_assets.science.snapshots import Snapshot, snapshot_key

    files = []
    schema = str(table.schema)
    for day in DAYS:
        buffer = io.BytesIO()
        rows = table.filter(pc.equal(table["day"], dt.date.fromisoformat(day)))
        pq.write_table(rows, buffer)
        data = buffer.getvalue()
        sha256 = hashlib.sha256(data).hexdigest()
        path = layout.raw_file_key(dataset, day, sha256)
        cold.put_bytes(path, data)
        files.append(
            {"dataset": dataset, "partition": day, "schema_fingerprint": fingerprint(schema)}
            | {"path": path, "sha256": sha256, "rows": rows.num_rows, "bytes": len(data)}
        )
    content = {
        "datasets": [dataset],
        "window": {"start": DAYS[0], "end": DAYS[-1]},
        "files": files,
        "schemas": {fingerprint(schema): schema},
    }
    snapshot = Snapshot(name, fingerprint(content), "2024-03-11T00:00:00+00:00", content)
    cold.put_bytes(snapshot_key(name), snapshot.to_json())


@contextmanager
def science_lab(testing_env, root: Path, science: dict[str, str]):
    """A project whose science/ holds only `science` (text by path under science/; the rest of user
    space links to this repository's), and a data directory of its own with the generated snapshot
    `sales_days`."""
    from dataops_assets import paths
    from dataops_assets.resources.factory import open_resource
    from dataops_assets_tests.services import environ

    project = root / "project"
    for part in ("tasks", "models"):
        (project / "science" / part).mkdir(parents=True)
    for part in ("environments", "sources", "dbt_project"):
        (project / part).symlink_to(PROJECT_DIR / part)
    for name, text in science.items():
        (project / "science" / name).write_text(text)
    data = root / "data"
    with pytest.MonkeyPatch.context() as patch, environ(DATAOPS_DATA_DIR=str(data)):
        patch.setattr(paths, "SCIENCE_DIR", project / "science")
        cold = open_resource(testing_env, "cold_storage")
        pin_generated(cold, "sales_days", "sales", sales_table())
        yield {"project": project, "data": data, "cold": cold, "models": project / "science" / "models"}


@pytest.fixture(scope="module")
def lab(testing_env, tmp_path_factory):
    """The sales task and its two models."""
    science = {
        "tasks/sales.yaml": TASK,
        "tasks/sales.sql": SQL,
        "models/store_mean.py": STORE_MEAN,
        "models/ridge.yaml": RIDGE,
    }
    with science_lab(testing_env, tmp_path_factory.mktemp("science-lab"), science) as lab:
        yield lab


def _run(testing_env, model: str, params: dict | None = None) -> dict:
    from dataops_assets.runs.experiment import run_experiment

    return run_experiment(testing_env, "sales_days", model, params)


@pytest.fixture(scope="module")
def runs(lab, testing_env):
    return {model: [_run(testing_env, model) for _ in range(2)] for model in ("store_mean", "ridge")}


def _cli(*args: str):
    return CliRunner().invoke(main, list(args))


def test_the_same_run_twice_gives_identical_metrics_and_ledger_keys(runs, lab):
    for model, (first, second) in runs.items():
        assert first["metrics"] == second["metrics"], model
        for key in ("experiment_key", "variant_hash", "model_file", "params", "seed", "split", "predictions"):
            assert first[key] == second[key], (model, key)
        assert first["ledger_key"] != second["ledger_key"]
    store_mean, ridge = runs["store_mean"][0], runs["ridge"][0]
    assert store_mean["task"]["name"] == "sales" and store_mean["gate_metric"] == "rmse"
    assert store_mean["split"] == {"train_rows": 7 * 48, "test_rows": 3 * 48, "first_test_day": DAYS[7]}
    on_disk = hashlib.sha256((lab["models"] / "store_mean.py").read_bytes()).hexdigest()
    assert store_mean["model_file"]["sha256"] == on_disk
    assert ridge["params"] == {"alpha": 1.0, "test_days": 3}
    # The generated answer is learnable: the linear model with promotion and temperature is far better.
    assert ridge["metrics"]["rmse"] < 3 < store_mean["metrics"]["rmse"]


def test_compare_lists_both_models_without_naming_the_only_task(runs):
    result = _cli("experiment", "compare", "--snapshot", "sales_days")
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip() for line in result.stdout.splitlines() if "│" in line}
    assert {"store_mean", "ridge"} <= rows
    assert "task sales" in result.stdout and "Δ rmse" in result.stdout
    assert "no champion yet" in result.stdout


def test_a_run_through_the_cli_prints_its_metrics_is_in_the_ledger_and_compare_lists_it(runs, lab):
    from dataops_assets.science import ledger

    result = _cli("experiment", "run", "--task", "sales", "--snapshot", "sales_days", "--model", "ridge")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    [ledger_line] = [line for line in lines if line.startswith("ledger: ")]
    recorded = ledger.read_record(lab["cold"], ledger_line.split()[1])
    assert recorded["model"] == "ridge" and recorded["task"]["name"] == "sales"
    assert f"run {recorded['run_id']})" in ledger_line
    # The same variant as the module's Python runs: the same metrics, printed gate metric first.
    assert recorded["metrics"] == runs["ridge"][0]["metrics"]
    trained = lines.index(f"trained on 336 examples, tested on 144 (from {DAYS[7]}), seed 2013")
    assert lines[trained + 1] == f"  rmse            {recorded['metrics']['rmse']:.5f}"
    assert f"variant: {ledger.variant_label(recorded)} (defaults)" in lines

    compared = _cli("experiment", "compare", "--snapshot", "sales_days")
    assert compared.exit_code == 0, compared.output
    [ridge] = [line.split("│") for line in compared.stdout.splitlines() if line.startswith("│ ridge ")]
    assert ridge[-2].strip() == recorded["ledger_key"].rsplit("/", 1)[-1]  # the ledger column: its latest run


def test_the_gate_promotes_a_clearly_better_model_and_refuses_a_worse_one(runs, lab, testing_env):
    from dataops_assets.resources.factory import open_resource

    first = _cli("experiment", "promote", "--snapshot", "sales_days", "--model", "store_mean")
    assert first.exit_code == 0, first.stderr
    assert "promoted store_mean for task sales on sales_days: rmse -" in first.stdout
    better = _cli("experiment", "promote", "--task", "sales", "--snapshot", "sales_days", "--model", "ridge")
    assert better.exit_code == 0, better.stderr
    assert "vs store_mean" in better.stdout and f"published {len(DAYS) * 48} predictions" in better.stdout
    worse = _cli("experiment", "promote", "--snapshot", "sales_days", "--model", "store_mean")
    assert worse.exit_code == 1 and worse.stdout == ""
    assert (
        worse.stderr.startswith(
            "error: promotion refused: store_mean is not significantly better than ridge on snapshot sales_days: "
            "rmse difference +"
        )
        and worse.stderr.count("\n") == 1
    )
    hot = open_resource(testing_env, "hot_store")
    assert hot.count_by_date("sales_predictions", "day", DAYS) == dict.fromkeys(DAYS, 48)


def test_the_champions_predictions_are_served_over_http(runs, lab):
    import httpx

    from dataops_assets.science import ledger
    from dataops_assets_tests.api_server import bearer, running_server

    recorded = ledger.read_predictions(lab["cold"], runs["ridge"][0])
    expected = recorded[recorded["day"] == DAYS[-1]].sort_values(["store", "slot"])
    project = {"DATAOPS_PROJECT_DIR": str(lab["project"])}
    with (
        running_server(lab["data"], "testing", project) as url,
        httpx.Client(base_url=url, timeout=10, headers=bearer("analytics")) as api,
    ):
        listed = api.get("/datasets").json()
        page = api.get("/datasets/sales_predictions", params={"day": DAYS[-1], "limit": 100}).json()
        predictions = api.get("/predictions", params={"day": DAYS[-1], "limit": 100}).json()
        # A task's table is scoped like any other: a consumer declared for other tables may not read it.
        outside = api.get("/datasets/sales_predictions", headers=bearer("carriers_app"))
    assert "sales_predictions" in str(listed)
    assert predictions == page  # the only task declaring serve: /predictions is its table
    assert outside.status_code == 403
    rows = sorted(page["rows"], key=lambda r: (r["store"], r["slot"]))
    assert len(rows) == 48 and {(r["model"], r["split"]) for r in rows} == {("ridge", "test")}
    assert np.allclose([r["predicted"] for r in rows], expected["predicted"], rtol=0, atol=1e-9)


def test_an_uncommitted_edit_is_a_new_variant_and_reverting_reproduces_the_metrics(runs, lab, testing_env):
    path = lab["models"] / "store_mean.py"
    original = path.read_text()
    path.write_text(original.replace('params = {"shrink": 0.0}', 'params = {"shrink": 50.0}'))
    try:
        edited = _run(testing_env, "store_mean")
    finally:
        path.write_text(original)
    reverted = _run(testing_env, "store_mean")
    before = runs["store_mean"][0]
    assert edited["model_file"]["sha256"] != before["model_file"]["sha256"]
    assert edited["variant_hash"] != before["variant_hash"] and edited["metrics"] != before["metrics"]
    assert reverted["model_file"]["sha256"] == before["model_file"]["sha256"]
    assert reverted["metrics"] == before["metrics"] and reverted["experiment_key"] == before["experiment_key"]
    compared = _cli("experiment", "compare", "--snapshot", "sales_days")
    labels = [line.split("│")[1].strip() for line in compared.stdout.splitlines() if "│" in line]
    assert f"store_mean@{edited['variant_hash'][:8]}" in labels  # two variants of one model


@pytest.mark.parametrize(
    ("files", "args", "says"),
    [
        ({}, ["--task", "nope", "--model", "ridge"], "unknown task 'nope'; tasks in {tasks}: sales"),
        ({}, ["--model", "forest"], "unknown model 'forest'; models in {models}: ridge, store_mean"),
        ({}, ["--model", "ridge", "--param", "alpah=2"], "ridge has no parameter 'alpah'; its parameters: "),
        (
            {"extra.yaml": TASK.replace("sales\n", "extra\n", 1).replace("[sales]", "[sales, stock]")},
            ["--task", "extra", "--model", "ridge"],
            "snapshot sales_days does not pin stock, which task extra needs (it pins sales)",
        ),
        (
            {
                "extra.yaml": TASK.replace("sales\n", "extra\n", 1).replace("sales.sql", "extra.sql"),
                "extra.sql": "SELECT day, store, slot, units FROM stock",
            },
            ["--task", "extra", "--model", "ridge"],
            "task extra: the features query extra.sql failed: Catalog Error: Table with name stock does not exist!",
        ),
        (
            {
                "extra.yaml": TASK.replace("sales\n", "extra\n", 1).replace(
                    "[day, store, slot]", "[day, store]"
                )
            },
            ["--task", "extra", "--model", "ridge"],
            "task extra: key (day, store) is not unique in sales.sql: 440 duplicate row(s)",
        ),
        (
            {"extra.yaml": TASK.replace("sales\n", "extra\n", 1) + "owner: me\n"},
            ["--task", "extra", "--model", "ridge"],
            "{tasks}/extra.yaml: owner: Extra inputs are not permitted",
        ),
        (
            {"extra.yaml": TASK.replace("sales\n", "extra\n", 1)},
            ["--model", "ridge"],
            "2 tasks in {tasks} (extra, sales): name one with --task",
        ),
    ],
    ids=["task", "model", "param", "dataset", "query", "key", "extra key", "two tasks"],
)
def test_what_cannot_run_is_refused_in_one_line_before_any_run(lab, runs, files, args, says):
    import dagster as dg

    tasks = lab["project"] / "science" / "tasks"
    for name, text in files.items():
        (tasks / name).write_text(text)
    try:
        with dg.DagsterInstance.get() as instance:
            before = instance.get_runs_count()
        result = _cli("experiment", "run", "--snapshot", "sales_days", *args)
        with dg.DagsterInstance.get() as instance:
            assert instance.get_runs_count() == before
    finally:
        for name in files:
            (tasks / name).unlink()
    assert result.exit_code == 1 and result.stdout == ""
    message = says.format(tasks=tasks, models=lab["models"])
    assert result.stderr.startswith(f"error: {message}") and result.stderr.count("\n") == 1, result.stderr


def test_a_notebook_loads_the_frame_the_experiment_sees(lab, runs):
    from dataops_assets.science import load_task_frame

    frame = load_task_frame("sales_days", cold_storage=lab["cold"])
    assert len(frame) == len(DAYS) * 48 and not frame.duplicated(["day", "store", "slot"]).any()
    assert (frame["split"] == "test").sum() == runs["ridge"][0]["split"]["test_rows"]
    assert list(frame.columns) == ["day", "store", "slot", "promo", "temperature", "units", "split"]


def test_late_arrival_is_a_task_of_the_repository():
    from dataops_assets.task_declarations import load_task

    task = load_task("late_arrival", Path(PROJECT_DIR) / "science" / "tasks")
    assert (task.kind, task.metric, task.test_days, task.serve.table) == (
        "classification",
        "brier",
        22,
        "flight_delay_predictions",
    )
