"""A service model logged on a training run comes back from MLflow scoring the same."""

from __future__ import annotations

import joblib
import mlflow
import numpy as np
import pandas as pd

from slopipe.config import Settings
from slopipe.detect.multivariate import ServiceModel, ServiceModelConfig
from slopipe.registry.mlflow_registry import Registry


def service_frame(steps: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-01-01", periods=steps, freq="1min", tz="UTC")
    parts = [
        pd.DataFrame({"timestamp": times, "series": name, "value": rng.normal(0, 1, steps)})
        for name in ("cpu", "db")
    ]
    return pd.concat(parts, ignore_index=True)


def test_a_logged_service_model_loads_back_and_gives_the_same_scores(tmp_path):
    registry = Registry(Settings(home=tmp_path / "home"))
    run = registry.client.create_run(registry.experiment_id)
    frame = service_frame(400)
    train, later = frame[frame["timestamp"] < "2024-01-01 05:00"], frame
    config = ServiceModelConfig(baseline_window=pd.Timedelta(minutes=30), n_estimators=20)
    model = ServiceModel(config).fit(train)
    folder = registry.log_service_model(run.info.run_id, "shop/api:1", model, {"service": "shop"})
    assert folder == "services/shop_api_1"
    path = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id,
        artifact_path=f"{folder}/service_model.joblib",
        dst_path=str(tmp_path / "down"),
        tracking_uri=registry.tracking_uri,
    )
    loaded = joblib.load(path)
    document = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/{folder}/service.json")
    assert document == {"service": "shop"}
    pd.testing.assert_series_equal(
        loaded.score(later).anomaly_score, model.score(later).anomaly_score
    )
