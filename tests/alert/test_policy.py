"""The monitor's alert policy: tiers, early warnings, escalation, grouping."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from slopipe.alert.policy import Links, SloContext, decide_alerts, firing_tier, open_episodes
from slopipe.slo.evaluate import SloStatus, evaluate
from slopipe.slo.openslo import parse_slo

NOW = pd.Timestamp("2024-05-01 12:00", tz="UTC")
LINKS = Links("http://ui", "http://runbook")
SLOS = {"checkout": SloContext("shop", ("errors", "requests"))}


def status(alerts: tuple[dict, ...] = (), **burn_rates: float) -> SloStatus:
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
        alerts=list(alerts),
    )


def engine_alert(tier: str, severity: str, factor: float, windows: str, rates, **labels) -> dict:
    """One entry of `SloStatus.alerts` as the SLO engine writes it."""
    long_window, short_window = windows.split("/")
    return {
        "tier": tier,
        "severity": severity,
        "factor": factor,
        "long_window": long_window,
        "short_window": short_window,
        "burn_rates": list(rates),
        "labels": labels,
    }


PAGE_FAST = engine_alert("page-fast", "page", 14.4, "1h/5m", (20.0, 30.0))
PAGE_SLOW = engine_alert("page-slow", "page", 6.0, "6h/30m", (7.0, 7.0))
TICKET_FAST = engine_alert("ticket-fast", "ticket", 3.0, "1d/2h", (4.0, 4.0))
TICKET_SLOW = engine_alert("ticket-slow", "ticket", 1.0, "3d/6h", (1.5, 4.0))


def anomalies(series: str, minutes: list[float], score: float = 0.8) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series": series,
            "timestamp": [NOW - timedelta(minutes=m) for m in minutes],
            "anomaly_score": score,
        }
    )


@pytest.mark.parametrize(
    ("alerts", "tier"),
    [
        ((), None),
        ((PAGE_FAST,), "page-fast"),
        ((PAGE_FAST, PAGE_SLOW, TICKET_FAST, TICKET_SLOW), "page-fast"),
        ((PAGE_SLOW, TICKET_FAST), "page-slow"),
        ((TICKET_FAST, TICKET_SLOW), "ticket-fast"),
        ((TICKET_SLOW,), "ticket-slow"),
        ((TICKET_FAST, PAGE_SLOW), "page-slow"),  # a page outranks a ticket listed first
        ((engine_alert("chat", "info", 2.0, "1h/5m", (3, 3)), TICKET_SLOW), "ticket-slow"),
    ],
)
def test_the_most_severe_tier_the_engine_found_firing_is_raised(alerts, tier):
    found = firing_tier(status(alerts))
    assert (found.name if found else None) == tier


def slo_doc(period: str, **annotations: str) -> dict:
    source = lambda s: {"metricSource": {"type": "lake", "spec": {"series": s}}}  # noqa: E731
    ratio = {"counter": True, "bad": source("errors"), "total": source("requests")}
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": "checkout", "annotations": annotations},
        "spec": {
            "service": "shop",
            "indicator": {"spec": {"ratioMetric": ratio}},
            "timeWindow": [{"duration": period, "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"displayName": "ok", "target": 0.999}],
        },
    }


def four_days_of_traffic(bad_per_minute_last_day: float):
    """Per-minute increases up to NOW: 1,000 requests a minute for four days, and
    `bad_per_minute_last_day` errors a minute in the last 24 hours (none before)."""
    minutes = 4 * 1440
    times = pd.date_range(end=NOW, periods=minutes, freq="1min")
    errors = [0.0] * (minutes - 1440) + [bad_per_minute_last_day] * 1440
    data = {
        "requests": pd.DataFrame({"timestamp": times, "value": 1000.0}),
        "errors": pd.DataFrame({"timestamp": times, "value": errors}),
    }

    def fetch(source, start, end):
        frame = data[source.series]
        return frame[(frame["timestamp"] > start) & (frame["timestamp"] <= end)]

    return fetch


def burn_alerts(doc: dict) -> list:
    """The alerts the policy raises for `doc` over four days of traffic, the last one bad."""
    statuses = evaluate(parse_slo(doc), four_days_of_traffic(4.0), NOW)
    return decide_alerts(statuses, SLOS, [], NOW, LINKS)


def test_a_day_of_slow_burn_raises_exactly_the_one_day_ticket():
    # Objective 99.9 %: 1,000 requests a minute allow 1 error a minute. 4 errors a minute
    # over the last day burn at 4 in every window up to 1d: 1h 4 < 14.4 (no page-fast),
    # 6h 4 < 6 (no page-slow), 1d 4 > 3 and 2h 4 > 3 (ticket-fast). Over 3d the rate is
    # 4 x 1 / 3 = 1.33 > 1 and over 6h 4 > 1, so ticket-slow fires in the engine too; the
    # policy raises the more severe, faster ticket only.
    statuses = evaluate(parse_slo(slo_doc("30d")), four_days_of_traffic(4.0), NOW)
    (status_,) = statuses
    assert status_.burn_rates["1h"] == pytest.approx(4.0)
    assert status_.burn_rates["2h"] == pytest.approx(4.0)
    assert status_.burn_rates["1d"] == pytest.approx(4.0)
    assert status_.burn_rates["3d"] == pytest.approx(4.0 / 3)
    assert [a["tier"] for a in status_.alerts] == ["ticket-fast", "ticket-slow"]
    (alert,) = decide_alerts(statuses, SLOS, [], NOW, LINKS)
    assert alert.labels["alertname"] == "SLOBurnRate"
    assert (alert.labels["tier"], alert.labels["severity"]) == ("ticket-fast", "ticket")
    assert "1d and 2h over 3" in alert.annotations["summary"]


def test_a_disabled_tier_is_not_raised_the_next_firing_one_is():
    # As above with ticket-fast disabled for this SLO: ticket-slow (3d 1.33, 6h 4, factor 1).
    (alert,) = burn_alerts(slo_doc("30d", **{"slopipe.io/disable-tiers": "ticket-fast"}))
    assert (alert.labels["tier"], alert.labels["severity"]) == ("ticket-slow", "ticket")


def test_tier_labels_never_replace_the_labels_that_identify_an_alert():
    doc = slo_doc(
        "30d", **{"slopipe.io/tier-labels.ticket-fast": "slo=other,tier=x,alertname=y,team=a"}
    )
    (alert,) = burn_alerts(doc)
    assert (alert.labels["slo"], alert.labels["tier"]) == ("checkout", "ticket-fast")
    assert alert.labels["alertname"] == "SLOBurnRate" and alert.labels["team"] == "a"


def test_a_tier_relabelled_by_the_slo_carries_its_labels():
    doc = slo_doc("30d", **{"slopipe.io/tier-labels.ticket-fast": "team=payments"})
    (alert,) = burn_alerts(doc)
    assert alert.labels["tier"] == "ticket-fast" and alert.labels["team"] == "payments"


def test_a_seven_day_slo_is_held_to_its_own_catalogue():
    # 7d factors: page-fast 0.08 x 168h / 1h = 13.44, page-slow 0.2 x 168 / 6 = 5.6,
    # ticket-fast 0.4 x 168 / 24 = 2.8, ticket-slow 0.5 x 168 / 72 = 1.1667. A burn of 4
    # over the last day: 1d and 2h 4 > 2.8 fire ticket-fast; 3d 1.33 > 1.1667 ticket-slow.
    (alert,) = burn_alerts(slo_doc("7d"))
    assert alert.labels["tier"] == "ticket-fast"
    assert "over 2.8)" in alert.annotations["summary"]


def test_a_fast_burn_pages_with_every_label_and_annotation():
    firing = status((PAGE_FAST,), w1h=20, w5m=30)
    (alert,) = decide_alerts([firing], SLOS, [], NOW, LINKS)
    assert alert.labels == {
        "alertname": "SLOBurnRate",
        "service": "shop",
        "slo": "checkout",
        "series": "errors,requests",
        "severity": "page",
        "tier": "page-fast",
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


@pytest.mark.parametrize(
    ("minutes", "escalate_after", "alertname"),
    [
        ([1.5, 0.5], timedelta(minutes=2), "AnomalyEarlyWarning"),  # open 1.5 min of 2
        ([2.5, 0.5], timedelta(minutes=2), "AnomalyEscalated"),  # open 2.5 min
        ([1.5, 0.5], timedelta(minutes=1), "AnomalyEscalated"),  # open 1.5 min of the 1 asked
        ([1.5], timedelta(minutes=2), "AnomalyEarlyWarning"),  # one flag, open 1.5 min of 2
        ([2.5], timedelta(minutes=2), "AnomalyEscalated"),  # one flag (then the detector
        # keeps quiet), still open after 2.5 min
    ],
)
def test_an_episode_escalates_once_it_has_been_open_escalate_after(
    minutes, escalate_after, alertname
):
    episodes = open_episodes(anomalies("errors", minutes), NOW, timedelta(minutes=30))
    rising = status(w1h=2.0, w5m=8.0)
    (alert,) = decide_alerts([rising], SLOS, episodes, NOW, LINKS, escalate_after)
    assert alert.labels["alertname"] == alertname


def test_a_window_without_events_neither_escalates_nor_fails():
    # The engine reports None for a window that saw no events.
    episodes = open_episodes(anomalies("errors", [5, 3, 1]), NOW, timedelta(minutes=30))
    (alert,) = decide_alerts([status(w1h=None, w5m=None)], SLOS, episodes, NOW, LINKS)
    assert alert.labels["alertname"] == "AnomalyEarlyWarning"


def test_a_page_makes_the_early_warning_redundant():
    episodes = open_episodes(anomalies("errors", [0.5]), NOW, timedelta(minutes=30))
    firing = status((PAGE_FAST,), w1h=20, w5m=20)
    alerts = decide_alerts([firing], SLOS, episodes, NOW, LINKS)
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
