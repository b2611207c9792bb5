"""No skill by design: the training days' share of late flights, for every flight. The reference a
first champion must beat in spirit, and the deliberately weak challenger of the gate's tests."""

import numpy as np


class Model:
    params: dict = {}

    def fit(self, frame, target, seed):
        self.rate = float(target.astype(float).mean())

    def predict(self, frame):
        return np.full(len(frame), self.rate)
