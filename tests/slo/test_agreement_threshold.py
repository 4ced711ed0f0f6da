"""A gauge SLI: a real Prometheus records the exported 0/1 rule over backfilled samples,
and its window shares, read between two recordings, equal slopipe's bad-time shares.

Prometheus evaluates a rule group at an offset within its interval (promtool's backfill
too: here 30 s after the minute), so each recording holds the sample of the minute before
it and a range of w ending at the minute holds w/1m recordings: the w/1m samples slopipe
weighs. (At a recording's own instant a closed 2.x range holds one recording more; see
test_prometheus_rules_kinds.py and docs/slo.md.)"""

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
from tests.slo.prometheus_server import backfill, backfill_rules, instant, running

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus missing"),
]
END = pd.Timestamp("2026-03-05 00:00", tz="UTC")
DAYS = 4
SERIES = 'cpu_utilization{job="api"}'
SLO = {
    "apiVersion": "openslo/v1",
    "kind": "SLO",
    "metadata": {"name": "api-cpu"},
    "spec": {
        "service": "api",
        "indicator": {
            "spec": {
                "thresholdMetric": {"metricSource": {"type": "lake", "spec": {"series": SERIES}}}
            }
        },
        "timeWindow": [{"duration": "7d", "isRolling": True}],
        "budgetingMethod": "Occurrences",
        "objectives": [{"op": "lt", "value": 0.9, "target": 0.99}],
    },
}


def gauge() -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Four days of a 1-minute CPU gauge: mostly 0.3-0.8, 2% of minutes at 0.9 or above
    (0.9 itself breaks "lt 0.9"), and 0.97 for 70 minutes ending 3h before END."""
    times = pd.date_range(end=END, periods=DAYS * 1440 + 1, freq="1min")
    rng = np.random.default_rng(11)
    values = np.round(rng.uniform(0.3, 0.8, len(times)), 3)
    values[rng.random(len(times)) < 0.02] = 0.9
    values[-250:-180] = 0.97
    return times, values


def test_gauge_shares_agree_with_prometheus_between_recordings(tmp_path):
    times, values = gauge()
    lake = Lake(tmp_path / "lake")
    lake.append(make_frame(times, values, SERIES, "gauge"))
    slo = parse_slo(SLO)
    rules = yaml.safe_load(to_yaml([slo]))["groups"][0]["rules"]
    recorded = tmp_path / "rules.yaml"
    group = {"name": "bool", "interval": "1m", "rules": rules[:1]}
    recorded.write_text(yaml.safe_dump({"groups": [group]}))
    shares = {
        r["record"].removeprefix("slopipe:slo_error_ratio:rate"): r["expr"]
        for r in rules
        if r.get("record", "").startswith("slopipe:slo_error_ratio:rate")
    }
    assert sorted(shares) == sorted(["5m", "30m", "1h", "2h", "6h", "1d", "3d"])
    lines = [f"{SERIES} {v} {t.timestamp():.0f}" for t, v in zip(times, values, strict=True)]
    data = backfill("\n".join([*lines, "# EOF", ""]), tmp_path)
    with running(data, tmp_path) as client:
        backfill_rules(client, recorded, times[0].timestamp(), END.timestamp(), data)
    # During the outage, at its end, after it, and at END; every window inside the data.
    ends = [END - pd.Timedelta(minutes=m) for m in (200, 180, 120, 0)]
    compared = 0
    with running(data, tmp_path) as client:
        body = client.get(
            "/api/v1/query",
            params={"query": "slopipe:slo_error:bool[3m]", "time": END.timestamp()},
        ).json()
        phases = {round(float(t) % 60, 1) for t, _ in body["data"]["result"][0]["values"]}
        assert len(phases) == 1 and 0 < phases.pop() < 60  # between the minutes
        for end in ends:
            [status] = evaluate(slo, Sources(lake, PrometheusSettings()), end)
            for window, expr in shares.items():
                from_slopipe = status.burn_rates[window] * 0.01
                from_prometheus = instant(client, expr, end.timestamp())
                assert from_prometheus == pytest.approx(from_slopipe, rel=1e-9), (end, window)
                compared += 1
    assert compared == 28
    [during] = evaluate(slo, Sources(lake, PrometheusSettings()), ends[0])
    assert during.burn_rates["5m"] == pytest.approx(100.0)  # all bad, over a 1% budget
