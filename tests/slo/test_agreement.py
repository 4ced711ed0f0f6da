"""Prometheus, evaluating the exported rules, and slopipe, reading the lake, give the same
burn rates on the same counters."""

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from slopipe.collect.samples import make_frame
from slopipe.config import PrometheusSettings
from slopipe.lake import Lake
from slopipe.slo.evaluate import evaluate
from slopipe.slo.openslo import parse_slo
from slopipe.slo.promrules import to_yaml
from slopipe.slo.sources import Sources
from tests.slo.prometheus_server import backfill, backfill_rules, instant, prometheus_over, running

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus missing"),
]
END = pd.Timestamp("2026-03-05 00:00", tz="UTC")
DAYS = 5


def counters() -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Five days of 1-minute counters: daily traffic cycle, 0.05% errors, an outage of
    30% errors for 90 minutes ending 2h before END, and both counters reset on day 2."""
    times = pd.date_range(end=END, periods=DAYS * 1440 + 1, freq="1min")
    minute = np.arange(len(times))
    rng = np.random.default_rng(4)
    requests = np.round(
        600 + 400 * np.sin(2 * np.pi * minute / 1440) + rng.integers(0, 50, len(minute))
    )
    errors = rng.binomial(requests.astype(int), 0.0005).astype(float)
    outage = (minute >= len(minute) - 210) & (minute < len(minute) - 120)
    errors[outage] = np.round(requests[outage] * 0.3)
    total, bad = np.cumsum(requests), np.cumsum(errors)
    reset = 2 * 1440 + 17
    total[reset:] -= total[reset - 1] - 3
    bad[reset:] -= bad[reset - 1]
    return times, total, bad


def counters_lake(tmp_path, times, total, bad) -> Lake:
    """A lake under tmp_path holding the counters as requests and errors."""
    lake = Lake(tmp_path / "lake")
    requests = make_frame(times, total, "http_requests_total", "counter")
    lake.append(pd.concat([requests, make_frame(times, bad, "http_errors_total", "counter")]))
    return lake


def openmetrics(times, total, bad) -> str:
    lines = ["# TYPE http_requests counter"]
    lines += [
        f"http_requests_total {v:.0f} {t.timestamp():.0f}"
        for t, v in zip(times, total, strict=True)
    ]
    lines += ["# TYPE http_errors counter"]
    lines += [
        f"http_errors_total {v:.0f} {t.timestamp():.0f}" for t, v in zip(times, bad, strict=True)
    ]
    return "\n".join([*lines, "# EOF", ""])


SLO = {
    "apiVersion": "openslo/v1",
    "kind": "SLO",
    "metadata": {"name": "checkout"},
    "spec": {
        "service": "shop",
        "indicator": {
            "spec": {
                "ratioMetric": {
                    "bad": {
                        "metricSource": {"type": "lake", "spec": {"series": "http_errors_total"}}
                    },
                    "total": {
                        "metricSource": {"type": "lake", "spec": {"series": "http_requests_total"}}
                    },
                }
            }
        },
        "timeWindow": [{"duration": "7d", "isRolling": True}],
        "budgetingMethod": "Occurrences",
        "objectives": [{"target": 0.999}],
    },
}


def test_burn_rates_agree_with_prometheus_on_the_exported_rules(tmp_path):
    times, total, bad = counters()
    lake = counters_lake(tmp_path, times, total, bad)
    slo = parse_slo(SLO)
    ratios = {
        r["record"].removeprefix("slopipe:slo_error_ratio:rate"): r["expr"]
        for r in yaml.safe_load(to_yaml([slo]))["groups"][0]["rules"]
        if r.get("record", "").startswith("slopipe:slo_error_ratio:rate")
    }
    assert sorted(ratios) == sorted(["5m", "30m", "1h", "2h", "6h", "1d", "3d"])
    # During the outage, just after it, at the end, and the day after the counter reset.
    # Every window lies inside the data: where a series starts inside a window Prometheus
    # extrapolates its rate to the window's start, slopipe counts only what was observed.
    ends = [
        END - pd.Timedelta(minutes=150),
        END - pd.Timedelta(minutes=100),
        END,
        END - pd.Timedelta(days=1, minutes=13),
    ]
    sources = Sources(lake, PrometheusSettings())
    compared = 0
    with prometheus_over(openmetrics(times, total, bad), tmp_path) as client:
        for end in ends:
            [status] = evaluate(slo, sources, end)
            for window, expr in ratios.items():
                from_prometheus = instant(client, expr, end.timestamp()) / 0.001
                assert status.burn_rates[window] == pytest.approx(from_prometheus, rel=1e-9), (
                    end,
                    window,
                )
                compared += 1
    assert compared == 28
    # The outage shows: 30% errors over a 0.1% budget burn at 300 in the 5m window.
    [during] = evaluate(slo, sources, ends[0])
    assert during.burn_rates["5m"] == pytest.approx(300, rel=0.02)


def test_the_period_ratio_is_a_ratio_of_sums_as_slopipe_counts_it(tmp_path):
    # Backfill the 5m recordings with promtool, restart Prometheus, then read the period
    # rule at END. Its sum_over_time(errors) / sum_over_time(requests) matches slopipe's
    # error ratio over the data; Sloth's mean of 5m ratios does not: the outage falls at a
    # traffic low, so its 5m ratios weigh more than its requests. (Measured: Prometheus
    # 0.0026757, slopipe 0.0026742 - the overlapping 5m windows weigh the period's first
    # and last minutes less - and Sloth's 0.0042489, 59% too high.)
    times, total, bad = counters()
    lake = counters_lake(tmp_path, times, total, bad)
    slo = parse_slo(SLO)
    rules = yaml.safe_load(to_yaml([slo]))["groups"][0]["rules"]
    wanted = {
        "slopipe:slo_errors:rate5m",
        "slopipe:slo_requests:rate5m",
        "slopipe:slo_error_ratio:rate5m",
    }
    recorded = tmp_path / "rules.yaml"
    recorded.write_text(
        yaml.safe_dump(
            {"groups": [{"name": "5m", "rules": [r for r in rules if r.get("record") in wanted]}]}
        )
    )
    [period] = [r["expr"] for r in rules if r.get("record") == "slopipe:slo_error_ratio:period"]
    data = backfill(openmetrics(times, total, bad), tmp_path)
    start, end = (times[0] + pd.Timedelta(minutes=5)).timestamp(), END.timestamp()
    with running(data, tmp_path) as client:
        backfill_rules(client, recorded, start, end, data)
    with running(data, tmp_path) as client:
        from_prometheus = instant(client, period, end)
        match = '{slo="checkout",objective="0",service="shop"}'
        sloth = instant(
            client,
            f"sum_over_time(slopipe:slo_error_ratio:rate5m{match}[7d])"
            f" / count_over_time(slopipe:slo_error_ratio:rate5m{match}[7d])",
            end,
        )
    [status] = evaluate(slo, Sources(lake, PrometheusSettings()), END)
    from_slopipe = 1 - status.sli
    assert from_prometheus == pytest.approx(from_slopipe, rel=2e-3)
    assert abs(sloth / from_slopipe - 1) > 0.1
