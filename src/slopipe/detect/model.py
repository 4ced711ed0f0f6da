"""The pipeline's anomaly model: an Isolation Forest over scale-free per-series features.

`AnomalyModel.score` takes raw samples (timestamp, series, value, and optionally kind), builds
the features of `slopipe.prepare.features` itself, and returns one row per sample with
`anomaly_score` (the forest's negated score: higher is more anomalous) and `is_anomaly`
(score at or above the threshold fixed at training time from the expected contamination).
Because features need history, score a span together with the day before it and keep the
rows you want.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from slopipe.errors import DetectError
from slopipe.prepare import FEATURES, build_features, prepare

REQUIRED = ["timestamp", "series", "value"]


@dataclass
class AnomalyModel:
    contamination: float = 0.003
    n_estimators: int = 200
    seed: int = 0
    threshold: float = float("nan")
    forest: IsolationForest | None = None
    training: dict = field(default_factory=dict)

    def fit(self, features: pd.DataFrame) -> AnomalyModel:
        """Fit on feature rows (see `features_from_samples`)."""
        if len(features) < 50:
            raise DetectError(f"training needs at least 50 feature rows, got {len(features)}")
        matrix = features[FEATURES].to_numpy(dtype="float64")
        self.forest = IsolationForest(
            n_estimators=self.n_estimators, random_state=self.seed, n_jobs=1
        ).fit(matrix)
        train_scores = -self.forest.score_samples(matrix)
        self.threshold = float(np.quantile(train_scores, 1.0 - self.contamination))
        self.training = {
            "rows": len(features),
            "series": sorted(features["series"].unique()),
            "start": str(features["timestamp"].min()),
            "end": str(features["timestamp"].max()),
        }
        return self

    def score_features(self, features: pd.DataFrame) -> pd.DataFrame:
        if self.forest is None:
            raise DetectError("the model is not fitted: call fit first")
        missing = [f for f in FEATURES if f not in features.columns]
        if missing:
            raise DetectError(f"feature rows lack column(s) {', '.join(missing)}")
        scores = -self.forest.score_samples(features[FEATURES].to_numpy(dtype="float64"))
        out = features[["timestamp", "series", "value"]].copy()
        out["anomaly_score"] = scores
        out["is_anomaly"] = scores >= self.threshold
        return out

    def score(self, samples: pd.DataFrame) -> pd.DataFrame:
        """Score raw samples; see the module docstring for the contract."""
        return self.score_features(features_from_samples(samples))


def features_from_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """Prepared features of raw samples (timestamp, series, value, optional kind)."""
    missing = [c for c in REQUIRED if c not in samples.columns]
    if missing:
        raise DetectError(f"samples lack column(s) {', '.join(missing)}; need {REQUIRED}")
    frame = samples.copy()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    if "kind" not in frame.columns:
        frame["kind"] = "gauge"
    frame["labels"] = "{}"
    prepared, _ = prepare(frame)
    return build_features(prepared)
