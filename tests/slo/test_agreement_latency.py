"""Latency from histogram buckets: Prometheus, evaluating the exported rules, and slopipe,
reading the same buckets from the lake, give the same burn rates."""

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
from tests.slo.prometheus_server import instant, prometheus_over

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus missing"),
]
END = pd.Timestamp("2026-03-05 00:00", tz="UTC")
DAYS = 5
HISTOGRAM = "http_request_duration_seconds"


def buckets() -> dict[str, tuple[pd.DatetimeIndex, np.ndarray]]:
    """Five days of 1-minute bucket counters of two instances of job api (and one of job
    batch, which the SLO must not read): a daily traffic cycle, 0.5% of requests over 1 s,
    40% over 1 s for 90 minutes ending 2h before END, and instance a restarted on day 2.
    Bounds are spelled as the Python client writes them (`1.0`), the SLO says `le: 1`."""
    times = pd.date_range(end=END, periods=DAYS * 1440 + 1, freq="1min")
    minute = np.arange(len(times))
    rng = np.random.default_rng(7)
    outage = (minute >= len(minute) - 210) & (minute < len(minute) - 120)
    series = {}
    for job, instance, scale in (("api", "a", 1.0), ("api", "b", 0.4), ("batch", "c", 2.0)):
        cycle = 600 + 400 * np.sin(2 * np.pi * minute / 1440)
        requests = np.round(scale * cycle + rng.integers(0, 50, len(minute)))
        slow = rng.binomial(requests.astype(int), 0.005).astype(float)
        slow[outage] = np.round(requests[outage] * 0.4)
        total, fast = np.cumsum(requests), np.cumsum(requests - slow)
        if instance == "a":
            reset = 2 * 1440 + 17
            total[reset:] -= total[reset - 1] - 3
            fast[reset:] -= fast[reset - 1] - 3
        labels = f'instance="{instance}",job="{job}"'
        series[f'{HISTOGRAM}_bucket{{{labels},le="1.0"}}'] = (times, fast)
        series[f'{HISTOGRAM}_bucket{{{labels},le="+Inf"}}'] = (times, total)
    return series


def openmetrics(series: dict) -> str:
    lines = [
        f"{name} {v:.0f} {t.timestamp():.0f}"
        for name, (times, values) in series.items()
        for t, v in zip(times, values, strict=True)
    ]
    return "\n".join([*lines, "# EOF", ""])


def _bucket(le: str) -> dict:
    spec = {"histogram": HISTOGRAM, "le": le, "labels": {"job": "api"}}
    return {"metricSource": {"type": "lake", "spec": spec}}


SLO = {
    "apiVersion": "openslo/v1",
    "kind": "SLO",
    "metadata": {"name": "api-latency"},
    "spec": {
        "service": "api",
        "indicator": {"spec": {"ratioMetric": {"good": _bucket("1"), "total": _bucket("+Inf")}}},
        "timeWindow": [{"duration": "7d", "isRolling": True}],
        "budgetingMethod": "Occurrences",
        "objectives": [{"target": 0.99}],
    },
}


def test_latency_burn_rates_agree_with_prometheus_on_the_exported_rules(tmp_path):
    series = buckets()
    lake = Lake(tmp_path / "lake")
    lake.append(pd.concat([make_frame(t, v, name, "counter") for name, (t, v) in series.items()]))
    slo = parse_slo(SLO)
    ratios = {
        r["record"].removeprefix("slopipe:slo_error_ratio:rate"): r["expr"]
        for r in yaml.safe_load(to_yaml([slo]))["groups"][0]["rules"]
        if r.get("record", "").startswith("slopipe:slo_error_ratio:rate")
    }
    assert sorted(ratios) == sorted(["5m", "30m", "1h", "2h", "6h", "1d", "3d"])
    assert 'le=~"1|1\\\\.0"' in ratios["5m"] and 'job="api"' in ratios["5m"]
    # During the outage, just after it, at the end, and the day after the restart; every
    # window lies inside the data (see test_agreement.py).
    ends = [
        END - pd.Timedelta(minutes=150),
        END - pd.Timedelta(minutes=100),
        END,
        END - pd.Timedelta(days=1, minutes=13),
    ]
    sources = Sources(lake, PrometheusSettings())
    compared = 0
    with prometheus_over(openmetrics(series), tmp_path) as client:
        for end in ends:
            [status] = evaluate(slo, sources, end)
            for window, expr in ratios.items():
                from_prometheus = instant(client, expr, end.timestamp()) / 0.01
                assert status.burn_rates[window] == pytest.approx(from_prometheus, rel=1e-9), (
                    end,
                    window,
                )
                compared += 1
    assert compared == 28
    # 40% slow over a 1% budget: burn rate 40 in the 5m window during the outage.
    [during] = evaluate(slo, sources, ends[0])
    assert during.burn_rates["5m"] == pytest.approx(40, rel=0.02)
