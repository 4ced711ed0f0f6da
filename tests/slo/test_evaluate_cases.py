"""Cases the usual tools get wrong, each with its right value worked out here."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from slopipe.collect.samples import make_frame
from slopipe.config import PrometheusSettings
from slopipe.errors import SloValidationError
from slopipe.lake import Lake
from slopipe.slo.evaluate import evaluate
from slopipe.slo.openslo import parse_slo
from slopipe.slo.sources import Sources, check_series

END = pd.Timestamp("2026-03-01 00:00", tz="UTC")


def lake_source(series: str) -> dict:
    return {"metricSource": {"type": "lake", "spec": {"series": series}}}


def slo_doc(
    indicator, window="1d", method="Occurrences", objectives=None, annotations=None, name="s"
):
    window_spec = {"duration": window, "isRolling": True} if isinstance(window, str) else window
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {
            "service": "api",
            "indicator": {"spec": indicator},
            "timeWindow": [window_spec],
            "budgetingMethod": method,
            "objectives": objectives or [{"target": 0.99}],
        },
    }


def ratio(bad="errors", total="requests", part="bad") -> dict:
    return {"ratioMetric": {"counter": True, part: lake_source(bad), "total": lake_source(total)}}


def minutes(values, end=END) -> pd.DataFrame:
    times = pd.date_range(end=end, periods=len(values), freq="1min")
    return pd.DataFrame({"timestamp": times, "value": np.asarray(values, float)})


def fetch_from(data: dict):
    def fetch(source, start, end):
        frame = data.get(source.series)
        if frame is None:  # a series that does not exist (yet)
            return pd.DataFrame({"timestamp": pd.DatetimeIndex([], tz="UTC"), "value": []})
        return frame[(frame["timestamp"] > start) & (frame["timestamp"] <= end)]

    return fetch


def test_a_window_with_zero_traffic_is_no_data_not_100_percent_and_not_nan():
    # The request counter is scraped all day but never moves: coverage is full, there are
    # no events, so no SLI (None), nothing spent (budget 1.0), burn rates 0, not NaN.
    data = {"requests": minutes(np.zeros(1440)), "errors": minutes(np.zeros(1440))}
    [status] = evaluate(parse_slo(slo_doc(ratio())), fetch_from(data), END)
    assert status.state == "no_data"
    assert status.sli is None and status.as_dict()["sli"] is None
    assert status.error_budget_remaining == 1.0
    assert status.coverage == 1.0
    assert status.burn_rates["1h"] == 0.0 and status.alerts == []


def test_an_error_series_that_does_not_exist_yet_counts_as_zero_errors():
    # 100 req/min for a day, and no error counter at all (it appears with the first error).
    # Prometheus' errors/total is empty here, so Sloth's SLI and burn rates vanish; the
    # right value is SLI 1.0 with the budget untouched.
    data = {"requests": minutes(np.full(1440, 100.0))}
    slo = parse_slo(slo_doc(ratio()))
    [status] = evaluate(slo, fetch_from(data), END)
    assert (status.state, status.sli, status.error_budget_remaining) == ("ok", 1.0, 1.0)
    assert status.total == 144000 and status.burn_rates["5m"] == 0.0
    check_series(slo, {"requests"})  # accepted: only the bad series is missing
    with pytest.raises(Exception, match="series 'requests' is not in the lake"):
        check_series(slo, {"errors"})


def test_a_counter_reset_in_the_middle_of_the_window_changes_nothing(tmp_path):
    # Raw counters in a real lake, 100 req/min and 1 error/min over a day plus the hour
    # read before the window. At noon the exporter restarts: both counters drop to their
    # first new increase. Right value: total 1440*100 = 144000, bad 1440, SLI 0.99;
    # objective 0.98 => 1 - 0.01/0.02 = 0.5 of the budget left. (Subtracting first from
    # last sample, as a naive increase does, gives a negative count after the reset.)
    times = pd.date_range(end=END, periods=1500, freq="1min")
    requests, errors = np.cumsum(np.full(1500, 100.0)), np.cumsum(np.ones(1500))
    restart = 60 + 720
    requests[restart:] -= requests[restart - 1]
    errors[restart:] -= errors[restart - 1]
    lake = Lake(tmp_path / "lake")
    lake.append(
        pd.concat(
            [
                make_frame(times, requests, "requests", "counter"),
                make_frame(times, errors, "errors", "counter"),
            ]
        )
    )
    slo = parse_slo(slo_doc(ratio(), objectives=[{"target": 0.98}]))
    [status] = evaluate(slo, Sources(lake, PrometheusSettings()), END)
    assert (status.total, status.total - status.good) == (144000, 1440)
    assert status.sli == pytest.approx(0.99)
    assert status.error_budget_remaining == pytest.approx(0.5)
    assert status.burn_rates["6h"] == pytest.approx(0.5)  # 0.01 / 0.02


def test_an_slo_created_a_day_ago_with_a_30_day_window():
    # One day of data, 1000 req/min, 1 error/min: bad ratio 0.001 = the allowance of a
    # 99.9% objective, so it burns at rate 1. Coverage 1/30. Over 30 days the budget is
    # 0.001 * 1000 * 43200 = 43200 errors (traffic assumed to go on at its rate), and 1440
    # are spent: 1 - 1440/43200 = 0.966667 left. Tools that take the day for the window
    # say the budget is all gone (1 - 1 = 0).
    data = {"requests": minutes(np.full(1440, 1000.0)), "errors": minutes(np.ones(1440))}
    slo = parse_slo(slo_doc(ratio(), window="30d", objectives=[{"target": 0.999}]))
    [status] = evaluate(slo, fetch_from(data), END)
    assert status.coverage == pytest.approx(1 / 30)
    assert status.state == "insufficient_data"
    assert status.error_budget_remaining == pytest.approx(1 - 1 / 30)
    assert status.burn_rates["1h"] == pytest.approx(1.0) and status.alerts == []
    # At rate 1 the remaining 29/30 of the budget lasts 29 days.
    assert abs(status.budget_exhausted_in - timedelta(days=29)) < timedelta(seconds=1)


def _month_of_latency(start: str, end: str, bad_slices: int, slice_minutes=5):
    """1-minute latency over a month, 0.1 s except in `bad_slices` whole slices."""
    times = pd.date_range(
        pd.Timestamp(start, tz="UTC") + pd.Timedelta(minutes=1),
        pd.Timestamp(end, tz="UTC"),
        freq="1min",
    )
    values = np.full(len(times), 0.1)
    for k in range(bad_slices):
        first = k * 1000 * slice_minutes
        values[first : first + slice_minutes] = 0.9
    return {"lat": pd.DataFrame({"timestamp": times, "value": values})}


LATENCY = {"thresholdMetric": lake_source("lat")}
MONTHLY = {"duration": "1M", "isRolling": False, "calendar": {"timeZone": "UTC"}}


@pytest.mark.parametrize(
    ("start", "end", "slices", "remaining"),
    [
        # February 2026: 28 * 288 = 8064 five-minute slices; 99.9% allows 8.064 bad ones.
        # 8 bad => 1 - 8/8.064 = 0.0079365. (A 30-day assumption: 1 - 8/8.64 = 0.0741.)
        ("2026-02-01", "2026-03-01", 8064, 1 - 8 / 8.064),
        # March 2026: 31 * 288 = 8928 slices, 8.928 allowed => 1 - 8/8.928 = 0.1039427.
        ("2026-03-01", "2026-04-01", 8928, 1 - 8 / 8.928),
    ],
)
def test_a_month_of_28_and_of_31_days(start, end, slices, remaining):
    objectives = [{"op": "lte", "value": 0.3, "target": 0.999, "timeSliceWindow": "5m"}]
    slo = parse_slo(slo_doc(LATENCY, MONTHLY, "Timeslices", objectives))
    data = _month_of_latency(start, end, bad_slices=8)
    [status] = evaluate(slo, fetch_from(data), pd.Timestamp(end, tz="UTC"))
    assert status.total == slices and status.total - status.good == 8
    assert status.error_budget_remaining == pytest.approx(remaining)
    assert status.state == "ok" and status.coverage == 1.0


def test_a_month_half_gone_keeps_the_budget_of_the_slices_to_come():
    # February, evaluated at noon on the 14th: 13.5 days = 3888 slices seen, 4 of the 8
    # bad slices (every 5000 minutes) among them. The month still allows 8.064 bad slices,
    # so 1 - 4/8.064 = 0.503968 remains; counting only the slices seen (3888 * 0.001 =
    # 3.888 allowed) would call the month breached already.
    objectives = [{"op": "lte", "value": 0.3, "target": 0.999, "timeSliceWindow": "5m"}]
    slo = parse_slo(slo_doc(LATENCY, MONTHLY, "Timeslices", objectives))
    data = _month_of_latency("2026-02-01", "2026-03-01", bad_slices=8)
    [status] = evaluate(slo, fetch_from(data), pd.Timestamp("2026-02-14 12:00", tz="UTC"))
    assert status.total == 3888
    assert status.error_budget_remaining == pytest.approx(1 - 4 / 8.064)


def test_a_daylight_saving_change_in_a_calendar_window():
    # March 2026 in Europe/Berlin lasts 743 hours (clocks skip an hour on March 29).
    # Hourly slices at 99%: 7.43 bad hours allowed; 7 bad => 1 - 7/7.43 = 0.057873.
    # A tool with UTC months or 744-hour months would say 1 - 7/7.44 = 0.059140.
    start, end = (
        pd.Timestamp("2026-02-28 23:00", tz="UTC"),
        pd.Timestamp("2026-03-31 22:00", tz="UTC"),
    )
    times = pd.date_range(start + pd.Timedelta(minutes=1), end, freq="1min")
    hour = np.arange(len(times)) // 60
    bad = (hour % 100 == 5) & (hour < 700)  # hours 5, 105, ..., 605
    values = np.where(bad, 1.0, 0.1)
    assert bad.sum() == 7 * 60
    window = {"duration": "1M", "isRolling": False, "calendar": {"timeZone": "Europe/Berlin"}}
    objectives = [{"op": "lt", "value": 0.5, "target": 0.99, "timeSliceWindow": "1h"}]
    slo = parse_slo(slo_doc(LATENCY, window, "Timeslices", objectives))
    data = {"lat": pd.DataFrame({"timestamp": times, "value": values})}
    [status] = evaluate(slo, fetch_from(data), end)
    assert (status.window_start, status.window_end) == (start, end)
    assert status.total == 743 and status.total - status.good == 7
    assert status.error_budget_remaining == pytest.approx(1 - 7 / 7.43)


def test_an_objective_changed_in_mid_window():
    # 1000 req/min, 2 errors/min all day (bad ratio 0.002). Version 1 (99%) until noon,
    # version 2 (99.9%) after. Allowed: 720*1000*0.01 + 720*1000*0.001 = 7920; spent
    # 2880 => 1 - 2880/7920 = 0.636364. Re-reading the whole day with 99.9% would say
    # -1.0 (breached), with 99% 0.8.
    data = {"requests": minutes(np.full(1440, 1000.0)), "errors": minutes(np.full(1440, 2.0))}
    old = parse_slo(slo_doc(ratio(), objectives=[{"target": 0.99}]))
    new = parse_slo(slo_doc(ratio(), objectives=[{"target": 0.999}]))
    history = [(END - pd.Timedelta(days=10), old), (END - pd.Timedelta(hours=12), new)]
    [status] = evaluate(new, fetch_from(data), END, version=2, history=history)
    assert status.error_budget_remaining == pytest.approx(1 - 2880 / 7920)
    assert status.version == 2 and status.state == "ok"
    assert status.burn_rates["1h"] == pytest.approx(2.0)  # the last hour is under 99.9%


def _quiet_then(last_hour_requests, last_hour_errors, annotations=None):
    requests = np.r_[np.full(1380, 100.0), last_hour_requests]
    errors = np.r_[np.zeros(1380), last_hour_errors]
    data = {"requests": minutes(requests), "errors": minutes(errors)}
    notes = {"slopipe.io/min-coverage": "0", **(annotations or {})}
    slo = parse_slo(slo_doc(ratio(), "7d", objectives=[{"target": 0.999}], annotations=notes))
    [status] = evaluate(slo, fetch_from(data), END)
    return status


def test_one_failure_in_a_quiet_hour_does_not_page():
    # Last hour: a single request, and it fails. Burn rate 1h = 1/(1*0.001) = 1000.
    quiet = np.r_[np.zeros(59), 1.0]
    status = _quiet_then(quiet, quiet)
    assert status.burn_rates["1h"] == pytest.approx(1000.0)
    assert status.alerts == []  # 1 event < 10, the default minimum
    unguarded = _quiet_then(quiet, quiet, {"slopipe.io/min-events": "0"})
    assert [a["tier"] for a in unguarded.alerts] == ["page-fast"]


def test_a_real_outage_fires_every_tier():
    # Last hour 100 req/min with half failing, 99.9%, 7d catalogue (13.44, 5.6, 2.8, 1.1667):
    # 1h and 5m burn 500; 6h 3000/36000/0.001 = 83.3, 30m 500; 1d 20.8, 2h 250;
    # 3d (one day of data) 20.8, 6h 83.3: all four fire.
    status = _quiet_then(np.full(60, 100.0), np.full(60, 50.0))
    assert status.burn_rates["6h"] == pytest.approx(3000 / 36000 / 0.001)
    assert [a["tier"] for a in status.alerts] == [
        "page-fast",
        "page-slow",
        "ticket-fast",
        "ticket-slow",
    ]


def test_tiers_can_be_disabled_and_relabelled_per_slo():
    notes = {
        "slopipe.io/disable-tiers": "ticket-slow, page-slow",
        "slopipe.io/tier-labels.page-fast": "team=payments,severity=critical",
    }
    status = _quiet_then(np.full(60, 100.0), np.full(60, 50.0), notes)
    assert [a["tier"] for a in status.alerts] == ["page-fast", "ticket-fast"]
    assert status.alerts[0]["labels"] == {"team": "payments", "severity": "critical"}


def test_a_boolean_gauge_is_weighted_by_time_not_by_samples():
    # `up` is 1 in samples one minute apart for 23 h, then 0 in samples 10 s apart for the
    # last hour (a restarting target is scraped more often). Up: 1379 * 60 s + 10 s (the
    # last up sample lasts until the first down one) = 82750 s; down: 359 * 10 s = 3590 s
    # (the final sample ends the window). SLI = 82750/86340 = 0.958420; counting samples
    # would give 1380/1740 = 0.793.
    start = END - pd.Timedelta(days=1)
    up = start + pd.to_timedelta(np.arange(1, 1381), unit="min")
    down = start + pd.Timedelta(minutes=1380) + pd.to_timedelta(np.arange(1, 361) * 10, unit="s")
    data = {
        "up": pd.DataFrame(
            {"timestamp": up.append(down), "value": np.r_[np.ones(1380), np.zeros(360)]}
        )
    }
    indicator = {"thresholdMetric": lake_source("up")}
    slo = parse_slo(slo_doc(indicator, objectives=[{"op": "gte", "value": 1, "target": 0.9}]))
    [status] = evaluate(slo, fetch_from(data), END)
    assert (status.good, status.total) == (82750, 86340)
    assert status.sli == pytest.approx(82750 / 86340)


@pytest.mark.parametrize(
    ("method", "objective", "sli"),
    [
        # Hour 0: 1000 requests, 100 bad (0.9); 23 hours of 10 requests, none bad.
        ("Occurrences", {}, 1 - 100 / 1230),  # ratio of sums: 0.918699
        ("RatioTimeslices", {"timeSliceWindow": "1h"}, (0.9 + 23) / 24),  # mean of ratios
        ("Timeslices", {"timeSliceWindow": "1h", "timeSliceTarget": 0.95}, 23 / 24),
    ],
)
def test_budgeting_methods_count_differently(method, objective, sli):
    requests = np.full(1440, 10 / 60)
    errors = np.zeros(1440)
    requests[:60], errors[:60] = 1000 / 60, 100 / 60
    data = {"requests": minutes(requests), "errors": minutes(errors)}
    objectives = [{"target": 0.9, **objective}]
    slo = parse_slo(slo_doc(ratio(), method=method, objectives=objectives))
    [status] = evaluate(slo, fetch_from(data), END)
    assert status.sli == pytest.approx(sli)


def _histogram_lake(tmp_path, le_text: str) -> Lake:
    # Requests at 100/min; 95 of them under 0.3 s. The exporter writes le="0.30".
    times = pd.date_range(end=END, periods=1500, freq="1min")
    lake = Lake(tmp_path / "lake")
    frames = [
        make_frame(
            times,
            np.cumsum(np.full(1500, n)),
            f'latency_seconds_bucket{{job="api",le="{le}"}}',
            "counter",
        )
        for le, n in (("0.1", 50.0), (le_text, 95.0), ("+Inf", 100.0))
    ]
    lake.append(pd.concat(frames))
    return lake


def _histogram_slo(le) -> dict:
    bucket = lambda b: {  # noqa: E731
        "metricSource": {
            "type": "lake",
            "spec": {"histogram": "latency_seconds", "le": b, "labels": {"job": "api"}},
        }
    }  # noqa: E731
    return slo_doc(
        {"ratioMetric": {"good": bucket(le), "total": bucket("+Inf")}}, objectives=[{"target": 0.9}]
    )


def test_latency_from_histogram_buckets_with_normalised_le(tmp_path):
    # SLI = 95/100 = 0.95 once "0.3" in the SLO matches le="0.30" in the data.
    lake = _histogram_lake(tmp_path, "0.30")
    slo = parse_slo(_histogram_slo("0.3"))
    check_series(slo, set(lake.series_names()))
    [status] = evaluate(slo, Sources(lake, PrometheusSettings()), END)
    assert status.sli == pytest.approx(0.95) and status.total == 144000


def test_a_latency_threshold_that_is_not_a_bucket_boundary_is_rejected(tmp_path):
    lake = _histogram_lake(tmp_path, "0.3")
    with pytest.raises(
        SloValidationError, match=r"slo s: .*le: 0.25 is not a bucket boundary .*0.1, 0.3, \+Inf"
    ):
        check_series(parse_slo(_histogram_slo(0.25)), set(lake.series_names()))
