"""The model's life in MLflow: served by `mlflow models serve`, promoted, rolled back,
and the MLproject entry points run by `mlflow run`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import NAB, REPO
from tests.e2e.conftest import slopipe
from tests.fixtures.services import mlflow_models_serve

VENV_BIN = str(Path(sys.executable).parent)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> Path:
    """A home after two demo runs: model versions 1 (champion) and 2."""
    home = tmp_path_factory.mktemp("lifecycle") / "home"
    for _ in range(2):
        result = slopipe("run", "--json", home=home)
        assert result.returncode == 0, result.stderr
    return home


def spike_samples() -> pd.DataFrame:
    """Ten hours of a series the demo champion has a forest for, with one spike."""
    times = pd.date_range("2024-01-01", periods=600, freq="1min", tz="UTC")
    values = [5.0 + (i % 7) * 0.1 for i in range(600)]
    values[550] = 60.0
    stamps = times.strftime("%Y-%m-%dT%H:%M:%SZ")
    return pd.DataFrame({"timestamp": stamps, "series": "cpu_utilization", "value": values})


def test_mlflow_models_serve_answers_with_the_champions_scores(two_runs, tmp_path):
    uri = f"sqlite:///{two_runs / 'mlflow.db'}"
    with mlflow_models_serve("models:/slopipe-anomaly@champion", uri, tmp_path) as url:
        samples = spike_samples()
        body = {"dataframe_split": samples.to_dict(orient="split", index=False)}
        response = httpx.post(f"{url}/invocations", json=body, timeout=60)
    assert response.status_code == 200, response.text
    served = pd.DataFrame(response.json()["predictions"])
    mlflow.set_tracking_uri(uri)
    local = mlflow.pyfunc.load_model("models:/slopipe-anomaly@champion").predict(samples)
    assert len(served) == len(local) == 600
    assert served["anomaly_score"].tolist() == pytest.approx(local["anomaly_score"].tolist())
    assert served["anomaly_score"].idxmax() == 550 and bool(served.loc[550, "is_anomaly"])


def test_promote_and_rollback_move_the_champion_and_keep_the_reason(two_runs):
    client = MlflowClient(f"sqlite:///{two_runs / 'mlflow.db'}")

    def champion():
        return client.get_model_version_by_alias("slopipe-anomaly", "champion")

    before = str(champion().version)
    other = "2" if before == "1" else "1"
    assert (
        slopipe(
            "model", "promote", other, "--reason", "canary looked good", home=two_runs
        ).returncode
        == 0
    )
    assert str(champion().version) == other
    assert champion().tags["promotion_reason"] == "manual: canary looked good"
    listing = slopipe("model", "list", "--json", home=two_runs).json()
    assert {v["version"]: "champion" in v["aliases"] for v in listing} == {
        "2": other == "2",
        "1": other == "1",
    }
    assert slopipe("model", "rollback", "--reason", "false alarms", home=two_runs).returncode == 0
    assert str(champion().version) == before
    again = slopipe("model", "rollback", "--reason", "x", home=two_runs)
    if before == "1" and len(listing) == 2:
        assert again.returncode == 2 and "no earlier champion" in again.stderr


def mlflow_run(entry: str, tracking_uri: str, *params: str, home: Path | None = None) -> None:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
    }
    if home is not None:
        env["SLOPIPE_HOME"] = str(home)
    command = [
        f"{VENV_BIN}/mlflow",
        "run",
        str(REPO),
        "-e",
        entry,
        "--env-manager",
        "local",
        *params,
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


def last_run(tracking_uri: str):
    client = MlflowClient(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, order_by=["attributes.start_time DESC"], max_results=1)
    return client, runs[0]


def artifacts(client: MlflowClient, run) -> set[str]:
    return {a.path for a in client.list_artifacts(run.info.run_id)}


def test_mlproject_isolation_finds_the_outliers_and_logs_a_pca_view(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    mlflow_run("isolation", uri, "-P", "samples=2000")
    client, run = last_run(uri)
    assert (
        run.data.metrics["roc_auc"] > 0.75
    )  # chance is 0.5; uniform outliers overlap the noise dims
    assert "isolation_pca.png" in artifacts(client, run)


def test_mlproject_gradient_descent_goes_downhill_and_logs_the_3d_picture(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    mlflow_run("gradient_descent", uri)
    client, run = last_run(uri)
    history = [m.value for m in client.get_metric_history(run.info.run_id, "loss")]
    assert len(history) == 61 and history[-1] < history[0] / 10
    assert "gradient_descent_3d.png" in artifacts(client, run)


def test_mlproject_random_forest_learns_from_nab_windows(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    mlflow_run("random_forest", uri, "-P", f"nab={NAB}", "-P", "trees=50")
    client, run = last_run(uri)
    assert run.data.metrics["roc_auc"] > 0.5
    assert "feature_importance.png" in artifacts(client, run)


def test_mlproject_main_runs_the_pipeline_into_the_project_run(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    mlflow_run("main", uri, home=tmp_path / "home")
    client = MlflowClient(uri)
    champion = client.get_model_version_by_alias("slopipe-anomaly", "champion")
    run = client.get_run(champion.run_id)
    assert run.data.tags.get("mlflow.project.entryPoint") == "main"
    assert "series_with_anomalies.png" in artifacts(client, run)
