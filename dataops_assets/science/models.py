"""The models an experiment can train. Each predicts P(late) for every row of a feature frame.

- `climatology`: the training days' share of late flights, for every flight. No skill by design:
  the reference a first champion must beat, and the deliberately weak challenger of the gate's tests.
- `baseline`: the historical late rate by scheduled hour, carrier and route, each level shrunk
  towards the one above it (hour+carrier+route -> hour+carrier -> hour -> all flights) so thin
  groups do not overfit.
- `gradient_boosting`: scikit-learn's HistGradientBoostingClassifier on the route, the hour, the
  weather at departure and the plane.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dataops_assets.science.features import CATEGORICAL, NUMERIC, TARGET

if TYPE_CHECKING:  # pandas and numpy are imported where used: the code location loads without them
    import numpy as np
    import pandas as pd


class ModelError(ValueError):
    """A model or parameters an experiment cannot use; the message says which."""


class UnknownModel(ModelError):
    pass


class InvalidParams(ModelError):
    pass


def _known(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame[TARGET].notna()]


@dataclass
class Climatology:
    params: dict = field(default_factory=dict)
    rate: float = 0.0

    def fit(self, train: pd.DataFrame, seed: int) -> None:
        self.rate = float(_known(train)[TARGET].astype(float).mean())

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        return np.full(len(frame), self.rate)


# Coarse to fine; the hour comes first because delays build up over the day on every route.
BASELINE_LEVELS = [["dep_hour"], ["dep_hour", "carrier"], ["dep_hour", "carrier", "origin", "dest"]]


@dataclass
class HistoricalRate:
    params: dict = field(default_factory=lambda: {"levels": BASELINE_LEVELS, "prior_strength": 20.0})
    global_rate: float = 0.0
    rates: list[pd.Series] = field(default_factory=list)

    def fit(self, train: pd.DataFrame, seed: int) -> None:
        import pandas as pd

        known = _known(train).assign(_late=lambda f: f[TARGET].astype(float))
        self.global_rate = float(known["_late"].mean())
        parent = pd.Series(self.global_rate, index=known.index)
        self.rates = []
        for level in self.params["levels"]:
            # Empirical-Bayes shrinkage: k pseudo-flights at the parent level's rate.
            stats = known.assign(_parent=parent).groupby(level)[["_late", "_parent"]].agg(["sum", "count"])
            k = self.params["prior_strength"]
            n = stats[("_late", "count")]
            prior = stats[("_parent", "sum")] / n
            rate = (stats[("_late", "sum")] + k * prior) / (n + k)
            self.rates.append(rate)
            parent = self._lookup(known, level, rate, parent)

    @staticmethod
    def _lookup(frame: pd.DataFrame, level: list[str], rate: pd.Series, fallback: pd.Series) -> pd.Series:
        import numpy as np
        import pandas as pd

        index = pd.MultiIndex.from_frame(frame[level]) if len(level) > 1 else pd.Index(frame[level[0]])
        found = rate.reindex(index).to_numpy()
        return pd.Series(np.where(np.isnan(found), fallback.to_numpy(), found), index=frame.index)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        import pandas as pd

        estimate = pd.Series(self.global_rate, index=frame.index)
        for level, rate in zip(self.params["levels"], self.rates, strict=True):
            estimate = self._lookup(frame, level, rate, estimate)
        return estimate.to_numpy()


@dataclass
class GradientBoosting:
    params: dict = field(
        default_factory=lambda: {
            "learning_rate": 0.06,
            "max_iter": 250,
            "max_leaf_nodes": 31,
            "min_samples_leaf": 40,
            "l2_regularization": 1.0,
            "early_stopping": False,  # a random validation split would make the fit depend on more than the seed
        }
    )
    pipeline: object = None

    def fit(self, train: pd.DataFrame, seed: int) -> None:
        import numpy as np
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OrdinalEncoder

        encode = ColumnTransformer(
            [
                (
                    "categories",
                    OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
                    CATEGORICAL,
                ),
                ("numbers", "passthrough", NUMERIC),
            ]
        )
        model = HistGradientBoostingClassifier(
            **self.params, categorical_features=list(range(len(CATEGORICAL))), random_state=seed
        )
        known = _known(train)
        with _one_thread():
            self.pipeline = make_pipeline(encode, model).fit(known, known[TARGET].astype(int))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        with _one_thread():
            return self.pipeline.predict_proba(frame)[:, 1]


def _one_thread():
    # On thousands of rows OpenMP's thread start-up costs more than it saves (a 2-core probe: 16 s
    # with the default threads, 2.8 s with one), and one thread keeps the fit independent of the machine.
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


MODELS = {"climatology": Climatology, "baseline": HistoricalRate, "gradient_boosting": GradientBoosting}
# With no champion yet, a model must beat knowing nothing: the no-skill reference.
REFERENCE_MODEL = "climatology"


def _model_class(name: str) -> type:
    if name not in MODELS:
        raise UnknownModel(f"unknown model {name!r}; models: {', '.join(MODELS)}")
    return MODELS[name]


def default_params(name: str) -> dict:
    return _model_class(name)().params


def _checked(name: str, key: str, value: object, default: object) -> object:
    """`value` if it has the default's type; an int where the default is a float becomes that float."""
    if type(value) is int and type(default) is float:
        return float(value)  # 20 and 20.0 are the same parameters, with the same hash
    if type(value) is not type(default):
        raise InvalidParams(
            f"{name} parameter {key} must be {type(default).__name__} like its default {default!r}, "
            f"got {type(value).__name__} {value!r}"
        )
    return value


def resolve_params(name: str, overrides: dict) -> dict:
    """The model's default parameters with `overrides` applied, each checked against its default."""
    defaults = default_params(name)
    unknown = [key for key in overrides if key not in defaults]
    if unknown:
        raise InvalidParams(
            f"{name} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters: {', '.join(defaults) or 'none'}"
        )
    return defaults | {key: _checked(name, key, value, defaults[key]) for key, value in overrides.items()}


def make_model(name: str, overrides: dict | None = None):
    return _model_class(name)(params=resolve_params(name, overrides or {}))


def train(name: str, overrides: dict, frame: pd.DataFrame, seed: int):
    """Model `name` fitted on the frame's training days (split_by_date's `train` rows): how an
    experiment fits it, and how the champion is fitted again to score new days."""
    model = make_model(name, overrides)
    model.fit(frame[frame["split"] == "train"], seed)
    return model
