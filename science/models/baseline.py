"""The historical late rate by scheduled hour, carrier and route, each level shrunk towards the one
above it (hour+carrier+route -> hour+carrier -> hour -> all flights) so thin groups do not overfit."""

import numpy as np
import pandas as pd


class Model:
    # Coarse to fine; the hour comes first because delays build up over the day on every route.
    params: dict = {
        "levels": [["dep_hour"], ["dep_hour", "carrier"], ["dep_hour", "carrier", "origin", "dest"]],
        "prior_strength": 20.0,
    }

    def fit(self, frame, target, seed):
        known = frame.assign(_late=target.astype(float))
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
            parent = _lookup(known, level, rate, parent)

    def predict(self, frame):
        estimate = pd.Series(self.global_rate, index=frame.index)
        for level, rate in zip(self.params["levels"], self.rates, strict=True):
            estimate = _lookup(frame, level, rate, estimate)
        return estimate.to_numpy()


def _lookup(frame, level, rate, fallback):
    index = pd.MultiIndex.from_frame(frame[level]) if len(level) > 1 else pd.Index(frame[level[0]])
    found = rate.reindex(index).to_numpy()
    return pd.Series(np.where(np.isnan(found), fallback.to_numpy(), found), index=frame.index)
