"""The MLflow pyfunc wrapper of `AnomalyModel` (`slopipe.detect.model`).

`predict` takes raw samples (columns timestamp, series, value; kind optional) and returns one
row per scored sample: timestamp, series, anomaly_score (in [0, 1], higher is more
anomalous) and is_anomaly. Served by `mlflow models serve`, it answers `/invocations` with
those rows. Send each series' recent history with the samples you want scored (the model's
docstring says how much); a series the model has no forest for is an error naming it.
"""

from __future__ import annotations

import joblib
import mlflow.pyfunc
import pandas as pd


class AnomalyPyfunc(mlflow.pyfunc.PythonModel):
    def __init__(self, model=None):
        self.model = model

    def load_context(self, context) -> None:
        self.model = joblib.load(context.artifacts["model"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        scored = self.model.score(model_input)
        scored["timestamp"] = scored["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        return scored[["timestamp", "series", "anomaly_score", "is_anomaly"]]
