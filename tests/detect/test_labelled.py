"""Training-run measures on labelled held-out rows, on cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slopipe.detect.labelled import (
    holdout_measures,
    intervals_from_feedback,
    intervals_from_nab,
    joined,
)

START = pd.Timestamp("2026-01-01", tz="UTC")
STEP = pd.Timedelta(minutes=5)


def held(series: str, anomaly_score: list[float] | np.ndarray) -> pd.DataFrame:
    n = len(anomaly_score)
    return pd.DataFrame(
        {"series": series, "timestamp": START + STEP * np.arange(n), "anomaly_score": anomaly_score}
    )


def row(i: int) -> pd.Timestamp:
    return START + STEP * i


def test_nab_keys_become_series_names_and_times_utc():
    intervals = intervals_from_nab(
        {"realAWSCloudwatch/ec2_a.csv": [("2014-02-26 13:45:00", "2014-02-27 06:25:00")]}
    )
    assert intervals == {
        "ec2_a": [
            (pd.Timestamp("2014-02-26 13:45", tz="UTC"), pd.Timestamp("2014-02-27 06:25", tz="UTC"))
        ]
    }


def test_a_detection_at_the_first_row_of_the_only_window_is_perfect():
    # 100 rows, the window rows 50-59; NAB's probation (15 % of rows) ends long before.
    scores = np.zeros(100)
    scores[50] = 1.0
    measures = holdout_measures(held("a", scores), 0.5, {"a": [(row(50), row(59))]})
    assert measures["nab_standard"] == pytest.approx(100.0)
    assert measures["nab_fixed_standard"] == pytest.approx(100.0)
    assert (measures["labelled_series"], measures["labelled_windows"]) == (1, 1)
    assert (measures["event_precision"], measures["event_recall"]) == (1.0, 1.0)


def test_a_silent_detector_scores_zero_and_misses_every_window():
    measures = holdout_measures(held("a", np.zeros(100)), 0.5, {"a": [(row(50), row(59))]})
    assert measures["nab_fixed_standard"] == pytest.approx(0.0)
    assert measures["event_recall"] == 0.0
    assert "event_precision" not in measures  # no alarm: precision is undefined


def test_intervals_outside_the_held_out_rows_are_left_out_but_the_series_counts():
    before = [(row(-300), row(-200))]
    measures = holdout_measures(held("a", np.zeros(100)), 0.5, {"a": before})
    assert (measures["labelled_series"], measures["labelled_windows"]) == (1, 0)


def test_unlabelled_series_are_not_scored():
    frames = pd.concat([held("a", np.zeros(100)), held("b", np.zeros(100))])
    measures = holdout_measures(frames, 0.5, {"b": [(row(10), row(20))]})
    assert measures["labelled_series"] == 1
    assert holdout_measures(frames, 0.5, {}) is None


def test_feedback_windows_are_sized_over_the_whole_history():
    history = held("a", np.zeros(1000))[["series", "timestamp"]]
    feedback = pd.DataFrame(
        {
            "series": ["a", "b"],
            "timestamp": [row(500), row(5)],
            "verdict": ["true_positive", "false_positive"],
        }
    )
    # 10 % of 1,000 rows centred on row 500: (500 + 500 + 1 - 100) // 2 = 450, to row 549.
    # Series b has no history here, so it is not labelled.
    assert intervals_from_feedback(feedback, history) == {"a": [(row(450), row(549))]}


def test_joined_keeps_every_interval_of_each_series():
    one = {"a": [(row(1), row(2))]}
    two = {"a": [(row(5), row(6))], "b": []}
    assert joined(one, two) == {"a": [(row(1), row(2)), (row(5), row(6))], "b": []}
