"""The pipeline's anomaly model: the contract every detector here keeps."""

import pickle

import numpy as np
import pandas as pd
import pytest

from slopipe.detect.model import AnomalyModel, features_from_samples
from slopipe.errors import DetectError


def samples(seed: int = 1, days: int = 3, spike_at: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-01-01", periods=days * 288, freq="5min", tz="UTC")
    daily = np.sin(2 * np.pi * np.arange(len(times)) / 288)
    values = 10 + 3 * daily + rng.normal(0, 0.3, len(times))
    if spike_at is not None:
        values[spike_at] += 15
    return pd.DataFrame({"timestamp": times, "series": "s", "value": values})


@pytest.fixture(scope="module")
def model() -> AnomalyModel:
    return AnomalyModel(contamination=0.01).fit(features_from_samples(samples()))


def test_an_obvious_spike_scores_highest_and_is_flagged(model):
    scored = model.score(samples(seed=2, spike_at=700))
    assert scored["anomaly_score"].idxmax() == 700
    assert bool(scored.loc[700, "is_anomaly"])


def test_the_same_seed_gives_the_same_scores():
    features = features_from_samples(samples())
    first = AnomalyModel(seed=3).fit(features).score_features(features)
    again = AnomalyModel(seed=3).fit(features).score_features(features)
    pd.testing.assert_frame_equal(first, again)


def test_a_pickled_model_scores_the_same(model):
    restored = pickle.loads(pickle.dumps(model))
    data = samples(seed=4)
    pd.testing.assert_frame_equal(model.score(data), restored.score(data))


def test_column_order_does_not_matter(model):
    data = samples(seed=5)
    reordered = data[["value", "series", "timestamp"]]
    pd.testing.assert_frame_equal(model.score(data), model.score(reordered))


def test_a_missing_column_is_a_clear_error(model):
    with pytest.raises(DetectError, match="samples lack column\\(s\\) value"):
        model.score(samples().drop(columns="value"))


def test_about_the_contamination_share_of_training_rows_is_flagged(model):
    flagged = model.score(samples())["is_anomaly"].mean()
    assert flagged == pytest.approx(0.01, abs=0.002)
