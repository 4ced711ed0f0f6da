"""ServiceModel: the detector contract, constant columns, and explanations on a known break."""

import pickle

import numpy as np
import pandas as pd
import pytest

from slopipe.detect.multivariate import ServiceModel, ServiceModelConfig
from slopipe.errors import DetectError

T0 = pd.Timestamp("2026-01-01T00:00:00Z")
SERIES = ("cpu", "disk_u", "errors", "latency", "rps")
TRAIN_MINUTES = 3000
TEST_MINUTES = 600
BREAK_ROWS = slice(300, 310)  # test rows where disk_u breaks
ERRORS_ROWS = slice(450, 455)  # test rows where errors, constant 0 in training, moves


def service_values(minutes: int, seed: int) -> pd.DataFrame:
    """A service whose series share a daily rhythm plus noise; `errors` is always 0."""
    rng = np.random.default_rng(seed)
    rhythm = np.sin(np.arange(minutes) * 2 * np.pi / 1440)
    values = {name: 10 + rhythm + rng.normal(0, 0.1, minutes) for name in SERIES}
    values["errors"] = np.zeros(minutes)
    return pd.DataFrame(values)


def to_long(values: pd.DataFrame, first_minute: int) -> pd.DataFrame:
    timestamps = T0 + pd.to_timedelta(np.arange(len(values)) + first_minute, unit="min")
    wide = values.set_index(pd.Index(timestamps, name="timestamp"))
    return wide.reset_index().melt(id_vars="timestamp", var_name="series")


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    train = service_values(TRAIN_MINUTES, seed=1)
    test = service_values(TEST_MINUTES, seed=2)
    test.loc[test.index[BREAK_ROWS], "disk_u"] += 3.0  # 30 noise sigmas
    test.loc[test.index[ERRORS_ROWS], "errors"] = 5.0
    return to_long(train, 0), to_long(test, TRAIN_MINUTES)


@pytest.fixture(scope="module")
def model(frames) -> ServiceModel:
    return ServiceModel(ServiceModelConfig(n_estimators=50)).fit(frames[0])


def test_a_broken_metric_is_flagged_and_ranked_first(model, frames):
    scores = model.score(frames[1])
    assert scores.flag.iloc[BREAK_ROWS].all()
    assert (scores.top_metrics.iloc[BREAK_ROWS][1] == "disk_u").all()


def test_a_series_constant_in_training_that_moves_is_flagged_with_a_finite_score(model, frames):
    scores = model.score(frames[1])
    assert np.isfinite(scores.anomaly_score).all()
    assert scores.flag.iloc[ERRORS_ROWS].all()
    assert (scores.top_metrics.iloc[ERRORS_ROWS][1] == "errors").all()


def test_quiet_rows_are_rarely_flagged(model, frames):
    quiet = model.score(frames[1]).flag.iloc[: BREAK_ROWS.start]
    assert quiet.mean() < 0.02


def test_every_row_of_the_grid_is_scored_and_ranks_every_series(model, frames):
    scores = model.score(frames[1])
    assert len(scores.anomaly_score) == len(scores.flag) == TEST_MINUTES
    assert scores.top_metrics.shape == (TEST_MINUTES, len(SERIES))
    assert set(scores.top_metrics.iloc[0]) == set(SERIES)


def test_pickle_round_trip_scores_the_same(model, frames):
    restored = pickle.loads(pickle.dumps(model))
    pd.testing.assert_series_equal(
        restored.score(frames[1]).anomaly_score, model.score(frames[1]).anomaly_score
    )


def test_the_same_seed_gives_the_same_scores(model, frames):
    again = ServiceModel(ServiceModelConfig(n_estimators=50)).fit(frames[0])
    pd.testing.assert_series_equal(
        again.score(frames[1]).anomaly_score, model.score(frames[1]).anomaly_score
    )


def test_the_order_of_points_and_series_does_not_matter(model, frames):
    shuffled = frames[1].sample(frac=1.0, random_state=3)
    pd.testing.assert_series_equal(
        model.score(shuffled).anomaly_score, model.score(frames[1]).anomaly_score
    )


def test_a_missing_series_is_a_clear_error(model, frames):
    without_rps = frames[1][frames[1]["series"] != "rps"]
    with pytest.raises(DetectError, match=r"lacks series \['rps'\]"):
        model.score(without_rps)


def test_an_unseen_series_is_announced_and_not_scored(model, frames):
    extra = frames[1][frames[1]["series"] == "rps"].assign(series="new")
    with pytest.warns(UserWarning, match="not seen in training"):
        scores = model.score(pd.concat([frames[1], extra]))
    assert "new" not in set(scores.top_metrics.iloc[0])


def test_a_training_frame_too_short_for_the_baseline_is_a_detect_error(frames):
    short = frames[0][frames[0]["timestamp"] < T0 + pd.Timedelta(minutes=60)]
    with pytest.raises(DetectError, match="need at least"):
        ServiceModel().fit(short)


def test_the_explanation_remembers_a_break_for_the_baseline_window(model, frames):
    ranked = model.score(frames[1]).top_metrics[1]
    assert ranked.iloc[BREAK_ROWS.stop + 60] == "disk_u"  # an hour after, inside 2 h
