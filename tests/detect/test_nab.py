"""NAB scoring: hand-worked cases, then the published detector outputs reproduced."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slopipe.detect import nab, nab_files
from slopipe.detect.nab import STANDARD, ScoredFile, Window

# 100-row files have 15 probation rows, so row 15 is the first scored row.
N_ROWS = 100


def scored(anomaly_score, windows=()) -> ScoredFile:
    return ScoredFile("test.csv", np.asarray(anomaly_score, dtype=float), tuple(windows))


def flags_at(*rows: int, n_rows: int = N_ROWS) -> np.ndarray:
    flags = np.zeros(n_rows)
    flags[list(rows)] = 1.0
    return flags


@pytest.mark.parametrize(
    ("position", "expected"),
    [(-1.0, 0.98661), (-0.5, 0.84828), (0.0, 0.0), (1.0, -0.98661), (3.5, -1.0)],
)
def test_scaled_sigmoid_matches_nab_values(position, expected):
    assert nab.scaled_sigmoid(position) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(
    ("n_rows", "expected"),
    [(100, 15), (4032, 604), (4730, 709), (5000, 750), (20000, 750)],
)
def test_probation_is_fifteen_percent_capped_at_750_rows(n_rows, expected):
    assert nab.probation_rows(n_rows) == expected


def test_detection_at_first_row_of_window_earns_tp_weight():
    file = scored(flags_at(40), [Window(40, 49)])
    assert nab.raw_score(file, 0.5, STANDARD) == pytest.approx(1.0)


def test_detection_at_last_row_of_window_earns_almost_nothing():
    file = scored(flags_at(49), [Window(40, 49)])
    expected = nab.scaled_sigmoid(-0.1) / nab.scaled_sigmoid(-1.0)
    assert nab.raw_score(file, 0.5, STANDARD) == pytest.approx(expected)


def test_window_counts_only_its_earliest_detection():
    file = scored(flags_at(40, 41, 42), [Window(40, 49)])
    assert nab.raw_score(file, 0.5, STANDARD) == pytest.approx(1.0)


def test_missed_window_costs_fn_weight():
    file = scored(np.zeros(N_ROWS), [Window(40, 49)])
    assert nab.raw_score(file, 0.5, nab.REWARD_LOW_FN_RATE) == pytest.approx(-2.0)


def test_fp_with_no_preceding_window_costs_full_fp_weight():
    file = scored(flags_at(20), [Window(40, 49)])
    assert nab.raw_score(file, 0.5, STANDARD) == pytest.approx(-0.11 - 1.0)


def test_fp_in_file_without_windows_costs_full_fp_weight():
    assert nab.raw_score(scored(flags_at(20, 21)), 0.5, STANDARD) == pytest.approx(-0.22)


def test_fp_after_window_is_discounted_by_distance():
    file = scored(flags_at(40, 59), [Window(40, 49)])
    expected = 1.0 + 0.11 * nab.scaled_sigmoid(10 / 9)
    assert nab.raw_score(file, 0.5, STANDARD) == pytest.approx(expected)


def test_detections_in_probation_are_neither_tp_nor_fp():
    assert nab.raw_score(scored(flags_at(0, 14)), 0.5, STANDARD) == 0.0


def test_normalisation_maps_null_to_0_and_perfect_to_100():
    assert nab.normalised_score(-36, 36, STANDARD) == pytest.approx(0.0)
    assert nab.normalised_score(36, 36, STANDARD) == pytest.approx(100.0)
    assert nab.normalised_score(46.634, 116, STANDARD) == pytest.approx(70.10, abs=0.01)


def test_sweep_with_nothing_worth_detecting_keeps_start_threshold():
    files = [scored(np.full(N_ROWS, 0.5))]
    assert nab.sweep_threshold(files, STANDARD) == (1.1, 0.0)


def test_sweep_tie_goes_to_the_highest_threshold():
    # Lowering from 0.9 to 0.8 switches on a probation row only: same total, 0.9 wins.
    anomaly_score = np.zeros(N_ROWS)
    anomaly_score[40], anomaly_score[5] = 0.9, 0.8
    threshold, raw = nab.sweep_threshold([scored(anomaly_score, [Window(40, 49)])], STANDARD)
    assert (threshold, raw) == (0.9, pytest.approx(1.0))


def test_sweep_stops_before_a_score_that_brings_only_false_positives():
    anomaly_score = np.zeros(N_ROWS)
    anomaly_score[40], anomaly_score[20] = 0.9, 0.7
    files = [scored(anomaly_score, [Window(40, 49)])]
    assert nab.sweep_threshold(files, STANDARD) == (0.9, pytest.approx(1.0))


@settings(max_examples=60, deadline=None)
@given(
    levels=st.lists(st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), min_size=N_ROWS,
                             max_size=N_ROWS), min_size=1, max_size=3),
    probe=st.sampled_from([0.25, 0.5, 0.75, 1.0]),
)  # fmt: skip
def test_swept_threshold_is_optimal_and_rescoring_reproduces_it(levels, probe):
    files = [scored(row_scores, [Window(30, 39), Window(70, 79)]) for row_scores in levels]
    for profile in nab.PROFILES:
        threshold, raw = nab.sweep_threshold(files, profile)
        assert nab.score_at_threshold(files, profile, threshold).raw_score == pytest.approx(raw)
        assert nab.score_at_threshold(files, profile, probe).raw_score <= raw + 1e-9


def test_event_metrics_count_alarm_runs_windows_and_delay():
    file = scored(flags_at(20, 21, 43, 44, 80), [Window(40, 49), Window(60, 69)])
    metrics = nab.event_metrics([file], 0.5)
    assert (metrics.alarms, metrics.true_alarms) == (3, 1)
    assert (metrics.windows, metrics.detected_windows) == (2, 1)
    assert metrics.precision == pytest.approx(1 / 3)
    assert metrics.recall == pytest.approx(0.5)
    assert metrics.mean_detection_delay_rows == pytest.approx(3.0)


PUBLISHED = {
    "numenta": (72.3, 69.1, 76.0),
    "randomCutForest": (53.7, 44.9, 60.1),
    "windowedGaussian": (26.5, 2.2, 37.1),
    "null": (0.0, 0.0, 0.0),
}


@pytest.mark.parametrize("detector", sorted(PUBLISHED))
def test_published_outputs_reproduce_nab_scores_on_shared_files(nab_dir, detector):
    labels = nab_files.read_window_labels(nab_dir / "labels" / "combined_windows.json")
    files = nab_files.read_detector_outputs(nab_dir / "results" / detector, labels)
    assert (len(files), sum(len(f.windows) for f in files)) == (28, 36)
    scores = tuple(nab.score_swept(files, p).nab_score for p in nab.PROFILES)
    assert scores == pytest.approx(PUBLISHED[detector], abs=0.1)
