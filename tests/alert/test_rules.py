"""Alert rules: anomalies grouped into episodes, stable identities."""

import pandas as pd

from slopipe.alert.rules import anomaly_alerts


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
