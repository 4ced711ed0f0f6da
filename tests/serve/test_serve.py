"""`slopipe serve`: the scoring API, its limits, and the same scores as `mlflow models serve`."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from slopipe.detect.model import AnomalyModel, prepared_rows
from slopipe.detect.streaming import StreamingConfig
from slopipe.serve.app import create_app, registry_loader
from tests.fixtures.services import mlflow_models_serve

VENV_BIN = str(Path(sys.executable).parent)


def samples(series: str = "x", count: int = 600, spike_at: int | None = 550) -> pd.DataFrame:
    times = pd.date_range("2024-01-01", periods=count, freq="1min", tz="UTC")
    values = 5.0 + np.random.default_rng(0).normal(0, 0.2, count)
    if spike_at is not None:
        values[spike_at] = 60.0
    return pd.DataFrame(
        {"timestamp": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "series": series, "value": values}
    )


@pytest.fixture(scope="module")
def model() -> AnomalyModel:
    """Trained on spike-free history of the series the tests send."""
    calm = pd.concat([samples(name, spike_at=None) for name in ("x", "a", "b")])
    return AnomalyModel(StreamingConfig(n_trees=50)).fit(prepared_rows(calm))


def body(frame: pd.DataFrame) -> dict:
    return {"samples": frame.to_dict("records")}


def test_scores_samples_of_several_series_and_flags_the_spike(model):
    client = TestClient(create_app(lambda: ("7", model)))
    both = pd.concat([samples("a"), samples("b", spike_at=570)], ignore_index=True)
    answer = client.post("/score", json=body(both))
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["model_version"] == "7"
    scores = pd.DataFrame(result["scores"])
    assert len(scores) == 1200 and set(scores["series"]) == {"a", "b"}
    spikes = scores.set_index(["series", "timestamp"]).loc[
        [("a", "2024-01-01T09:10:00Z"), ("b", "2024-01-01T09:30:00Z")]
    ]
    assert spikes["is_anomaly"].all()
    assert (spikes["anomaly_score"] == 1.0).all()  # a value far beyond the range seen


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("Bearer wrong", 401), ("Bearer s3cret", 200)],
)
def test_a_token_guards_scoring(model, header, status):
    client = TestClient(create_app(lambda: ("1", model), token="s3cret"))
    headers = {"Authorization": header} if header else {}
    assert client.post("/score", json=body(samples()), headers=headers).status_code == status
    assert client.get("/healthz").status_code == 200
    assert client.get("/openapi.json").json()["paths"]["/score"]["post"]


def test_a_series_the_champion_has_no_forest_for_is_refused_by_name(model):
    answer = TestClient(create_app(lambda: ("1", model))).post("/score", json=body(samples("z")))
    assert answer.status_code == 422 and "no forest for series z" in answer.json()["detail"]


def test_oversized_bodies_are_refused_before_scoring(model):
    client = TestClient(create_app(lambda: ("1", model), max_body_bytes=10_000))
    answer = client.post("/score", json=body(samples()))
    assert answer.status_code == 413 and "over the limit" in answer.json()["detail"]


def test_without_a_champion_scoring_says_what_to_do():
    answer = TestClient(create_app(lambda: None)).post("/score", json=body(samples()))
    assert answer.status_code == 503 and "promote" in answer.json()["detail"]


def test_mlflow_models_serve_gives_the_same_scores(model, home, tmp_path):
    from slopipe.config import load_settings
    from slopipe.pipeline import example_rows
    from slopipe.registry.mlflow_registry import Registry

    settings = load_settings(None, home=home)
    registry = Registry(settings)
    frame = samples()
    rows = frame.assign(timestamp=pd.to_datetime(frame["timestamp"], utc=True))
    version = registry.log_candidate(model, {}, {}, example_rows(rows)).version
    registry.promote(version, "test")
    ours = TestClient(create_app(registry_loader(settings))).post("/score", json=body(frame))

    champion = "models:/slopipe-anomaly@champion"
    with mlflow_models_serve(champion, settings.tracking_uri, tmp_path) as url:
        theirs = httpx.post(
            f"{url}/invocations",
            json={"dataframe_split": frame.to_dict("split")},
            timeout=60,
        )
    assert theirs.status_code == 200, theirs.text
    mlflow_scores = pd.DataFrame(theirs.json()["predictions"])
    our_scores = pd.DataFrame(ours.json()["scores"])
    merged = our_scores.merge(mlflow_scores, on=["series", "timestamp"], suffixes=("", "_mlflow"))
    assert len(merged) == len(our_scores) == 600
    np.testing.assert_allclose(merged["anomaly_score"], merged["anomaly_score_mlflow"], rtol=1e-12)
    assert (merged["is_anomaly"] == merged["is_anomaly_mlflow"]).all()
