"""Population stability index: stable data is not drift, a new level is. And how much
history a retraining reads."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from slopipe.detect.model import AnomalyModel
from slopipe.detect.streaming import StreamingConfig
from slopipe.monitor.drift import feature_drift, psi
from slopipe.monitor.retrain import training_span

RNG = np.random.default_rng(0)
REFERENCE = RNG.normal(size=3000)


@pytest.mark.parametrize(
    ("recent", "low", "high"),
    [
        (RNG.normal(size=200), 0.0, 0.25),  # same distribution
        (RNG.normal(size=30), 0.0, 1.0),  # a short sample: fewer bins, still no alarm
        (RNG.normal(3.0, 1.0, 200), 1.0, np.inf),  # a shift of three spreads
        (np.full(30, 20.0), 5.0, np.inf),  # clipped z-scores of a level shift
    ],
)
def test_psi_tells_a_shift_from_noise(recent, low, high):
    assert low <= psi(REFERENCE, recent) <= high


def test_feature_drift_names_the_worst_series_and_feature():
    reference = pd.DataFrame({"series": "a", "level_z": REFERENCE, "diff_z": REFERENCE})
    recent = pd.DataFrame({"series": "a", "level_z": np.full(50, 20.0), "diff_z": REFERENCE[:50]})
    worst, where = feature_drift(reference, recent, ["level_z", "diff_z"])
    assert worst > 5 and where == "a/level_z"


def _model_of_step(minutes: int) -> AnomalyModel:
    times = pd.date_range("2024-01-01", periods=400, freq=f"{minutes}min", tz="UTC")
    rows = pd.DataFrame({"timestamp": times, "series": "s", "value": np.arange(400.0) % 7})
    return AnomalyModel(StreamingConfig(n_trees=5)).fit(rows)


@pytest.mark.parametrize(
    ("minutes", "days"),
    # a day, plus 2,016 training rows / 0.7 = 2,880 rows at the step
    [(1, 1 + 2880 / 1440), (5, 1 + 5 * 2880 / 1440)],
)
def test_a_retraining_reads_enough_history_for_the_slowest_series_forest(minutes, days):
    assert training_span(_model_of_step(minutes), holdout_fraction=0.3) == timedelta(days=days)


def test_without_a_champion_a_retraining_reads_the_whole_lake():
    assert training_span(None, holdout_fraction=0.3) is None
