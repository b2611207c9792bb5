"""Science tasks as the data scientists declare them: `science/tasks/<task>.yaml` beside its features
query `<task>.sql`. Dagster-free: the science track runs tasks, and the served-data contract reads the
hot table a task's champion predictions are served from (`serve: {table: …}`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from dataops_assets import paths
from dataops_assets.names import SAFE_NAME
from dataops_assets.yaml_config import InvalidConfig, load_yaml_model

# Lower is better for each; which ones fit a kind of task.
METRICS_OF_KIND = {"classification": ("brier", "log_loss"), "regression": ("rmse", "mae")}


class UnknownTask(InvalidConfig):
    """No task of that name, or none can be chosen by default; the message lists the tasks."""


class Serve(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str = Field(
        pattern=SAFE_NAME.pattern, description="The hot table the champion's predictions go to."
    )


class Task(BaseModel):
    """One question: what rows, what answer, how a model's predictions are judged and served."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=SAFE_NAME.pattern)
    description: str = ""
    datasets: tuple[str, ...] = Field(min_length=1, description="What a snapshot must pin.")
    features: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+\.sql$", description="The features query, beside the YAML."
    )
    key: tuple[str, ...] = Field(min_length=1, description="Unique per example.")
    date_column: str
    target: str
    kind: Literal["classification", "regression"]
    metric: Literal["brier", "log_loss", "rmse", "mae"]
    test_days: int = Field(ge=1, description="The snapshot's last N days are the test set.")
    serve: Serve | None = None
    _directory: Path = PrivateAttr(Path("."))  # where the YAML is: set when loaded, never by the YAML

    @model_validator(mode="after")
    def _consistent(self) -> Task:
        if self.metric not in METRICS_OF_KIND[self.kind]:
            raise ValueError(
                f"metric {self.metric} does not judge a {self.kind} task: use one of "
                f"{', '.join(METRICS_OF_KIND[self.kind])}"
            )
        if len(set(self.key)) != len(self.key):
            raise ValueError("key names a column twice")
        if self.target in self.key or self.target == self.date_column:
            raise ValueError(f"target {self.target} cannot be a key or the date column")
        return self

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def sql_path(self) -> Path:
        return self.directory / self.features

    @property
    def served_columns(self) -> tuple[str, ...]:
        """The identifying columns of each served prediction: the key, and the date when not in it."""
        return self.key if self.date_column in self.key else (self.date_column, *self.key)


def tasks_dir() -> Path:
    return paths.SCIENCE_DIR / "tasks"


def task_names(directory: Path | None = None) -> list[str]:
    directory = directory or tasks_dir()
    return sorted(p.stem for p in directory.glob("*.yaml")) if directory.is_dir() else []


def load_task(name: str | None = None, directory: Path | None = None) -> Task:
    """Task `name`; with no name, the only task there is."""
    directory = directory or tasks_dir()
    names = task_names(directory)
    if name is None:
        if len(names) != 1:
            raise UnknownTask(
                f"{len(names)} tasks in {directory} ({', '.join(names) or 'none'}): name one with --task"
            )
        name = names[0]
    if name not in names:
        raise UnknownTask(f"unknown task {name!r}; tasks in {directory}: {', '.join(names) or 'none'}")
    path = directory / f"{name}.yaml"
    task = load_yaml_model(path, Task)
    task._directory = directory
    if not task.sql_path.is_file():
        raise InvalidConfig(f"{path}: features: no file {task.features} beside it")
    return task


def load_tasks(directory: Path | None = None) -> list[Task]:
    return [load_task(name, directory) for name in task_names(directory)]
