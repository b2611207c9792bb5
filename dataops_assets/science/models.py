"""Models are the data scientists' files in `science/models/`, one model a file:

- `<model>.py` defining `class Model` with a `params` dict of defaults, `fit(self, frame, target, seed)`
  and `predict(self, frame)`: `frame` holds the examples' columns (the target removed), `target` their
  answers (0/1 for a classification task, numbers for a regression); `predict` returns a probability
  (classification) or a value (regression) per row.
- `<model>.yaml` naming a scikit-learn estimator, its default parameters, the features it reads and how
  categorical columns are encoded (`categorical: one_hot | ordinal`).

A model's identity is its name, its parameters and the sha256 of its file's content: an edited file is
another variant, committed or not.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dataops_assets import paths
from dataops_assets.task_declarations import Task
from dataops_assets.yaml_config import SAFE_LOADER, validation_problems

if TYPE_CHECKING:  # pandas and numpy are imported where used: the code location loads without them
    import numpy as np
    import pandas as pd

SUFFIXES = (".py", ".yaml")


class ModelError(ValueError):
    """A model or parameters an experiment cannot use; the message says which."""


class UnknownModel(ModelError):
    pass


class InvalidParams(ModelError):
    pass


def models_dir() -> Path:
    return paths.SCIENCE_DIR / "models"


def model_names(directory: Path | None = None) -> list[str]:
    directory = directory or models_dir()
    if not directory.is_dir():
        return []
    return sorted(
        {p.stem for p in directory.iterdir() if p.suffix in SUFFIXES and not p.name.startswith("_")}
    )


class EstimatorDeclaration(BaseModel):
    """`science/models/<model>.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    estimator: str = Field(
        pattern=r"^sklearn(\.[A-Za-z_][A-Za-z0-9_]*)+$", description="e.g. sklearn.linear_model.Ridge"
    )
    params: dict[str, Any] = {}
    features: tuple[str, ...] | None = Field(
        None, description="Default: every column but key, date and target."
    )
    categorical: Literal["one_hot", "ordinal"] = "one_hot"


@dataclass(frozen=True)
class ModelFile:
    """One model file, read: what it is called, its content hash, and its parameters."""

    name: str
    path: Path
    sha256: str
    defaults: dict
    allowed: frozenset[str]  # the parameters an override may set
    build: Any  # (params, task) -> an unfitted model

    def resolve(self, overrides: dict) -> dict:
        """The defaults with `overrides` applied, each checked against its default's type."""
        unknown = [key for key in overrides if key not in self.allowed]
        if unknown:
            raise InvalidParams(
                f"{self.name} has no parameter {', '.join(map(repr, unknown))}; "
                f"its parameters: {', '.join(sorted(self.allowed)) or 'none'}"
            )
        return self.defaults | {
            key: _checked(self.name, key, value, self.defaults[key]) if key in self.defaults else value
            for key, value in overrides.items()
        }


def _checked(name: str, key: str, value: object, default: object) -> object:
    """`value` if it has the default's type; an int where the default is a float becomes that float."""
    if type(value) is int and type(default) is float:
        return float(value)  # 20 and 20.0 are the same parameters, with the same hash
    if default is not None and type(value) is not type(default):
        raise InvalidParams(
            f"{name} parameter {key} must be {type(default).__name__} like its default {default!r}, "
            f"got {type(value).__name__} {value!r}"
        )
    return value


def load_model_file(name: str, directory: Path | None = None) -> ModelFile:
    directory = directory or models_dir()
    names = model_names(directory)
    if name not in names:
        raise UnknownModel(f"unknown model {name!r}; models in {directory}: {', '.join(names) or 'none'}")
    found = [
        directory / f"{name}{suffix}" for suffix in SUFFIXES if (directory / f"{name}{suffix}").is_file()
    ]
    if len(found) > 1:
        raise UnknownModel(f"model {name} is declared twice ({', '.join(p.name for p in found)}): keep one")
    [path] = found
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    reader = _python_model if path.suffix == ".py" else _estimator_model
    return reader(name, path, sha256, data)


def _python_model(name: str, path: Path, sha256: str, data: bytes) -> ModelFile:
    # The module is named by its content hash: an edited file is a new module, never a stale one.
    spec = importlib.util.spec_from_file_location(f"dataops_science_model_{name}_{sha256[:12]}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # a user's file: any error it raises is a reason, in one line
        raise ModelError(f"{path}: cannot be loaded: {type(error).__name__}: {error}") from None
    cls = getattr(module, "Model", None)
    if not (
        isinstance(cls, type)
        and isinstance(getattr(cls, "params", {}), dict)
        and callable(getattr(cls, "fit", None))
        and callable(getattr(cls, "predict", None))
    ):
        raise ModelError(
            f"{path}: defines no class Model with a params dict, fit(frame, target, seed) and predict(frame)"
        )
    defaults = dict(getattr(cls, "params", {}))

    def build(params: dict, task: Task):
        model = cls()
        model.params = params
        return model

    return ModelFile(name, path, sha256, defaults, frozenset(defaults), build)


def _estimator_model(name: str, path: Path, sha256: str, data: bytes) -> ModelFile:
    import yaml

    try:
        raw = yaml.load(data, Loader=SAFE_LOADER)
        declared = EstimatorDeclaration.model_validate(raw)
    except yaml.YAMLError as error:
        raise ModelError(f"{path}: not valid YAML: {str(error).splitlines()[0]}") from None
    except ValidationError as error:
        raise ModelError(f"{path}: {validation_problems(error)}") from None
    module, _, attribute = declared.estimator.rpartition(".")
    try:
        estimator = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError):
        raise ModelError(f"{path}: estimator: scikit-learn has no {declared.estimator}") from None
    allowed = frozenset(estimator().get_params(deep=False))
    unknown = sorted(set(declared.params) - allowed)
    if unknown:
        raise ModelError(f"{path}: params: {declared.estimator} has no parameter {', '.join(unknown)}")

    def build(params: dict, task: Task):
        return EstimatorModel(declared, estimator, params, task)

    return ModelFile(name, path, sha256, dict(declared.params), allowed, build)


class EstimatorModel:
    """A scikit-learn estimator behind the same fit/predict as a Python model file."""

    def __init__(self, declared: EstimatorDeclaration, estimator: type, params: dict, task: Task):
        self.declared, self.estimator, self.params, self.task = declared, estimator, params, task
        self.pipeline, self.categorical = None, []

    def _columns(self, frame: pd.DataFrame) -> list[str]:
        if self.declared.features is not None:
            absent = [c for c in self.declared.features if c not in frame]
            if absent:
                raise ModelError(f"features {', '.join(absent)} are not columns of task {self.task.name}")
            return list(self.declared.features)
        skipped = {*self.task.key, self.task.date_column, self.task.target}
        return [c for c in frame.columns if c not in skipped]

    def fit(self, frame: pd.DataFrame, target: pd.Series, seed: int) -> None:
        import numpy as np
        from pandas.api.types import is_bool_dtype, is_numeric_dtype
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

        columns = self._columns(frame)
        categorical = [c for c in columns if is_bool_dtype(frame[c]) or not is_numeric_dtype(frame[c])]
        numeric = [c for c in columns if c not in categorical]
        encoder = (
            OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            if self.declared.categorical == "one_hot"
            else OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
        )
        encode = ColumnTransformer(
            [("categories", encoder, categorical), ("numbers", "passthrough", numeric)]
        )
        settings = dict(self.params)
        if "random_state" in self.estimator().get_params(deep=False):
            settings.setdefault("random_state", seed)
        self.pipeline = make_pipeline(encode, self.estimator(**settings))
        self.pipeline.fit(frame[columns].astype({c: str for c in categorical}), target)
        self.categorical = categorical

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        rows = frame[self._columns(frame)].astype({c: str for c in self.categorical})
        if self.task.kind == "classification":
            return self.pipeline.predict_proba(rows)[:, 1]
        return self.pipeline.predict(rows)


def one_thread():
    # On thousands of rows OpenMP's thread start-up costs more than it saves (a 2-core probe: 16 s
    # with the default threads, 2.8 s with one), and one thread keeps a fit independent of the machine.
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


@dataclass
class Fitted:
    """A model fitted on a task's training days."""

    model_file: ModelFile
    params: dict
    task: Task
    model: Any

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        rows = frame.drop(columns=[c for c in (self.task.target, "split") if c in frame])
        with one_thread():
            return np.asarray(self.model.predict(rows), dtype="float64")


def known(frame: pd.DataFrame, task: Task) -> pd.DataFrame:
    """The rows whose answer is known: the only ones trained and judged on."""
    return frame[frame[task.target].notna()]


def answers(frame: pd.DataFrame, task: Task) -> pd.Series:
    return frame[task.target].astype(int if task.kind == "classification" else float)


def train(model_file: ModelFile, params: dict, frame: pd.DataFrame, task: Task, seed: int) -> Fitted:
    """The model fitted on the frame's training days with known answers (split_by_date's `train`
    rows): how an experiment fits it, and how the champion is fitted again to score new days."""
    rows = known(frame[frame["split"] == "train"], task)
    model = model_file.build(params, task)
    with one_thread():
        model.fit(rows.drop(columns=[task.target, "split"]), answers(rows, task), seed)
    return Fitted(model_file, params, task, model)
