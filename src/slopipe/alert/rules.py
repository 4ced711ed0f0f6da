"""Which alerts a run raises. Pure: no I/O.

- A breached SLO raises `SLOBreached` (severity page when the 1h burn rate is 14.4 or more,
  the SRE Workbook's fast-burn factor for a 30-day budget; ticket otherwise).
- Anomalies on one series are grouped: rows closer than `group_gap` apart are one episode and
  one `AnomalyDetected` alert (severity warning), not one alert per sample.
- A service model's anomalies are grouped the same way into `ServiceAnomalyDetected` alerts
  (severity warning) whose annotation `top_metrics` names the series most to blame at the
  episode's highest score, first the most, and `slos` the SLOs that name the service.

Every alert has a stable fingerprint from its identity (name, subject, start), so raising it
again never makes a second notification.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

FAST_BURN = 14.4


@dataclass(frozen=True)
class Alert:
    alertname: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    fingerprint: str = field(default="")

    def __post_init__(self) -> None:
        if not self.fingerprint:
            identity = json.dumps([self.alertname, self.labels, self.starts_at.isoformat()])
            object.__setattr__(self, "fingerprint", hashlib.sha256(identity.encode()).hexdigest())


def slo_alerts(statuses: list, services: dict[str, str]) -> list[Alert]:
    """One alert per breached SLO objective; `services` maps SLO name to its service."""
    alerts = []
    for status in statuses:
        if status.state != "breached":
            continue
        fast = status.burn_rates.get("1h", 0.0) or 0.0
        severity = "page" if fast >= FAST_BURN else "ticket"
        labels = {
            "alertname": "SLOBreached",
            "slo": status.name,
            "service": services.get(status.name, ""),
            "severity": severity,
        }
        summary = (
            f"SLO {status.name} is breached: SLI {status.sli:.5f} "
            f"below objective {status.objective_ratio:.5f}"
        )
        annotations = {
            "summary": summary,
            "error_budget_remaining": f"{status.error_budget_remaining:.4f}",
            "burn_rate_1h": f"{fast:.3f}",
        }
        alerts.append(Alert("SLOBreached", severity, labels, annotations, status.window_start))
    return alerts


def anomaly_alerts(
    anomalies: pd.DataFrame, now: datetime, group_gap: timedelta = timedelta(minutes=30)
) -> list[Alert]:
    """Group anomalies (series, timestamp, anomaly_score) into one alert per episode.

    An episode whose last anomaly is older than `group_gap` before `now` is resolved.
    """
    alerts = []
    for series, rows in anomalies.sort_values("timestamp").groupby("series"):
        episode = (rows["timestamp"].diff() > group_gap).cumsum()
        for _, part in rows.groupby(episode):
            alerts.append(_episode_alert(str(series), part, now, group_gap))
    return alerts


def _episode_alert(series: str, part: pd.DataFrame, now: datetime, gap: timedelta) -> Alert:
    start, last = part["timestamp"].iloc[0], part["timestamp"].iloc[-1]
    resolved = last + gap < pd.Timestamp(now)
    labels = {"alertname": "AnomalyDetected", "series": series, "severity": "warning"}
    annotations = {
        "summary": f"{len(part)} anomalous sample(s) on {series} from {start:%Y-%m-%d %H:%M}",
        "anomaly_score": f"{part['anomaly_score'].max():.4f}",
    }
    return Alert(
        "AnomalyDetected",
        "warning",
        labels,
        annotations,
        start.to_pydatetime(),
        (last + gap).to_pydatetime() if resolved else None,
    )


def service_alerts(
    service: str,
    anomalies: pd.DataFrame,
    slos: list[str],
    now: datetime,
    group_gap: timedelta = timedelta(minutes=30),
) -> list[Alert]:
    """One alert per episode of a service model's anomalies (timestamp, anomaly_score,
    top_metrics); `slos` are the SLOs whose `spec.service` names the service."""
    if anomalies.empty:
        return []
    rows = anomalies.sort_values("timestamp", ignore_index=True)
    episode = (rows["timestamp"].diff() > group_gap).cumsum()
    return [
        _service_alert(service, part, slos, now, group_gap) for _, part in rows.groupby(episode)
    ]


def _service_alert(
    service: str, part: pd.DataFrame, slos: list[str], now: datetime, gap: timedelta
) -> Alert:
    start, last = part["timestamp"].iloc[0], part["timestamp"].iloc[-1]
    worst = part.loc[part["anomaly_score"].idxmax()]
    labels = {"alertname": "ServiceAnomalyDetected", "service": service, "severity": "warning"}
    summary = f"{len(part)} anomalous step(s) on service {service} from {start:%Y-%m-%d %H:%M}"
    annotations = {
        "summary": summary,
        "anomaly_score": f"{worst['anomaly_score']:.4f}",
        "top_metrics": ", ".join(worst["top_metrics"]),
        "slos": ", ".join(slos),
    }
    resolved = last + gap < pd.Timestamp(now)
    ends_at = (last + gap).to_pydatetime() if resolved else None
    return Alert(
        "ServiceAnomalyDetected", "warning", labels, annotations, start.to_pydatetime(), ends_at
    )
