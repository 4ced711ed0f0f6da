"""Contract suite for the streaming detector: every detector slopipe ships must pass it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slopipe.detect import streaming
from slopipe.detect.streaming import StreamingConfig, score_series
from slopipe.errors import DetectError

# Small forests and short windows keep the suite fast; the contract does not depend on size.
SMALL = StreamingConfig(
    n_trees=25, train_rows=400, refit_every_rows=96, min_train_rows=96, history_rows=400,
    min_history_rows=96,
)  # fmt: skip
STEP = np.timedelta64(5, "m")


def daily_series(n_rows: int = 900, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A noisy daily sine at 5-minute steps."""
    rng = np.random.default_rng(seed)
    timestamps = np.datetime64("2024-01-01T00:00") + STEP * np.arange(n_rows)
    values = 50 + 10 * np.sin(2 * np.pi * np.arange(n_rows) / 288) + rng.normal(0, 1, n_rows)
    return timestamps, values


def test_same_seed_gives_same_scores():
    timestamps, values = daily_series()
    first, _ = score_series(timestamps, values, SMALL)
    second, _ = score_series(timestamps, values, SMALL)
    np.testing.assert_array_equal(first, second)


def test_scores_of_a_prefix_do_not_change_when_rows_are_appended():
    timestamps, values = daily_series()
    full_score, full_flags = score_series(timestamps, values, SMALL)
    for n_rows in (95, 96, 451, 700):
        prefix_score, prefix_flags = score_series(timestamps[:n_rows], values[:n_rows], SMALL)
        np.testing.assert_array_equal(prefix_score, full_score[:n_rows])
        np.testing.assert_array_equal(prefix_flags, full_flags[:n_rows])


def test_scores_lie_in_unit_interval_and_flags_follow_fixed_threshold():
    timestamps, values = daily_series()
    values[600] += 80
    anomaly_score, flags = score_series(timestamps, values, SMALL)
    assert anomaly_score.shape == flags.shape == values.shape
    assert np.all((anomaly_score >= 0) & (anomaly_score <= 1))
    np.testing.assert_array_equal(flags, anomaly_score >= SMALL.flag_threshold)


def test_spike_beyond_the_range_seen_so_far_is_flagged():
    timestamps, values = daily_series()
    values[600] += 80
    _, flags = score_series(timestamps, values, SMALL)
    assert flags[600]


def test_second_spike_inside_quiet_period_raises_no_new_flag():
    timestamps, values = daily_series()
    values[600] += 80
    values[612] += 120  # one hour later, still inside the 4-hour quiet period
    _, flags = score_series(timestamps, values, SMALL)
    assert flags[600] and not flags[612]


def test_short_series_gets_all_zero_scores():
    timestamps, values = daily_series(n_rows=50)
    anomaly_score, flags = score_series(timestamps, values, SMALL)
    assert not anomaly_score.any() and not flags.any()


def test_non_finite_value_is_a_detect_error_naming_the_row():
    timestamps, values = daily_series(n_rows=50)
    values[7] = np.nan
    with pytest.raises(DetectError, match="row 7"):
        score_series(timestamps, values, SMALL)


def test_timestamps_going_back_are_a_detect_error():
    timestamps, values = daily_series(n_rows=50)
    timestamps[10] = timestamps[8]
    with pytest.raises(DetectError, match="row 10 goes back"):
        score_series(timestamps, values, SMALL)


def test_repeated_timestamps_are_accepted():
    timestamps, values = daily_series(n_rows=50)
    timestamps[10] = timestamps[9]
    anomaly_score, _ = score_series(timestamps, values, SMALL)
    assert anomaly_score.shape == (50,)


@settings(max_examples=40, deadline=None)
@given(
    raw=st.lists(st.floats(0.3, 0.9), min_size=120, max_size=300),
    cut=st.integers(1, 119),
)
def test_post_processing_uses_no_later_rows(raw, cut):
    config = dataclasses.replace(SMALL, min_history_rows=20, history_rows=60, min_train_rows=10)
    raw = np.asarray(raw)
    timestamps = np.datetime64("2024-01-01T00:00") + STEP * np.arange(len(raw))
    values = raw * 100
    full, _ = streaming.postprocess(timestamps, values, raw, config)
    prefix, _ = streaming.postprocess(timestamps[:cut], values[:cut], raw[:cut], config)
    np.testing.assert_array_equal(prefix, full[:cut])
