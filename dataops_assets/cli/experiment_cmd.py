"""`dataops experiment ...`: experiments of a task on a snapshot, their comparison, and the promotion gate."""

from __future__ import annotations

import json

import click

from dataops_assets.cli.common import environment, fail

STEPS = ("features", "split", "train", "predict", "evaluate")
# What compare and run show of each kind of task, the gate's metric first.
SHOWN = {"classification": ("brier", "log_loss", "roc_auc", "accuracy"), "regression": ("rmse", "mae", "r2")}

task_option = click.option(
    "--task", "task_name", default=None, help="A task of science/tasks/ (default: the only one there is)."
)


def _task(name: str | None):
    from dataops_assets.task_declarations import load_task
    from dataops_assets.yaml_config import InvalidConfig

    try:
        return load_task(name)
    except InvalidConfig as error:
        fail(str(error))


def _snapshot(name: str):
    from dataops_assets.resources.factory import open_resource
    from dataops_assets.science.snapshots import SnapshotError, load_snapshot

    storage = open_resource(environment(), "cold_storage")
    try:
        return storage, load_snapshot(storage, name)
    except SnapshotError as error:
        fail(str(error))


def _shown(task) -> tuple[str, ...]:
    return (task.metric, *(m for m in SHOWN[task.kind] if m != task.metric))


