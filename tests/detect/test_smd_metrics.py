"""SMD metrics on cases small enough to work out by hand (the working is in each test)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from slopipe.detect.smd import (
    Segment,
    composite_f1,
    event_recall,
    hit_rate,
    label_segments,
    point_adjusted_f1,
    point_scores,
)

# Two segments: rows [1, 3) and [5, 8). One flag inside the first, two outside both.
LABELS = np.array([0, 1, 1, 0, 0, 1, 1, 1, 0, 0])
FLAGS = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1], dtype=bool)


def test_segments_are_runs_of_ones_with_exclusive_ends():
    assert label_segments(LABELS) == [(1, 3), (5, 8)]
    assert label_segments(np.array([1, 1, 0, 1])) == [(0, 2), (3, 4)]
    assert label_segments(np.zeros(4)) == []


def test_point_scores_count_rows_without_adjustment():
    # 3 flagged, 1 of them labelled: precision 1/3; 5 labelled rows, 1 found: recall 1/5;
    # F1 = 2 * (1/3 * 1/5) / (1/3 + 1/5) = (2/15) / (8/15) = 0.25
    assert point_scores(FLAGS, LABELS) == pytest.approx((1 / 3, 0.2, 0.25))


def test_event_recall_is_the_share_of_segments_with_a_flag():
    assert event_recall(FLAGS, LABELS) == 0.5  # first segment hit, second missed
    assert event_recall(np.zeros(10, dtype=bool), LABELS) == 0.0


def test_composite_f1_joins_point_precision_and_event_recall():
    # 2 * (1/3 * 1/2) / (1/3 + 1/2) = (1/3) / (5/6) = 0.4
    assert composite_f1(FLAGS, LABELS) == pytest.approx(0.4)


def test_one_flag_per_segment_and_none_outside_gives_composite_f1_of_one():
    one_each = np.zeros(10, dtype=bool)
    one_each[[2, 6]] = True
    assert composite_f1(one_each, LABELS) == 1.0
    assert point_scores(one_each, LABELS)[1] == pytest.approx(0.4)  # 2 of 5 rows


def test_point_adjustment_fills_a_hit_segment_and_is_reported_beside():
    # adjusted flags: rows 0, 1, 2, 9 -> precision 2/4, recall 2/5, F1 = 0.4 / 0.9 = 4/9
    assert point_adjusted_f1(FLAGS, LABELS) == pytest.approx(4 / 9)


def test_nothing_flagged_scores_zero_not_an_error():
    assert point_scores(np.zeros(10, dtype=bool), LABELS) == (0.0, 0.0, 0.0)
    assert composite_f1(np.zeros(10, dtype=bool), LABELS) == 0.0


CAUSES = (Segment(0, 2, ("a", "b")), Segment(2, 3, ("c",)))
RANKED = np.array([["a", "c", "b"], ["b", "a", "c"], ["a", "b", "c"]], dtype=object)


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        # top 2 of rows 0, 1 hold 1 and 2 of {a, b}: 1/2, 2/2; top 1 of row 2 misses c: 0
        (100, (0.5 + 1.0 + 0.0) / 3),
        # top floor(3) of rows 0, 1 hold all of {a, b}; top floor(1.5) = 1 of row 2 misses c
        (150, (1.0 + 1.0 + 0.0) / 3),
    ],
)
def test_hit_rate_averages_the_share_of_true_metrics_in_the_top_ranks(percent, expected):
    assert hit_rate(RANKED, CAUSES, percent) == pytest.approx(expected)


def test_hit_rate_without_interpreted_segments_is_zero():
    assert hit_rate(RANKED, (), 100) == 0.0


flag_arrays = st.lists(st.booleans(), min_size=1, max_size=40)


@given(flags=flag_arrays, labels=flag_arrays, extra=st.integers(min_value=0, max_value=39))
def test_flagging_one_more_row_never_lowers_event_recall(flags, labels, extra):
    size = min(len(flags), len(labels))
    flags, labels = np.array(flags[:size]), np.array(labels[:size], dtype=int)
    more = flags.copy()
    more[extra % size] = True
    assert event_recall(more, labels) >= event_recall(flags, labels)


@given(flags=flag_arrays, labels=flag_arrays)
def test_every_figure_lies_in_the_unit_interval_and_adjustment_never_lowers_f1(flags, labels):
    size = min(len(flags), len(labels))
    flags, labels = np.array(flags[:size]), np.array(labels[:size], dtype=int)
    figures = [*point_scores(flags, labels), event_recall(flags, labels)]
    figures += [composite_f1(flags, labels), point_adjusted_f1(flags, labels)]
    assert all(0.0 <= figure <= 1.0 for figure in figures)
    assert point_adjusted_f1(flags, labels) >= point_scores(flags, labels)[2]
