"""Rules for Timeslices, RatioTimeslices and calendar SLOs: golden file, `promtool check
rules`, each tier firing and resolving under `promtool test rules`, and slopipe's own
evaluation firing the same tiers on the same outage."""

import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from slopipe.slo import documents, promslices
from slopipe.slo.durations import parse_duration
from slopipe.slo.evaluate import evaluate
from slopipe.slo.export import sloth_yaml
from slopipe.slo.model import Window
from slopipe.slo.promrules import to_yaml
from tests.slo.test_prometheus_rules import (
    ALL,
    FIRING,
    _braces,
    needs_promtool,
    promtool,
    run_outage_suite,
    run_promtool_tests,
)

HERE = Path(__file__).parent
GOLDEN = HERE / "golden" / "rules-slices.yaml"
# 100 requests a minute; in the minutes 601-720 of 1320, 50 of them fail (minute 0 is the
# Unix epoch, a multiple of every slice). The 5-minute slices ending 605m to 720m are the
# 24 bad ones (error ratio 0.5, above 1 - 0.999 and 1 - 0.95); the CPU gauge is 0.95
# against "lt 0.9" in those minutes, so the same slices hold a bad sample. The rolling
# SLOs are 7-day ones (99.9%: thresholds 0.01344 (1h/5m), 0.0056 (6h/30m), 0.0028
# (1d/2h), 0.0011667 (3d/6h)); the calendar months take the 30-day catalogue (0.0144,
# 0.006, 0.003, 0.001).
# A window's share divides by all its slices (3d: 864), data or not.
#   630m  slices 605-630m bad: 5m 1/1, 30m 6/6, 1h 6/12, 2h 6/24, 6h 6/72, 1d 6/288,
#         3d 6/864: every tier fires (RatioTimeslices: half of each, still above).
#   740m  the 5m slice is clean: page-fast resolves.
#   800m  30m (775-800m) clean: page-slow resolves; 2h holds 685-720m.
#   900m  2h (785-900m) clean: ticket-fast resolves; 6h holds all 24.
#   1100m 6h (745-1100m) clean: all resolved.
# The calendar month (Occurrences) sees the same tiers on its rolling burn-rate windows.
# (A 30-day period of 5-minute slices is a subquery of 8640 steps: more samples than
# promtool's unit tests let one query load, hence 7 days here; a server allows 50 million.)
# The tiers firing at each instant are the same as the ratio outage's (`FIRING`).
INPUT = [
    ("http_requests_total", "0+100x1320"),
    ("http_errors_total", "0+0x600 50+50x119 6000+0x600"),
    ("http_good_total", "0+100x600 60050+50x119 66000+100x600"),
    ('cpu_utilization{job="checkout"}', "0.5x600 0.95x119 0.5x600"),
]
# The 1h window at 630m: 6 of 12 slices bad; their mean ratio 6 x 0.5 / 12; requests
# 1500 bad of 6000.
RATIO_1H = {
    "checkout-slices": 0.5,
    "checkout-ratio-slices": 0.25,
    "checkout-monthly": 0.25,
    "checkout-monthly-slices": 0.5,
    "checkout-cpu-slices": 0.5,
}


def _slos():
    return [d for d, _ in documents.load_file(HERE / "data" / "rules-slices.openslo.yaml")]


