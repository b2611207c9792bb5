"""`dataops experiment ...`: experiments on a snapshot, their comparison, and the promotion gate."""

from __future__ import annotations

import json

import click

from dataops_assets.cli.common import environment, fail

METRICS = ("brier", "log_loss", "roc_auc", "accuracy")
STEPS = ("features", "split", "train", "predict", "evaluate")


def _snapshot(name: str):
    from dataops_assets.resources.factory import open_resource
    from dataops_assets.science.snapshots import SnapshotError, load_snapshot

    storage = open_resource(environment(), "cold_storage")
    try:
        return storage, load_snapshot(storage, name)
    except SnapshotError as error:
        fail(str(error))


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


def changed_params(record: dict) -> dict:
    """The run's parameters that differ from its model's defaults (and the default test fraction)."""
    from dataops_assets.science.features import DEFAULT_TEST_FRACTION
    from dataops_assets.science.models import default_params

    defaults = default_params(record["model"]) | {"test_fraction": DEFAULT_TEST_FRACTION}
    return {key: value for key, value in record["params"].items() if defaults.get(key) != value}


def _listed(params: dict) -> str:
    return ", ".join(f"{key}={json.dumps(value)}" for key, value in params.items()) or "defaults"


def _print_variants(table) -> None:
    """Under the table, what each variant changed, once a model has several or a run has overrides."""
    changed = {s.label: changed_params(s.record) for s in table}
    if any("@" in label or params for label, params in changed.items()):
        click.echo("variants:")
        for label, params in changed.items():
            click.echo(f"  {label:<28} {_listed(params)}")


@click.group()
def experiment() -> None:
    """Reproducible experiments on frozen snapshots, and the champion/challenger gate."""


@experiment.command("run")
@click.option("--snapshot", "snapshot_name", required=True, help="Snapshot name (dataops snapshot list).")
@click.option("--model", required=True, help="climatology, baseline or gradient_boosting.")
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
    "--test-fraction", type=float, default=None, help="Share of the last days held out (default 0.25)."
)
def experiment_run(
    snapshot_name: str, model: str, pairs: tuple[str, ...], seed: int | None, test_fraction: float | None
) -> None:
    """Run the science assets for MODEL on SNAPSHOT as one Dagster run; record it in the ledger."""
    from dataops_assets.runs.experiment import ExperimentFailed, run_experiment
    from dataops_assets.science.ledger import variant_label
    from dataops_assets.science.models import ModelError
    from dataops_assets.science.snapshots import SnapshotError

    env = environment()
    params = parse_params(pairs)
    try:
        record = run_experiment(
            env, snapshot_name, model, params, seed=seed, test_fraction=test_fraction, echo=click.echo
        )
    except (SnapshotError, ModelError, ExperimentFailed) as error:
        fail(str(error))
    split = record["split"]
    click.echo(
        f"trained on {split['train_rows']:,} flights, tested on {split['test_rows']:,} "
        f"(from {split['first_test_day']}), seed {record['seed']}"
    )
    for name in (*METRICS, "late_rate", "mean_predicted"):
        click.echo(f"  {name:<15} {record['metrics'][name]:.5f}")
    steps = sorted(record["timings_s"].items(), key=lambda item: STEPS.index(item[0]))
    timings = ", ".join(f"{step} {seconds:.2f} s" for step, seconds in steps)
    click.echo(f"timings: {timings}")
    if params:
        click.echo(f"params: {_listed(changed_params(record))} (variant {variant_label(record)})")
    code = record["code"]
    click.echo(
        f"ledger: {record['ledger_key']} (experiment {record['experiment_key'][:12]}, "
        f"git {code['git_sha'][:12]}{' dirty' if code['dirty'] else ''}, run {record['run_id']})"
    )


@experiment.command("compare")
@click.option("--snapshot", "snapshot_name", required=True, help="Snapshot name.")
def experiment_compare(snapshot_name: str) -> None:
    """Every model's latest run on SNAPSHOT, with its Brier difference to the champion and the 95% CI."""
    from rich.console import Console
    from rich.table import Table

    from dataops_assets.science.promotion import PromotionRefused, standings

    storage, frozen = _snapshot(snapshot_name)
    try:
        crowned, table = standings(storage, frozen)
    except PromotionRefused as error:
        fail(str(error))
    if not table:
        fail(
            f"no experiments on snapshot {snapshot_name} yet: dataops experiment run --snapshot {snapshot_name} ..."
        )
    versus = table[0].versus
    out = Table(title=f"snapshot {frozen.name} ({frozen.id[:12]}): models vs {versus}")
    for column in ("model", *METRICS, "Δ brier", "95% CI", "verdict", "ledger"):
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
                else ("significantly worse" if d.low > 0 else "no significant difference")
            )
        out.add_row(
            s.label,
            *(f"{m[k]:.4f}" for k in METRICS),
            delta,
            ci,
            verdict,
            s.record["ledger_key"].rsplit("/", 1)[-1],
        )
    Console(width=200).print(out)
    _print_variants(table)
    if crowned:
        click.echo(f"champion: {crowned['label']} (promoted {crowned['promoted_at']})")
    else:
        click.echo("no champion yet: the first promotion must beat the no-skill reference (climatology)")


@experiment.command("promote")
@click.option("--snapshot", "snapshot_name", required=True, help="Snapshot name.")
@click.option(
    "--model",
    required=True,
    help="The challenger, as compare labels it: a model with one variant on SNAPSHOT, "
    "or MODEL@PARAMS_HASH_PREFIX.",
)
def experiment_promote(snapshot_name: str, model: str) -> None:
    """Make MODEL the champion on SNAPSHOT only if it beats the champion significantly; publish its predictions."""
    from dataops_assets.resources.factory import open_resource
    from dataops_assets.science.promotion import PromotionRefused, promote

    storage, frozen = _snapshot(snapshot_name)
    try:
        promotion = promote(storage, open_resource(environment(secrets=True), "hot_store"), frozen, model)
    except PromotionRefused as error:
        fail(f"promotion refused: {error}")
    d, published = promotion["difference"], promotion["published"]
    versus = promotion["versus"]["label"]
    click.echo(
        f"promoted {promotion['label']} on {snapshot_name}: {promotion['metric']} {d['mean']:+.5f} vs {versus}, "
        f"95% CI [{d['low']:+.5f}, {d['high']:+.5f}] over {d['rows']:,} test flights"
    )
    click.echo(
        f"published {published['rows']:,} predictions to hot table {published['table']} "
        f"({published['first_day']}..{published['last_day']})"
    )
