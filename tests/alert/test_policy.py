"""The monitor's alert policy: tiers, early warnings, escalation, grouping."""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest

from slopipe.alert.policy import (
    TIERS,
    Links,
    SloContext,
    decide_alerts,
    firing_tier,
    open_episodes,
)
from slopipe.slo.evaluate import SloStatus

NOW = pd.Timestamp("2024-05-01 12:00", tz="UTC")
LINKS = Links("http://ui", "http://runbook")
SLOS = {"checkout": SloContext("shop", ("errors", "requests"))}


def status(**burn_rates: float) -> SloStatus:
    return SloStatus(
        name="checkout",
        objective_name="ok",
        objective_ratio=0.999,
        window_start=NOW - timedelta(days=30),
        window_end=NOW,
        good=999.0,
        total=1000.0,
        sli=0.999,
        error_budget_remaining=0.5,
        coverage=1.0,
        state="ok",
        burn_rates={k.removeprefix("w"): v for k, v in burn_rates.items()},
    )


def anomalies(series: str, minutes: list[float], score: float = 0.8) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series": series,
            "timestamp": [NOW - timedelta(minutes=m) for m in minutes],
            "anomaly_score": score,
        }
    )


@pytest.mark.parametrize(
    ("rates", "tier"),
    [
        ({"w1h": 14.4, "w5m": 14.4}, "page-1h"),
        ({"w1h": 14.4, "w5m": 2.0}, None),  # the short window says it has stopped
        ({"w1h": 20.0, "w5m": 20.0, "w6h": 7.0, "w30m": 7.0}, "page-1h"),
        ({"w1h": 5.0, "w5m": 5.0, "w6h": 6.0, "w30m": 6.0}, "page-6h"),
        ({"w3d": 1.0, "w6h": 1.0}, "ticket-3d"),
        ({"w1d": 3.0}, None),  # ticket-1d needs a 2h burn rate the SLO engine lacks
        ({"w1h": math.nan, "w5m": 20.0}, None),
    ],
)
def test_a_tier_fires_when_both_its_windows_reach_its_factor(rates, tier):
    found = firing_tier({k.removeprefix("w"): v for k, v in rates.items()})
    assert (found.name if found else None) == tier


def test_the_tier_table_is_the_sre_workbooks():
    assert [(t.long_window, t.short_window, t.factor, t.severity) for t in TIERS] == [
        ("1h", "5m", 14.4, "page"),
        ("6h", "30m", 6.0, "page"),
        ("1d", "2h", 3.0, "ticket"),
        ("3d", "6h", 1.0, "ticket"),
    ]


def test_a_fast_burn_pages_with_every_label_and_annotation():
    (alert,) = decide_alerts([status(w1h=20, w5m=30)], SLOS, [], NOW, LINKS)
    assert alert.labels == {
        "alertname": "SLOBurnRate",
        "service": "shop",
        "slo": "checkout",
        "series": "errors,requests",
        "severity": "page",
        "tier": "page-1h",
    }
    assert alert.annotations["burn_rate"] == "30.000"
    assert alert.annotations["error_budget_remaining"] == "0.5000"
    assert alert.annotations["dashboard"] == "http://ui/?slo=checkout"
    assert alert.annotations["runbook_url"] == "http://runbook"


def test_an_anomaly_on_a_series_an_slo_reads_is_an_early_warning():
    episodes = open_episodes(anomalies("errors", [1.0]), NOW, timedelta(minutes=30))
    (alert,) = decide_alerts([status(w1h=0.5, w5m=0.5)], SLOS, episodes, NOW, LINKS)
    assert alert.labels["alertname"] == "AnomalyEarlyWarning"
    assert alert.labels["severity"] == "warning" and alert.labels["slo"] == "checkout"
    assert alert.annotations["anomaly_score"] == "0.8000"


def test_a_persisting_anomaly_escalates_while_the_burn_rate_rises():
    episodes = open_episodes(anomalies("errors", [5, 3, 1]), NOW, timedelta(minutes=30))
    (alert,) = decide_alerts([status(w1h=2.0, w5m=8.0)], SLOS, episodes, NOW, LINKS)
    assert (alert.labels["alertname"], alert.labels["severity"]) == ("AnomalyEscalated", "page")


def test_a_page_makes_the_early_warning_redundant():
    episodes = open_episodes(anomalies("errors", [0.5]), NOW, timedelta(minutes=30))
    alerts = decide_alerts([status(w1h=20, w5m=20)], SLOS, episodes, NOW, LINKS)
    assert [a.labels["alertname"] for a in alerts] == ["SLOBurnRate"]


def test_repeated_anomalies_are_one_alert_per_episode():
    rows = anomalies("cpu", [40, 39, 38, 3, 2, 1])  # two episodes; the older one is closed
    episodes = open_episodes(rows, NOW, timedelta(minutes=30))
    assert [(e.series, e.samples) for e in episodes] == [("cpu", 3)]
    (alert,) = decide_alerts([], SLOS, episodes, NOW, LINKS)
    assert (alert.labels["alertname"], alert.labels["severity"]) == ("AnomalyDetected", "info")


def test_an_episode_closes_after_the_group_gap():
    assert open_episodes(anomalies("cpu", [31]), NOW, timedelta(minutes=30)) == []


def test_an_episode_with_an_explanation_carries_its_top_metrics():
    rows = anomalies("service/shop", [3, 2, 1])
    rows["anomaly_score"] = [0.7, 0.9, 0.8]
    rows["top_metrics"] = [["cpu", "db"], ["db", "cpu"], ["cpu"]]
    episodes = open_episodes(rows, NOW, timedelta(minutes=30))
    assert [e.top_metrics for e in episodes] == [("db", "cpu")]  # the 0.9 row's ranking
    (alert,) = decide_alerts([], SLOS, episodes, NOW, LINKS)
    assert alert.annotations["top_metrics"] == "db, cpu"


def test_an_episode_without_an_explanation_has_no_top_metrics_annotation():
    episodes = open_episodes(anomalies("cpu", [1]), NOW, timedelta(minutes=30))
    (alert,) = decide_alerts([], SLOS, episodes, NOW, LINKS)
    assert "top_metrics" not in alert.annotations
