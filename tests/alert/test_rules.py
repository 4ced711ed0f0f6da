"""Alert rules: anomalies grouped into episodes, stable identities."""

import pandas as pd

from slopipe.alert.rules import anomaly_alerts, service_alerts


def anomalies(*minutes_after: int, series: str = "cpu") -> pd.DataFrame:
    start = pd.Timestamp("2024-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "series": series,
            "timestamp": [start + pd.Timedelta(minutes=m) for m in minutes_after],
            "anomaly_score": [0.7] * len(minutes_after),
        }
    )


def test_anomalies_closer_than_the_gap_are_one_alert():
    now = pd.Timestamp("2024-01-02", tz="UTC").to_pydatetime()
    alerts = anomaly_alerts(anomalies(0, 1, 2, 20, 120, 121), now)
    assert len(alerts) == 2
    assert "4 anomalous sample(s)" in alerts[0].annotations["summary"]


def test_an_episode_still_running_has_no_end_and_an_old_one_is_resolved():
    now = pd.Timestamp("2024-01-01 02:10", tz="UTC").to_pydatetime()
    old, recent = anomaly_alerts(anomalies(0, 1, 125), now)
    assert old.ends_at is not None and recent.ends_at is None


def test_the_same_episode_gets_the_same_fingerprint_every_time():
    now = pd.Timestamp("2024-01-02", tz="UTC").to_pydatetime()
    first = [a.fingerprint for a in anomaly_alerts(anomalies(0, 5), now)]
    again = [a.fingerprint for a in anomaly_alerts(anomalies(0, 5), now)]
    assert (
        first == again
        and len(
            set(first + [a.fingerprint for a in anomaly_alerts(anomalies(0, 5, series="mem"), now)])
        )
        == 2
    )


def service_anomalies(*minutes_after: int) -> pd.DataFrame:
    start = pd.Timestamp("2024-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "timestamp": [start + pd.Timedelta(minutes=m) for m in minutes_after],
            "anomaly_score": [0.7, 0.9, 0.8, 0.6][: len(minutes_after)],
            "top_metrics": [["cpu", "db"], ["db", "cpu"], ["cpu", "db"], ["cpu"]][
                : len(minutes_after)
            ],
        }
    )


def test_a_service_episode_names_the_metrics_of_its_highest_score_first():
    now = pd.Timestamp("2024-01-02", tz="UTC").to_pydatetime()
    first, second = service_alerts("shop", service_anomalies(0, 1, 2, 120), ["shop-latency"], now)
    assert first.labels == {
        "alertname": "ServiceAnomalyDetected",
        "service": "shop",
        "severity": "warning",
    }
    assert first.annotations["top_metrics"] == "db, cpu"  # minute 1 scores 0.9, the most
    assert first.annotations["anomaly_score"] == "0.9000"
    assert first.annotations["slos"] == "shop-latency"
    assert "3 anomalous step(s) on service shop" in first.annotations["summary"]
    assert second.annotations["top_metrics"] == "cpu"
    assert first.ends_at is not None  # its last step is more than 30 minutes before now


def test_a_service_without_anomalies_raises_no_alert():
    now = pd.Timestamp("2024-01-02", tz="UTC").to_pydatetime()
    assert service_alerts("shop", service_anomalies()[0:0], [], now) == []
