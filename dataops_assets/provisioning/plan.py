"""`env plan` / `env apply`: the environment's desired state against what exists, terraform-style.

Each backend (local directories, S3, PostgreSQL) inspects its part and returns Changes; a Change knows
how to carry itself out. Apply records what it made in the environment's state table, so something
made once and later removed by hand shows as drift (!) rather than as a first creation (+).
"""

from __future__ import annotations

from dataops_assets.environments.model import Environment
from dataops_assets.provisioning import buckets, database, directories
from dataops_assets.provisioning.changes import Change, Plan


def plan(env: Environment) -> Plan:
    targets: list[str] = []
    changes: list[Change] = []
    postgres_part = database.inspect(env)
    applied = postgres_part.applied if postgres_part else set()
    for part in (directories.inspect(env), buckets.inspect(env, applied), postgres_part):
        if part is not None:
            targets.append(part.target)
            changes += part.changes
    return Plan(env.name, targets or ["local only"], changes, postgres_part.record if postgres_part else None)


def apply(plan_: Plan, echo=print) -> list[Change]:
    """Carry out every pending change in order; returns what was done."""
    done = []
    for change in plan_.pending:
        echo(change.line())
        change.fix()
        done.append(change)
    if plan_.record and done:
        plan_.record([c.address for c in done])
    return done
