"""The registered model: logged, loaded back by URI and served as a pyfunc, it scores a NAB
series exactly as the model in memory does; a version MLflow cannot turn back into a model is
a RegistryError that says what to do."""

from __future__ import annotations

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest

from slopipe.config import Settings
from slopipe.detect.model import AnomalyModel, prepared_rows
from slopipe.errors import RegistryError
from slopipe.registry.mlflow_registry import MODEL_CODE, RegisteredModel, Registry
from slopipe.training import example_rows
from tests.conftest import NAB

NAB_FILE = NAB / "data" / "realAWSCloudwatch" / "rds_cpu_utilization_e47b3b.csv"


def nab_samples() -> pd.DataFrame:
    frame = pd.read_csv(NAB_FILE)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame.assign(series="rds_cpu")


@pytest.fixture(scope="module")
def logged(tmp_path_factory) -> tuple[Registry, AnomalyModel, str]:
    registry = Registry(Settings(home=tmp_path_factory.mktemp("registry") / "home"))
    data = nab_samples()
    model = AnomalyModel().fit(prepared_rows(data.head(2822)))
    version = registry.log_candidate(model, {}, {}, example_rows(data)).version
    return registry, model, version


def test_the_pyfunc_loaded_by_uri_gives_the_scores_of_the_model_in_memory(logged):
    registry, model, version = logged
    data = nab_samples()
    served = mlflow.pyfunc.load_model(f"models:/{registry.name}/{version}").predict(
        data.assign(timestamp=data["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    )
    ours = model.score(data)
    assert list(served.columns) == ["timestamp", "series", "anomaly_score", "is_anomaly"]
    assert len(served) == len(ours) == 4032
    np.testing.assert_array_equal(served["anomaly_score"], ours["anomaly_score"])
    np.testing.assert_array_equal(served["is_anomaly"], ours["is_anomaly"])
    assert served["is_anomaly"].sum() > 0


def test_the_registry_loads_the_same_forests_back(logged):
    registry, model, version = logged
    loaded = registry.load(registry._by_alias("challenger"))
    assert loaded.series == ["rds_cpu"] and loaded.config == model.config
    data = nab_samples().tail(1500)
    pd.testing.assert_frame_equal(loaded.score(data), model.score(data))


def test_a_version_saved_by_an_earlier_slopipe_cannot_load_and_says_to_retrain(logged, tmp_path):
    registry, _, _ = logged
    old = AnomalyModel()
    del old.__dict__["forests"]  # what an earlier slopipe pickled lacks
    joblib.dump(old, tmp_path / "anomaly_model.joblib")
    with mlflow.start_run(experiment_id=registry.experiment_id) as run:
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(MODEL_CODE),
            artifacts={"model": str(tmp_path / "anomaly_model.joblib")},
            registered_model_name=registry.name,
        )
    version = RegisteredModel(registry.name, str(info.registered_model_version), run.info.run_id)
    with pytest.raises(RegistryError, match="cannot load .*train a new version"):
        registry.load(version)
