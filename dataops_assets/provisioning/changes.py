"""What a plan is made of: one Change per thing an environment declares, grouped in Parts (one per
backend), and the Plan that `env plan` prints and `env apply` carries out, terraform-style."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["create", "update", "noop", "drift"]
SYMBOLS: dict[Action, str] = {"create": "+", "update": "~", "noop": "=", "drift": "!"}


class PlanError(RuntimeError):
    """The desired state cannot be compared (a server unreachable); the message has no password."""


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
