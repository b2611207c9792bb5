"""scikit-learn's HistGradientBoostingClassifier on the route, the hour, the weather at departure and
the plane."""

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder

CATEGORICAL = ["carrier", "origin", "dest"]
WEATHER = ["temp", "dewp", "humid", "wind_speed", "wind_gust", "precip", "pressure", "visib"]
NUMERIC = ["dep_hour", "day_of_week", "distance", *WEATHER, "plane_year", "seats", "engines"]


class Model:
    params: dict = {
        "learning_rate": 0.06,
        "max_iter": 250,
        "max_leaf_nodes": 31,
        "min_samples_leaf": 40,
        "l2_regularization": 1.0,
        "early_stopping": False,  # a random validation split would make the fit depend on more than the seed
    }

    def fit(self, frame, target, seed):
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
        self.pipeline = make_pipeline(encode, model).fit(frame, target)

    def predict(self, frame):
        return self.pipeline.predict_proba(frame)[:, 1]