def test_generated_rules_match_the_golden_file():
    text = to_yaml(_slos())
    if os.environ.get("SLOPIPE_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


@needs_promtool
def test_golden_rules_pass_promtool_check():
    result = promtool("check", "rules", str(GOLDEN))
    assert result.returncode == 0, result.stdout + result.stderr
    # Rolling slices: 7 window shares + period + budget + 4 alerts, three times; calendar:
    # the 7 shares and 4 alerts, without period and budget, twice => 3 x 13 + 2 x 11.
    assert "SUCCESS: 61 rules found" in result.stdout


def test_a_calendar_group_says_in_a_comment_what_it_leaves_out():
    text = GOLDEN.read_text()
    assert (
        "# slopipe-checkout-monthly: calendar month (UTC): burn rates and alerts exported, "
        "but no period ratio or budget remaining" in text
    )
    groups = {g["name"]: g["rules"] for g in yaml.safe_load(text)["groups"]}
    for name, rules in groups.items():
        records = {r.get("record") for r in rules}
        has_budget = "slopipe:slo_error_budget_remaining:ratio" in records
        assert has_budget == ("monthly" not in name), name


def test_a_slice_rule_sums_epoch_aligned_slices_over_the_window_less_a_millisecond():
    groups = {g["name"]: g["rules"] for g in yaml.safe_load(GOLDEN.read_text())["groups"]}
    slices = groups["slopipe-checkout-slices"]
    [hour] = [r["expr"] for r in slices if r.get("record") == "slopipe:slo_error_ratio:rate1h"]
    assert hour.endswith("> bool 0.001000000001\n)[59m59s999ms:5m])\n/ 12")
    [period] = [r["expr"] for r in slices if r.get("record") == "slopipe:slo_error_ratio:period"]
    assert period.endswith(")[6d23h59m59s999ms:5m])\n/ 2016")


@needs_promtool
@pytest.mark.parametrize("name", sorted(RATIO_1H))
def test_each_tier_fires_and_resolves_on_a_synthetic_outage(name, tmp_path):
    [slo] = [s for s in _slos() if s.name == name]
    alerts = run_outage_suite(tmp_path, slo, INPUT, RATIO_1H[name])
    assert sorted(alerts) == ALL


def _fetch_outage(source, start, end):
    """slopipe's view of the same outage: per-minute increases, minute 0 at the epoch."""
    minutes = np.arange(0, 1321)
    times = pd.Timestamp(0, tz="UTC") + pd.to_timedelta(minutes, unit="min")
    outage = (minutes >= 601) & (minutes <= 720)
    requests = np.where(minutes > 0, 100.0, 0.0)
    errors = np.where(outage, 50.0, 0.0)
    values = {
        "http_requests_total": requests,
        "http_errors_total": errors,
        "http_good_total": requests - errors,
        'cpu_utilization{job="checkout"}': np.where(outage, 0.95, 0.5),
    }[source.series]
    inside = (times > start) & (times <= end)
    return pd.DataFrame({"timestamp": times[inside], "value": values[inside]})


@pytest.mark.parametrize("name", sorted(RATIO_1H))
def test_slopipe_fires_and_resolves_the_same_tiers_on_the_same_outage(name):
    [slo] = [s for s in _slos() if s.name == name]
    for at, tiers in FIRING.items():
        end = pd.Timestamp(0, tz="UTC") + pd.Timedelta(at)
        [status] = evaluate(slo, _fetch_outage, end)
        assert [a["tier"] for a in status.alerts] == tiers, at
        if at == "630m":
            assert status.burn_rates["1h"] * 0.001 == pytest.approx(RATIO_1H[name])


def test_a_gauge_slice_is_bad_when_its_highest_sample_breaks_the_objective():
    groups = {g["name"]: g for g in yaml.safe_load(GOLDEN.read_text())["groups"]}
    group = groups["slopipe-checkout-cpu-slices"]
    assert "interval" not in group  # the steps are the slices, whenever it is evaluated
    [hour] = [r["expr"] for r in group["rules"] if r.get("record", "").endswith("rate1h")]
    assert hour == (
        "sum_over_time((\n"
        'max(max_over_time(cpu_utilization{job="checkout"}[4m59s999ms]) >= bool 0.9)\n'
        ")[59m59s999ms:5m])\n/ 12"
    )


def test_a_calendar_month_late_in_the_month_cuts_the_slices_the_rules_cut():
    # 19 days into March (Berlin), slopipe cuts the month's slices from its local midnight,
    # 23:00 UTC, a multiple of 5 minutes: the burn rates at a boundary are those of a
    # rolling window's slices, which the rules' subqueries cut from the epoch. (4% errors
    # against a 95% slice target: some slices bad.)
    end = pd.Timestamp("2026-03-20 10:35", tz="UTC")
    minutes = pd.date_range(end=end, periods=4 * 1440, freq="1min")
    rng = np.random.default_rng(3)
    requests = rng.integers(50, 150, len(minutes)).astype(float)
    errors = rng.binomial(requests.astype(int), 0.04).astype(float)

    def fetch(source, start, stop):
        values = {"http_requests_total": requests, "http_errors_total": errors}[source.series]
        inside = (minutes > start) & (minutes <= stop)
        return pd.DataFrame({"timestamp": minutes[inside], "value": values[inside]})

    month = next(s for s in _slos() if s.name == "checkout-monthly-slices")
    rolling = replace(month, window=Window(timedelta(days=30)))
    [calendar], [window] = evaluate(month, fetch, end), evaluate(rolling, fetch, end)
    assert calendar.window_start == pd.Timestamp("2026-02-28 23:00", tz="UTC")
    assert calendar.burn_rates == pytest.approx(window.burn_rates, rel=1e-9)
    assert all(rate is not None for rate in calendar.burn_rates.values())
    assert calendar.burn_rates["3d"] > 0


@pytest.mark.parametrize(
    ("window", "time_slice", "steps", "count"),
    [
        ("5m", "5m", "4m59s999ms:5m", 1),
        ("1h", "5m", "59m59s999ms:5m", 12),
        ("30d", "5m", "29d23h59m59s999ms:5m", 8640),
        ("5m", "1h", "59m59s999ms:1h", 1),
        ("90m", "1h", "1h59m59s999ms:1h", 2),
        ("1h", "1s", "59m59s999ms:1s", 3600),
    ],
)
def test_a_window_sums_its_whole_slices_over_a_range_open_at_the_left(
    window, time_slice, steps, count
):
    # A window shorter than its slices still holds one: the last, at any instant.
    expr = promslices.share("x", parse_duration(window), parse_duration(time_slice))
    assert expr == f"sum_over_time((\nx\n)[{steps}])\n/ {count}"


@needs_promtool
def test_off_a_boundary_the_rules_hold_the_last_boundarys_slices(tmp_path):
    # Hourly slices; half the requests fail in the minutes 61-120, so the slice ending at
    # 120m is bad. Between boundaries the 5m window (shorter than a slice) and the 2h one
    # hold what slopipe says at the boundary before: at 150m those of 120m, at 190m those
    # of 180m.
    [slo] = [s for s in _slos() if s.name == "checkout-slices"]
    objective = replace(slo.objectives[0], time_slice=timedelta(hours=1))
    slo = replace(slo, objectives=(objective,))
    (tmp_path / "rules.yaml").write_text(to_yaml([slo]))
    labels = _braces({"slo": slo.name, "objective": "0", "service": "checkout"})
    expected = {("150m", "5m"): 1, ("150m", "2h"): 0.5, ("190m", "5m"): 0, ("190m", "2h"): 0.5}
    expr_tests = [
        {
            "expr": f"slopipe:slo_error_ratio:rate{window}",
            "eval_time": at,
            "exp_samples": [
                {"labels": f"slopipe:slo_error_ratio:rate{window}{labels}", "value": v}
            ],
        }
        for (at, window), v in expected.items()
    ]
    series = [
        ("http_requests_total", "0+100x300"),
        ("http_errors_total", "0+0x60 50+50x59 3000+0x180"),
    ]
    run_promtool_tests(tmp_path, series, (), expr_tests)

    def fetch(source, start, end):
        minutes = np.arange(1, 301)
        times = pd.Timestamp(0, tz="UTC") + pd.to_timedelta(minutes, unit="min")
        errors = np.where((minutes >= 61) & (minutes <= 120), 50.0, 0.0)
        values = errors if source.series == "http_errors_total" else np.full(300, 100.0)
        inside = (times > start) & (times <= end)
        return pd.DataFrame({"timestamp": times[inside], "value": values[inside]})

    for (at, window), value in expected.items():
        boundary = pd.Timestamp(0, tz="UTC") + pd.Timedelta(at).floor("1h")
        [status] = evaluate(slo, fetch, boundary)
        assert status.burn_rates[window] * 0.001 == pytest.approx(value), (at, window)


def test_the_sloth_export_still_leaves_out_what_sloth_cannot_express(caplog):
    # These SLOs now have Prometheus rules, but Sloth takes rolling Occurrences only.
    rolling = next(d for d, _ in documents.load_file(HERE / "data" / "rules.openslo.yaml"))
    specs = list(yaml.safe_load_all(sloth_yaml([*_slos(), rolling])))
    assert [s["name"] for spec in specs for s in spec["slos"]] == ["availability"]
    left_out = {r.getMessage() for r in caplog.records if "left out" in r.getMessage()}
    assert len(left_out) == len(_slos())
    prefix = "left out of the Sloth spec: "
    assert f"slo checkout-monthly: {prefix}Sloth's periods are rolling, not calendar ones" in (
        left_out
    )
    assert f"slo checkout-slices: {prefix}Sloth counts Occurrences, not Timeslices" in left_out
