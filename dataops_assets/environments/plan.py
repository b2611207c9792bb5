"""`env plan` / `env apply`: the environment's desired state against what exists, terraform-style.

Each backend (local directories, S3, PostgreSQL) inspects its part and returns Changes; a Change knows
how to carry itself out. Apply records what it made in the environment's state table, so something
made once and later removed by hand shows as drift (!) rather than as a first creation (+).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from dataops_assets.environments.model import Environment

Action = Literal["create", "update", "noop", "drift"]
SYMBOLS: dict[Action, str] = {"create": "+", "update": "~", "noop": "=", "drift": "!"}


@dataclass(frozen=True)
class Change:
    action: Action
    address: str  # what it is, e.g. "s3 bucket dataops-staging"
    reason: str = ""  # what differs, for create/update/drift
    fix: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def line(self) -> str:
        return f"  {SYMBOLS[self.action]} {self.address}" + (f"  ({self.reason})" if self.reason else "")


@dataclass
class Plan:
    environment: str
    targets: list[str]  # where the plan looked, passwords removed
    changes: list[Change]
    record: Callable[[list[str]], None] | None = None  # remembers what apply made

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action != "noop"]

    def counts(self) -> dict[Action, int]:
        return {a: sum(c.action == a for c in self.changes) for a in SYMBOLS}

    def render(self) -> str:
        lines = [f"environment {self.environment}: " + ", ".join(self.targets)]
        lines += [c.line() for c in self.changes]
        n = self.counts()
        summary = (
            f"Plan: {n['create']} to create, {n['update']} to update, {n['drift']} drifted, "
            f"{n['noop']} unchanged."
        )
        lines.append(summary if self.pending else "No changes. The environment matches its file.")
        return "\n".join(lines)


@dataclass
class Part:
    """One backend's share of a plan."""

    target: str
    changes: list[Change]
    applied: set[str] = field(default_factory=set)
    record: Callable[[list[str]], None] | None = None


def settle(address: str, exists: bool, applied: set[str], fix: Callable[[], None], what: str = "") -> Change:
    """The change for something that either exists as declared or must be made."""
    if exists:
        return Change("noop", address)
    if address in applied:
        return Change("drift", address, f"made by apply, now missing{': ' + what if what else ''}", fix)
    return Change("create", address, what, fix)


def plan(env: Environment) -> Plan:
    from dataops_assets.environments import infra_local, infra_postgres, infra_s3

    targets: list[str] = []
    changes: list[Change] = []
    postgres = infra_postgres.inspect(env)
    applied = postgres.applied if postgres else set()
    for part in (infra_local.inspect(env), infra_s3.inspect(env, applied), postgres):
        if part is not None:
            targets.append(part.target)
            changes += part.changes
    return Plan(env.name, targets or ["local only"], changes, postgres.record if postgres else None)


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
