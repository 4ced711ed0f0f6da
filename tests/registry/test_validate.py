"""The promotion gate on hand-made slices and flags."""

from datetime import timedelta

import pandas as pd
import pytest

from slopipe.registry.validate import SloSlices, decide, score_slices, with_feedback

START = pd.Timestamp("2024-01-01", tz="UTC")
FIVE = timedelta(minutes=5)


def slices(breaching) -> list[SloSlices]:
    return [SloSlices("s", ("cpu",), START, FIVE, 100, frozenset(breaching))]


def flags(*slice_numbers) -> pd.DataFrame:
    times = [START + n * FIVE + timedelta(minutes=1) for n in slice_numbers]
    return pd.DataFrame({"series": "cpu", "timestamp": times})


def test_the_confusion_table_counts_slices_not_samples():
    # Breaching slices 10..19; flags in slices 10, 11, 11 (twice) and 50.
    score = score_slices(slices(range(10, 20)), flags(10, 11, 11, 50))
    assert (score.tp, score.fp, score.fn, score.tn) == (2, 1, 8, 89)
    assert score.precision == pytest.approx(2 / 3)
    assert score.recall == pytest.approx(0.2)
    assert score.lift == pytest.approx((2 / 3) / 0.1)


def test_flags_on_series_the_slo_does_not_read_do_not_count():
    other = flags(10).assign(series="memory")
    assert score_slices(slices(range(10, 20)), other).tp == 0


def test_a_first_model_that_tracks_breaches_is_promoted():
    decision = decide(slices(range(10, 20)), flags(*range(10, 18)), None)
    assert decision.promote and "better than chance" in decision.reason


def test_a_first_model_that_flags_at_random_is_not():
    decision = decide(slices(range(10, 20)), flags(0, 30, 60, 90), None, false_alarms_per_day=100)
    assert not decision.promote and "no better than chance" in decision.reason


def test_a_candidate_worse_than_the_champion_is_not_promoted():
    decision = decide(slices(range(10, 20)), flags(10, 11), flags(*range(10, 20)))
    assert not decision.promote and "worse than the champion" in decision.reason


def test_nothing_to_validate_on_means_no_promotion():
    decision = decide(slices([]), flags(10), None)
    assert not decision.promote and "no SLO-breaching slice" in decision.reason


def test_false_alarms_are_counted_as_episodes_per_slo_day():
    # 100 five-minute slices = 1/2.88 day. Healthy flagged slices 40, 41, 42 (one episode),
    # 60 (more than 30 minutes = 6 slices later: a second one) => 2 episodes, 5.76 per day.
    score = score_slices(slices(range(10, 20)), flags(10, 40, 41, 42, 60))
    assert score.false_alarm_episodes == 2
    assert score.false_alarms_per_day == pytest.approx(2 * 2.88)


def test_a_candidate_over_the_alert_budget_is_not_promoted():
    decision = decide(
        slices(range(10, 20)), flags(*range(10, 20), 40, 60), None, false_alarms_per_day=2
    )
    assert not decision.promote and "over the alert budget of 2" in decision.reason
    assert decide(
        slices(range(10, 20)), flags(*range(10, 20), 40, 60), None, false_alarms_per_day=6
    ).promote


def test_feedback_turns_slices_into_labels_both_ways():
    # Slice 50 held an anomaly a person confirmed; slice 12, inside the SLO breach, held
    # one a person rejected. Breaching slices were 10..19.
    feedback = pd.DataFrame(
        {
            "series": ["cpu", "cpu", "memory"],
            "timestamp": [
                START + 50 * FIVE + timedelta(minutes=2),
                START + 12 * FIVE + timedelta(minutes=2),
                START,
            ],
            "verdict": ["true_positive", "false_positive", "true_positive"],
        }
    )
    [folded] = with_feedback(slices(range(10, 20)), feedback)
    assert folded.breaching == frozenset({10, 11, 13, 14, 15, 16, 17, 18, 19, 50})