def _param_value(text: str) -> object:
    """JSON when it parses (0.1, 300, false, ["carrier"]), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_params(pairs: tuple[str, ...]) -> dict:
    """`--param KEY=VALUE` options as overrides; fails in one line on a malformed or repeated one."""
    params = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            fail(f"--param expects KEY=VALUE, got {pair!r}")
        if key in params:
            fail(f"--param {key} given twice")
        params[key] = _param_value(value)
    return params


def changed_params(record: dict, task) -> dict:
    """The run's parameters that differ from its model file's defaults (and the task's test days)."""
    from dataops_assets.science.models import ModelError, load_model_file

    try:
        defaults = load_model_file(record["model"]).defaults
    except ModelError:  # the file is gone or broken since: show every parameter
        defaults = {}
    defaults = defaults | {"test_days": task.test_days}
    return {key: value for key, value in record["params"].items() if defaults.get(key) != value}


def _listed(params: dict) -> str:
    return ", ".join(f"{key}={json.dumps(value)}" for key, value in params.items()) or "defaults"


def _print_variants(table, task) -> None:
    """Under the table, what each variant is, once a model has several or a run has overrides."""
    changed = {s.label: (changed_params(s.record, task), s.record) for s in table}
    if any("@" in label or params for label, (params, _) in changed.items()):
        click.echo("variants:")
        for label, (params, record) in changed.items():
            click.echo(f"  {label:<28} {_listed(params)} (file sha256 {record['model_file']['sha256'][:12]})")


@click.group()
def experiment() -> None:
    """Reproducible experiments of a task on frozen snapshots, and the champion/challenger gate."""


@experiment.command("run")
@task_option
@click.option("--snapshot", "snapshot_name", required=True, help="Snapshot name (dataops snapshot list).")
@click.option("--model", required=True, help="A model of science/models/ (its file name without .py/.yaml).")
@click.option(
    "--param",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override one of the model's parameters; VALUE is JSON when it parses (0.1, 300, false, "
    '["carrier"]), else a string. Repeatable.',
)
@click.option("--seed", type=int, default=None, help="Seed (default 2013).")
@click.option(
    "--test-days",
    type=click.IntRange(min=1),
    default=None,
    help="The last N days held out (default: the task's).",
)
def experiment_run(
    task_name: str | None,
    snapshot_name: str,
    model: str,
    pairs: tuple[str, ...],
    seed: int | None,
    test_days: int | None,
) -> None:
    """Run the science assets for TASK with MODEL on SNAPSHOT as one Dagster run; record it in the ledger."""
    from dataops_assets.runs.experiment import ExperimentFailed, run_experiment
    from dataops_assets.science.features import TaskFrameError
    from dataops_assets.science.ledger import variant_label
    from dataops_assets.science.models import ModelError
    from dataops_assets.science.snapshots import SnapshotError

    task = _task(task_name)
    params = parse_params(pairs)
    try:
        record = run_experiment(
            environment(), snapshot_name, model, params, seed, test_days, task.name, echo=click.echo
        )
    except (SnapshotError, ModelError, TaskFrameError, ExperimentFailed) as error:
        fail(str(error))
    split = record["split"]
    click.echo(
        f"trained on {split['train_rows']:,} examples, tested on {split['test_rows']:,} "
        f"(from {split['first_test_day']}), seed {record['seed']}"
    )
    for name in (*_shown(task), "mean_predicted"):
        click.echo(f"  {name:<15} {record['metrics'][name]:.5f}")
    steps = sorted(record["timings_s"].items(), key=lambda item: STEPS.index(item[0]))
    click.echo("timings: " + ", ".join(f"{step} {seconds:.2f} s" for step, seconds in steps))
    click.echo(f"variant: {variant_label(record)} ({_listed(changed_params(record, task))})")
    code = record["code"]
    click.echo(
        f"ledger: {record['ledger_key']} (experiment {record['experiment_key'][:12]}, "
        f"model file sha256 {record['model_file']['sha256'][:12]}, "
        f"git {code['git_sha'][:12]}{' dirty' if code['dirty'] else ''}, run {record['run_id']})"
    )


@experiment.command("compare")
@task_option
@click.option("--snapshot", "snapshot_name", required=True, help="Snapshot name.")
def experiment_compare(task_name: str | None, snapshot_name: str) -> None:
    """Every variant's latest run of TASK on SNAPSHOT, with its metric difference to the champion and the 95% CI."""
    from rich.console import Console
    from rich.table import Table

    from dataops_assets.science.promotion import PromotionRefused, standings

    task = _task(task_name)
    storage, frozen = _snapshot(snapshot_name)
    try:
        crowned, table = standings(storage, task, frozen)
    except PromotionRefused as error:
        fail(str(error))
    if not table:
        fail(
            f"no experiments of task {task.name} on snapshot {snapshot_name} yet: "
            f"dataops experiment run --task {task.name} --snapshot {snapshot_name} ..."
        )
    shown = _shown(task)
    out = Table(
        title=f"task {task.name}, snapshot {frozen.name} ({frozen.id[:12]}): models vs {table[0].versus}"
    )
    for column in ("model", *shown, f"Δ {task.metric}", "95% CI", "verdict", "ledger"):
        out.add_column(column, justify="left" if column in ("model", "verdict", "ledger") else "right")
    for s in table:
        m = s.record["metrics"]
        if s.not_comparable:
            delta, ci, verdict = "—", "—", "not comparable: other test rows"
        elif s.difference is None:
            delta, ci, verdict = "—", "—", "champion"
        else:
            d = s.difference
            delta, ci = f"{d.mean:+.5f}", f"[{d.low:+.5f}, {d.high:+.5f}]"
            verdict = (
                "significantly better"
                if d.significantly_better
                else ("significantly worse" if d.significantly_worse else "no significant difference")
            )
        out.add_row(
            s.label,
            *(f"{m[k]:.4f}" for k in shown),
            delta,
            ci,
            verdict,
            s.record["ledger_key"].rsplit("/", 1)[-1],
        )
    Console(width=200).print(out)
    _print_variants(table, task)
    if crowned:
        click.echo(f"champion: {crowned['label']} (promoted {crowned['promoted_at']})")
    else:
        click.echo(
            "no champion yet: the first promotion must beat the no-skill reference (the training mean)"
        )


@experiment.command("promote")
@task_option
@click.option("--snapshot", "snapshot_name", required=True, help="Snapshot name.")
@click.option(
    "--model",
    required=True,
    help="The challenger, as compare labels it: a model with one variant on SNAPSHOT, "
    "or MODEL@VARIANT_HASH_PREFIX.",
)
def experiment_promote(task_name: str | None, snapshot_name: str, model: str) -> None:
    """Make MODEL TASK's champion only if it beats the champion significantly; publish its predictions."""
    from dataops_assets.resources.factory import open_resource
    from dataops_assets.science.promotion import PromotionRefused, promote

    task = _task(task_name)
    storage, frozen = _snapshot(snapshot_name)
    try:
        promotion = promote(
            storage, open_resource(environment(secrets=True), "hot_store"), task, frozen, model
        )
    except PromotionRefused as error:
        fail(f"promotion refused: {error}")
    d, published = promotion["difference"], promotion["published"]
    click.echo(
        f"promoted {promotion['label']} for task {task.name} on {snapshot_name}: {promotion['metric']} "
        f"{d['mean']:+.5f} vs {promotion['versus']['label']}, 95% CI [{d['low']:+.5f}, {d['high']:+.5f}] "
        f"over {d['rows']:,} test examples"
    )
    click.echo(
        f"published {published['rows']:,} predictions to hot table {published['table']} "
        f"({published['first_day']}..{published['last_day']})"
    )
