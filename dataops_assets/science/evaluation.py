"""How a model is judged: metrics on the test days, and a paired bootstrap of the difference
between two models on the same test rows.

The gate's metric is the Brier score (mean squared error of the predicted probability; lower is
better). It is a proper scoring rule, so it rewards calibrated probabilities — what the hot store
serves — and it is a mean over rows, so the difference of two models is a mean of per-row
differences that a paired bootstrap resamples exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataops_assets.science.features import TARGET

if TYPE_CHECKING:  # pandas and numpy are imported where used: the code location loads without them
    import numpy as np
    import pandas as pd

GATE_METRIC = "brier"
CONFIDENCE = 0.95
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 2013
_CHUNK = 200  # resamples drawn at once: bounds memory at _CHUNK x rows


def judged_rows(scored: pd.DataFrame) -> pd.DataFrame:
    """The rows a model is judged on: the test days' flights whose outcome is known."""
    return scored[(scored["split"] == "test") & scored[TARGET].notna()]


def metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    import numpy as np
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    actual = actual.astype(int)
    clipped = np.clip(predicted, 1e-6, 1 - 1e-6)
    both_classes = 0 < actual.sum() < len(actual)
    return {
        "brier": float(brier_score_loss(actual, predicted)),
        "log_loss": float(log_loss(actual, clipped, labels=[0, 1])),
        "roc_auc": float(roc_auc_score(actual, predicted)) if both_classes else float("nan"),
        "accuracy": float(((predicted >= 0.5) == actual).mean()),
        "late_rate": float(actual.mean()),
        "mean_predicted": float(predicted.mean()),
        "test_rows": float(len(actual)),
    }


@dataclass(frozen=True)
class Difference:
    """challenger minus reference on the gate metric, with its bootstrap confidence interval."""

    mean: float
    low: float
    high: float
    rows: int

    @property
    def significantly_better(self) -> bool:
        return self.high < 0  # lower Brier is better: the whole interval must be below zero

    def describe(self) -> str:
        return f"{self.mean:+.5f} [{self.low:+.5f}, {self.high:+.5f}]"


def paired_bootstrap(actual: np.ndarray, challenger: np.ndarray, reference: np.ndarray) -> Difference:
    """The challenger's Brier score minus the reference's, resampling the same test rows for both."""
    import numpy as np

    actual = actual.astype(float)
    per_row = (challenger - actual) ** 2 - (reference - actual) ** 2
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    n = len(per_row)
    means = np.concatenate(
        [
            per_row[rng.integers(0, n, size=(min(_CHUNK, BOOTSTRAP_SAMPLES - start), n))].mean(axis=1)
            for start in range(0, BOOTSTRAP_SAMPLES, _CHUNK)
        ]
    )
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Difference(mean=float(per_row.mean()), low=float(low), high=float(high), rows=n)
