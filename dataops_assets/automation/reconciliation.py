"""GitOps reconciliation inside Dagster: the platform (buckets, schemas, roles, grants) checked against
its environment file on a schedule, by the same `plan` as `dataops env plan`.

The platform is an external asset, `platform/environment`, with one check, `matches_its_file`: it
passes when the plan has nothing to do, and fails listing the plan's lines otherwise — an ERROR
listing the `!` lines when something apply made has drifted (removed or changed by hand), a WARN when
the file declares something not applied yet. The check only reads: `dataops env apply` stays the only
writer of the platform.
"""

from __future__ import annotations

import dagster as dg

from dataops_assets.environments.model import Environment, MissingSecretError

ENVIRONMENT_KEY = dg.AssetKey(["platform", "environment"])
CHECK = "matches_its_file"


def reconcile(env: Environment) -> dg.AssetCheckResult:
    """The check's result for what exists now (imports the backends' clients only when it runs)."""
    from dataops_assets.provisioning.changes import PlanError
    from dataops_assets.provisioning.plan import plan

    try:
        current = plan(env)
    except (PlanError, MissingSecretError) as error:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"cannot compare {env.name} with what exists: {str(error).splitlines()[0]}",
        )
    drifted = [c.line().strip() for c in current.changes if c.action == "drift"]
    not_applied = [c.line().strip() for c in current.pending if c.action != "drift"]
    if drifted:
        summary = f"{len(drifted)} drifted from environments/{env.name}.yaml: " + "; ".join(drifted)
    elif not_applied:
        summary = f"{len(not_applied)} declared but not applied (run `dataops env apply {env.name}`)"
    else:
        summary = "the platform matches its file"
    return dg.AssetCheckResult(
        passed=not current.pending,
        severity=dg.AssetCheckSeverity.ERROR if drifted else dg.AssetCheckSeverity.WARN,
        description=summary,
        metadata={
            "drifted": dg.MetadataValue.json(drifted),
            "not_applied": dg.MetadataValue.json(not_applied),
            "plan": dg.MetadataValue.md(f"```\n{current.render()}\n```"),
        },
    )


def reconciliation(env: Environment) -> tuple[list[dg.AssetSpec], list[dg.AssetChecksDefinition], list]:
    """The platform asset, its check and the schedule that runs it, when the environment declares
    `reliability.reconcile_cron` (the shared ones); nothing otherwise."""
    cron = env.reliability.reconcile_cron
    if cron is None:
        return [], [], []
    platform = dg.AssetSpec(
        ENVIRONMENT_KEY,
        group_name="platform",
        description=f"The {env.name} platform: its buckets, schemas, roles and grants. Written only by "
        f"`dataops env apply {env.name}`; its check compares it with environments/{env.name}.yaml.",
    )

    @dg.asset_check(
        asset=ENVIRONMENT_KEY,
        name=CHECK,
        description=f"`dataops env plan {env.name}` has nothing to do (a failure lists the ! lines)",
    )
    def matches_its_file() -> dg.AssetCheckResult:
        return reconcile(env)

    schedule = dg.ScheduleDefinition(
        name="reconcile_environment",
        cron_schedule=cron,
        target=dg.AssetSelection.checks(matches_its_file),
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return [platform], [matches_its_file], [schedule]
