"""How a model is judged: metrics on the test days, and a paired bootstrap of the difference between
two models' gate metric on the same test examples.

A task names its gate metric; each is lower-is-better: `brier` (mean squared error of a probability)
and `log_loss` for a classification, `rmse` and `mae` for a regression. Brier and log loss are proper
scoring rules, so they reward calibrated probabilities — what the hot store serves. Each metric is a
function of a mean of per-example losses, so resampling the same test examples for both models (a
paired bootstrap) gives the interval of their difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataops_assets.task_declarations import Task

if TYPE_CHECKING:  # pandas and numpy are imported where used: the code location loads without them
    import numpy as np
    import pandas as pd

CONFIDENCE = 0.95
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 2013
_CHUNK = 200  # resamples drawn at once: bounds memory at _CHUNK x rows
_CLIP = 1e-6  # log loss of a probability of exactly 0 or 1 would be infinite


def judged_rows(scored: pd.DataFrame, task: Task) -> pd.DataFrame:
    """The rows a model is judged on: the test days' examples whose answer is known."""
    return scored[(scored["split"] == "test") & scored[task.target].notna()]


def actual_values(rows: pd.DataFrame, task: Task) -> np.ndarray:
    return rows[task.target].to_numpy(dtype=bool if task.kind == "classification" else float).astype(float)


def losses(metric: str, actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per-example loss whose mean (its square root for rmse) is the metric."""
    import numpy as np

    if metric in ("brier", "rmse"):
        return (predicted - actual) ** 2
    if metric == "mae":
        return np.abs(predicted - actual)
    if metric == "log_loss":
        p = np.clip(predicted, _CLIP, 1 - _CLIP)
        return -(actual * np.log(p) + (1 - actual) * np.log(1 - p))
    raise ValueError(f"unknown metric {metric!r}")


def metrics(task: Task, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    import numpy as np

    if task.kind == "regression":
        from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

        return {
            "rmse": float(np.sqrt(mean_squared_error(actual, predicted))),
            "mae": float(mean_absolute_error(actual, predicted)),
            "r2": float(r2_score(actual, predicted)) if len(actual) > 1 else float("nan"),
            "mean_actual": float(actual.mean()),
            "mean_predicted": float(predicted.mean()),
            "test_rows": float(len(actual)),
        }
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    actual = actual.astype(int)
    clipped = np.clip(predicted, _CLIP, 1 - _CLIP)
    both_classes = 0 < actual.sum() < len(actual)
    return {
        "brier": float(brier_score_loss(actual, predicted)),
        "log_loss": float(log_loss(actual, clipped, labels=[0, 1])),
        "roc_auc": float(roc_auc_score(actual, predicted)) if both_classes else float("nan"),
        "accuracy": float(((predicted >= 0.5) == actual).mean()),
        "positive_rate": float(actual.mean()),
        "mean_predicted": float(predicted.mean()),
        "test_rows": float(len(actual)),
    }


@dataclass(frozen=True)
class Difference:
    """challenger minus reference on the gate metric, with its bootstrap confidence interval."""

    metric: str
    mean: float
    low: float
    high: float
    rows: int

    @property
    def significantly_better(self) -> bool:
        return self.high < 0  # lower is better: the whole interval must be below zero

    @property
    def significantly_worse(self) -> bool:
        return self.low > 0

    def describe(self) -> str:
        return f"{self.mean:+.5f} [{self.low:+.5f}, {self.high:+.5f}]"


def paired_bootstrap(
    actual: np.ndarray, challenger: np.ndarray, reference: np.ndarray, metric: str = "brier"
) -> Difference:
    """The challenger's metric minus the reference's, resampling the same test examples for both."""
    import numpy as np

    actual = actual.astype(float)
    mine, theirs = losses(metric, actual, challenger), losses(metric, actual, reference)
    if metric == "rmse":  # a square root of a mean: the difference of the two roots per resample

        def statistic(rows):
            return np.sqrt(mine[rows].mean(axis=-1)) - np.sqrt(theirs[rows].mean(axis=-1))
    else:  # a mean: the mean of the per-example differences
        per_row = mine - theirs

        def statistic(rows):
            return per_row[rows].mean(axis=-1)

    rng = np.random.default_rng(BOOTSTRAP_SEED)
    n = len(actual)
    resampled = np.concatenate(
        [
            statistic(rng.integers(0, n, size=(min(_CHUNK, BOOTSTRAP_SAMPLES - start), n)))
            for start in range(0, BOOTSTRAP_SAMPLES, _CHUNK)
        ]
    )
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return Difference(metric, float(statistic(np.arange(n))), float(low), float(high), n)
