"""SLO arithmetic and the burn-rate catalogue, with the expected numbers written out."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slopipe.collect.samples import make_frame
from slopipe.prepare import prepare
from slopipe.slo import math as slomath
from slopipe.slo.catalogue import catalogue_tiers, catalogues
from slopipe.slo.evaluate import evaluate
from slopipe.slo.openslo import parse_slo

DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("period_days", "factors"),
    [
        # 2% of 720h in 1h = 14.4; 5% in 6h = 6; 10% in 24h = 3; 10% in 72h = 1.
        (30, [14.4, 6.0, 3.0, 1.0]),
        # 2% of 672h in 1h = 13.44; 5%/6h = 5.6; 10%/24h = 2.8; 10%/72h = 0.9333.
        (28, [13.44, 5.6, 2.8, 0.93333]),
        # 8% of 168h in 1h = 13.44; 20%/6h = 5.6; 40%/24h = 2.8; 50%/72h = 1.16667.
        (7, [13.44, 5.6, 2.8, 1.16667]),
    ],
)
def test_catalogue_factors_are_derived_from_budget_shares(period_days, factors):
    tiers = catalogue_tiers(timedelta(days=period_days))
    assert [t.factor for t in tiers] == pytest.approx(factors, rel=1e-4)


def test_the_30d_catalogue_has_the_workbook_windows():
    tiers = catalogue_tiers(timedelta(days=30))
    windows = [(t.name, t.long_window, t.short_window, t.severity) for t in tiers]
    assert windows == [
        ("page-fast", timedelta(hours=1), timedelta(minutes=5), "page"),
        ("page-slow", timedelta(hours=6), timedelta(minutes=30), "page"),
        ("ticket-fast", timedelta(days=1), timedelta(hours=2), "ticket"),
        ("ticket-slow", timedelta(days=3), timedelta(hours=6), "ticket"),
    ]


def test_every_catalogue_window_is_shorter_than_its_period_and_short_is_a_twelfth():
    for period, tiers in catalogues().items():
        for tier in tiers:
            assert tier.long_window < period
            assert tier.short_window * 12 == tier.long_window


def test_a_period_without_catalogue_keeps_only_tiers_shorter_than_it():
    # 1 day: nearest catalogue is 7d; 8% of 24h in 1h = 1.92, 20% of 24h in 6h = 0.8.
    tiers = catalogue_tiers(DAY)
    assert [(t.name, round(t.factor, 4)) for t in tiers] == [
        ("page-fast", 1.92),
        ("page-slow", 0.8),
    ]


@pytest.mark.parametrize(
    ("bad", "allowed", "remaining", "rate"),
    [
        (0.0, 10.0, 1.0, 0.0),
        (5.0, 10.0, 0.5, 0.5),
        (10.0, 10.0, 0.0, 1.0),
        (25.0, 10.0, -1.5, 2.5),
        (0.0, 0.0, 1.0, 0.0),  # no events and no allowance: nothing burned
    ],
)
def test_budget_and_burn_rate(bad, allowed, remaining, rate):
    assert slomath.error_budget_remaining(bad, allowed) == pytest.approx(remaining)
    assert slomath.ratio(bad, allowed) == pytest.approx(rate)


@pytest.mark.parametrize(
    ("remaining", "rate", "expected"),
    [
        (0.5, 1.0, timedelta(days=15)),  # half a 30d budget at rate 1 lasts 15 days
        (0.5, 14.4, timedelta(hours=25)),  # 0.5 * 720h / 14.4 = 25h
        (1.0, 0.0, None),  # nothing burns: never runs out
        (-0.2, 3.0, timedelta(0)),  # already gone
    ],
)
def test_time_to_exhaustion(remaining, rate, expected):
    assert slomath.time_to_exhaustion(remaining, rate, timedelta(days=30)) == expected


def test_sample_seconds_weigh_a_gauge_by_time_with_a_staleness_cap():
    stamps = pd.to_datetime(["2026-01-01 00:00", "2026-01-01 00:01", "2026-01-01 00:11"], utc=True)
    end = pd.Timestamp("2026-01-01 00:12", tz="UTC")
    # 60 s to the next sample; 600 s capped at 300 s; 60 s to the end.
    seconds = slomath.sample_seconds(pd.Series(stamps), end, timedelta(minutes=5))
    assert seconds.tolist() == [60.0, 300.0, 60.0]


# -- properties over a real evaluation ---------------------------------------------------

END = pd.Timestamp("2026-03-01 00:00", tz="UTC")


def _ratio_slo(target: float, days: int = 1) -> dict:
    source = lambda s: {"metricSource": {"type": "lake", "spec": {"series": s}}}  # noqa: E731
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": "prop", "annotations": {"slopipe.io/min-coverage": "0"}},
        "spec": {
            "service": "api",
            "indicator": {
                "spec": {"ratioMetric": {"bad": source("bad"), "total": source("total")}}
            },
            "timeWindow": [{"duration": f"{days}d", "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"target": target}],
        },
    }


def _minutes(values, end=END) -> pd.DataFrame:
    times = pd.date_range(end=end, periods=len(values), freq="1min")
    return pd.DataFrame({"timestamp": times, "value": np.asarray(values, float)})


def _status(slo: dict, bad, total, end=END):
    data = {"bad": _minutes(bad, end), "total": _minutes(total, end)}
    [status] = evaluate(parse_slo(slo), lambda s, a, b: data[s.series], end)
    return status


@settings(max_examples=40, deadline=None)
@given(
    total=st.lists(st.integers(0, 1000), min_size=60, max_size=60),
    bad=st.lists(st.integers(0, 5), min_size=60, max_size=60),
    extra=st.lists(st.integers(0, 5), min_size=60, max_size=60),
)
def test_remaining_budget_never_rises_when_bad_events_are_added(total, bad, extra):
    total = np.array(total, float) + 10
    bad = np.minimum(np.array(bad, float), total)
    more = np.minimum(bad + np.array(extra, float), total)
    slo = _ratio_slo(0.99)
    before = _status(slo, bad, total).error_budget_remaining
    after = _status(slo, more, total).error_budget_remaining
    assert after <= before + 1e-12


@settings(max_examples=25, deadline=None)
@given(
    target=st.sampled_from([0.9, 0.99, 0.995, 0.999]),
    traffic=st.lists(st.integers(1, 50), min_size=1, max_size=24),
)
def test_a_constant_burn_rate_of_1_spends_the_budget_exactly_at_the_end(target, traffic):
    # Each minute: 1000 * k requests of which exactly (1 - target) are bad, so every minute
    # burns at rate 1; over the full day the budget is gone exactly: remaining 0.
    per_hour = np.repeat(np.array(traffic * 24, float)[:24], 60) * 1000
    total = per_hour
    bad = total * (1 - target)
    status = _status(_ratio_slo(target), bad, total)
    assert status.error_budget_remaining == pytest.approx(0.0, abs=1e-9)
    assert status.burn_rates["1h"] == pytest.approx(1.0)
    # Halfway through the day, half of it was spent.
    half = _status(_ratio_slo(target), bad[:720], total[:720], END - pd.Timedelta(hours=12))
    assert half.error_budget_remaining == pytest.approx(0.5)


@settings(max_examples=30, deadline=None)
@given(
    steps=st.lists(st.integers(1, 100), min_size=30, max_size=30),
    resets=st.sets(st.integers(1, 29), max_size=4),
)
def test_counter_resets_change_nothing(steps, resets):
    # The same requests, once as one monotonic counter and once with the exporter
    # restarting (the counter drops to its first increase after the restart).
    increases = np.array(steps, float)
    plain, restarted, value = np.cumsum(increases), [], 0.0
    for i, step in enumerate(increases):
        value = step if i in resets and value > step else value + step
        restarted.append(value)
    errors = np.cumsum(np.where(np.arange(30) % 7 == 0, 1.0, 0.0))
    slo = _ratio_slo(0.99)

    def status(total_counter):
        samples = pd.concat(
            [
                make_frame(_minutes(total_counter)["timestamp"], total_counter, "total", "counter"),
                make_frame(_minutes(errors)["timestamp"], errors, "bad", "counter"),
            ]
        )
        prepared, report = prepare(samples)
        rows = {n: g[~g["gap"]].dropna(subset=["value"]) for n, g in prepared.groupby("series")}
        fetch = lambda s, a, b: rows[s.series][["timestamp", "value"]]  # noqa: E731
        [result] = evaluate(parse_slo(slo), fetch, END)
        return result, report.counter_resets

    base, none = status(plain)
    reset, seen = status(np.array(restarted))
    assert none == 0 and seen == sum(
        1 for a, b in zip(restarted, restarted[1:], strict=False) if b < a
    )
    assert (reset.total, reset.good) == (base.total, base.good)
    assert reset.error_budget_remaining == pytest.approx(base.error_budget_remaining)
    assert reset.burn_rates == pytest.approx(base.burn_rates)
