"""SLO evaluation on hand-made data, with the expected numbers worked out in comments."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from slopipe.errors import SloValidationError
from slopipe.slo.evaluate import evaluate
from slopipe.slo.openslo import parse_slo

END = pd.Timestamp("2024-01-02 00:00", tz="UTC")


def threshold_doc(target=0.99, op="lte", value=0.3, slice_="5m", window="1d"):
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": "latency"},
        "spec": {
            "service": "api",
            "indicator": {
                "spec": {
                    "thresholdMetric": {"metricSource": {"type": "lake", "spec": {"series": "lat"}}}
                }
            },
            "timeWindow": [{"duration": window, "isRolling": True}],
            "budgetingMethod": "Timeslices",
            "objectives": [{"op": op, "value": value, "target": target, "timeSliceWindow": slice_}],
        },
    }


def ratio_doc(target=0.99):
    source = lambda s: {"metricSource": {"type": "lake", "spec": {"series": s}}}  # noqa: E731
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": "availability"},
        "spec": {
            "service": "api",
            "indicator": {
                "spec": {
                    "ratioMetric": {
                        "counter": True,
                        "bad": source("errors"),
                        "total": source("requests"),
                    }
                }
            },
            "timeWindow": [{"duration": "1d", "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"target": target}],
        },
    }


def minutes(values) -> pd.DataFrame:
    times = pd.date_range(END - timedelta(minutes=len(values) - 1), END, freq="1min")
    return pd.DataFrame({"timestamp": times, "value": np.asarray(values, float)})


def test_timeslices_count_a_slice_bad_when_any_sample_misses():
    # A day of 1-minute latency at 0.1 s ending at END. Slices are (start+5k, start+5k+5]
    # minutes, so minutes 1-5 after the window start are slice 0. Six runs of 5 bad minutes
    # (0.5 s) placed exactly on slices 0, 48, 96, ... => 288 slices, 6 bad:
    # SLI = 282/288 = 0.9791666..., below 0.99, so breached.
    values = np.full(1440, 0.1)
    for slice_number in range(0, 288, 48):
        values[slice_number * 5 : slice_number * 5 + 5] = 0.5
    data = minutes(values)
    [status] = evaluate(parse_slo(threshold_doc()), lambda s, a, b: data, END)
    assert (status.total, status.good) == (288, 282)
    assert status.sli == pytest.approx(282 / 288)
    assert status.state == "breached"
    # Budget: allowed 1% of 288 = 2.88 slices; 6 spent => 1 - 6/2.88 = -1.0833...
    assert status.error_budget_remaining == pytest.approx(1 - 6 / 2.88)
    assert len(status.bad_periods) == 6


def test_one_bad_sample_makes_only_its_own_slice_bad():
    values = np.full(1440, 0.1)
    values[7] = 0.9  # minute 8 after the window start: slice 1
    data = minutes(values)
    [status] = evaluate(parse_slo(threshold_doc()), lambda s, a, b: data, END)
    assert status.total - status.good == 1
    start, end = status.bad_periods[0]
    assert (start, end) == (
        END - timedelta(days=1) + timedelta(minutes=5),
        END - timedelta(days=1) + timedelta(minutes=10),
    )


def test_a_ratio_slo_is_a_ratio_of_sums_not_an_average_of_ratios():
    # Two halves of a day: 1000 req/min with 0 errors, then 10 req/min with 5 errors.
    # Ratio of sums: bad = 720*5 = 3600, total = 720*1000 + 720*10 = 727200,
    # SLI = 1 - 3600/727200 = 0.995049...; an average of ratios would give 0.75.
    requests = np.r_[np.full(720, 1000.0), np.full(720, 10.0)]
    errors = np.r_[np.zeros(720), np.full(720, 5.0)]
    data = {"requests": minutes(requests), "errors": minutes(errors)}
    [status] = evaluate(parse_slo(ratio_doc()), lambda s, a, b: data[s.series], END)
    assert status.sli == pytest.approx(1 - 3600 / 727200)
    # Budget: allowed bad ratio 0.01; spent 0.004950/0.01 = 0.495 => 0.505 remains.
    assert status.error_budget_remaining == pytest.approx(1 - (3600 / 727200) / 0.01)
    assert status.state == "ok"


def test_the_1h_burn_rate_is_the_recent_bad_ratio_over_the_allowed_one():
    # Last hour: 100 req/min, 2 errors/min => bad ratio 0.02, allowed 0.01 => burn rate 2.
    requests = np.full(1440, 100.0)
    errors = np.r_[np.zeros(1380), np.full(60, 2.0)]
    data = {"requests": minutes(requests), "errors": minutes(errors)}
    [status] = evaluate(parse_slo(ratio_doc()), lambda s, a, b: data[s.series], END)
    assert status.burn_rates["1h"] == pytest.approx(2.0)
    assert status.burn_rates["6h"] == pytest.approx(2.0 / 6)


def test_no_data_is_its_own_state():
    empty = pd.DataFrame({"timestamp": pd.Series(dtype="datetime64[ns, UTC]"), "value": []})
    [status] = evaluate(parse_slo(threshold_doc()), lambda s, a, b: empty, END)
    assert status.state == "no_data" and status.total == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"target": 1.0}, "spec.objectives[0].target"),
        ({"target": 0}, "spec.objectives[0].target"),
        ({"op": "below"}, "spec.objectives[0].op"),
        ({"timeSliceWindow": "5 minutes"}, "spec.objectives[0].timeSliceWindow"),
    ],
)
def test_invalid_objectives_name_the_slo_and_the_field(change, field):
    doc = threshold_doc()
    doc["spec"]["objectives"][0].update(change)
    with pytest.raises(SloValidationError) as caught:
        parse_slo(doc)
    assert str(caught.value).startswith(f"slo latency: {field}:")
