"""The monitor's alert policy: which alerts should be firing now. Pure: no I/O, no clock.

| alert               | severity   | tier              | fires when                            |
|---------------------|------------|-------------------|---------------------------------------|
| SLOBurnRate         | the tier's | the tier's name   | the SLO engine finds a burn-rate tier |
|                     |            |                   | firing (`SloStatus.alerts`)           |
| AnomalyEscalated    | page       | anomaly-escalated | an episode on a series an SLO reads   |
|                     |            |                   | stays open while the 5m burn rises    |
| AnomalyEarlyWarning | warning    | early-warning     | an episode on a series an SLO reads,  |
|                     |            |                   | before any burn tier fires            |
| AnomalyDetected     | info       | anomaly           | an episode on a series no SLO reads   |

Burn-rate tiers are the SLO engine's, evaluated there (`slopipe.slo.evaluate`): the catalogue
of the SLO's period (`slopipe.slo.catalogue`; for 30 days page-fast 14.4 over 1h and 5m,
page-slow 6 over 6h and 30m, ticket-fast 3 over 1d and 2h, ticket-slow 1 over 3d and 6h) or
the SLO's own alert policies, minus the tiers it disables, plus the labels it adds to a tier.
The policy computes no burn rate itself: of the tiers the engine found firing for an SLO
objective it raises the most severe one (pages before tickets, then the engine's order,
fastest first), with that tier's name, severity and extra labels.

Anomalies are grouped into episodes (anomalies less than `group_gap` apart): an episode is one
alert however many samples it holds, and it is open while its last anomaly is less than
`group_gap` old. An alert's identity is its label set, so the same condition raised again in a
later cycle is the same alert, never a second notification.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from slopipe.alert.rules import Alert
from slopipe.slo.evaluate import SloStatus


@dataclass(frozen=True)
class FiringTier:
    """A burn-rate tier the SLO engine found firing, with its two windows' burn rates."""

    name: str
    severity: str
    factor: float
    long_window: str
    short_window: str
    long_burn_rate: float
    short_burn_rate: float
    labels: Mapping[str, str]

    @classmethod
    def from_engine(cls, alert: Mapping) -> FiringTier:
        """From one entry of `SloStatus.alerts`."""
        long_rate, short_rate = alert["burn_rates"]
        return cls(
            name=alert["tier"],
            severity=alert["severity"],
            factor=float(alert["factor"]),
            long_window=alert["long_window"],
            short_window=alert["short_window"],
            long_burn_rate=float(long_rate),
            short_burn_rate=float(short_rate),
            labels=dict(alert.get("labels") or {}),
        )


#: Labels that make an alert's identity: an SLO's extra tier labels never replace them
#: (severity they may, as Sloth's page and ticket labels do).
IDENTITY = frozenset({"alertname", "service", "slo", "series", "tier"})
#: Severities in the order they outrank each other; any other severity ranks last.
SEVERITY_ORDER = ("page", "ticket")
#: An anomaly episode escalates once it has been open at least this long while the burn
#: rises (the default of `monitor.escalate_after_seconds`). Open time, not the span of its
#: flagged samples: the detector flags an incident once and then keeps quiet.
ESCALATE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class SloContext:
    """What the policy needs to know of an SLO besides its status."""

    service: str
    series: tuple[str, ...]


@dataclass(frozen=True)
class Links:
    ui_url: str
    runbook_url: str


@dataclass(frozen=True)
class Episode:
    series: str
    start: pd.Timestamp
    last: pd.Timestamp
    samples: int
    anomaly_score: float
    #: The series most to blame at the episode's highest score, when a service model flagged it.
    top_metrics: tuple[str, ...] = ()


def firing_tier(status: SloStatus) -> FiringTier | None:
    """The most severe tier the SLO engine found firing: pages before tickets, then the
    engine's (catalogue) order, fastest first."""
    if not status.alerts:
        return None

    def rank(position: int) -> tuple[int, int]:
        severity = status.alerts[position]["severity"]
        order = SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else 99
        return order, position

    return FiringTier.from_engine(status.alerts[min(range(len(status.alerts)), key=rank)])


def _reaches(rate: float | None, factor: float) -> bool:
    return rate is not None and not math.isnan(rate) and rate >= factor


def open_episodes(anomalies: pd.DataFrame, now: datetime, group_gap: timedelta) -> list[Episode]:
    """The latest episode of each series, when it is still open at `now`."""
    episodes = []
    if anomalies.empty:
        return episodes
    ordered = anomalies.sort_values("timestamp")
    for series, rows in ordered.groupby("series"):
        breaks = (rows["timestamp"].diff() > group_gap).cumsum()
        last = rows[breaks == breaks.iloc[-1]]
        if last["timestamp"].iloc[-1] + group_gap < pd.Timestamp(now):
            continue
        episodes.append(
            Episode(
                series=str(series),
                start=last["timestamp"].iloc[0],
                last=last["timestamp"].iloc[-1],
                samples=len(last),
                anomaly_score=float(last["anomaly_score"].max()),
                top_metrics=_top_metrics(last),
            )
        )
    return episodes


def _top_metrics(rows: pd.DataFrame) -> tuple[str, ...]:
    """The explanation (a `top_metrics` column) of the highest-scoring row, if rows have one.

    TODO: the monitor's store reads give no `top_metrics` yet (it scores no service model);
    service episodes carry them once it does.
    """
    if "top_metrics" not in rows.columns:
        return ()
    return tuple(rows.loc[rows["anomaly_score"].idxmax(), "top_metrics"] or ())


def decide_alerts(
    statuses: list[SloStatus],
    slos: Mapping[str, SloContext],
    episodes: list[Episode],
    now: datetime,
    links: Links,
    escalate_after: timedelta = ESCALATE_AFTER,
) -> list[Alert]:
    """Every alert that should be firing at `now`."""
    alerts, covered = [], set()
    for status in statuses:
        context = slos.get(status.name, SloContext("", ()))
        tier = firing_tier(status)
        if tier:
            alerts.append(_burn_alert(status, context, tier, now, links))
        for episode in (e for e in episodes if e.series in context.series):
            covered.add(episode.series)
            kind = "escalated" if _escalates(episode, status, now, escalate_after) else "early"
            if kind == "early" and tier:
                continue  # the burn alert already says it; the anomaly adds nothing
            alerts.append(_anomaly_alert(kind, episode, status, context, links))
    for episode in (e for e in episodes if e.series not in covered):
        alerts.append(_anomaly_alert("plain", episode, None, SloContext("", ()), links))
    return alerts


def _escalates(
    episode: Episode, status: SloStatus, now: datetime, escalate_after: timedelta
) -> bool:
    """The episode has been open a while and the SLO burns faster now than over the hour."""
    short = _num(status.burn_rates.get("5m"))
    longer = _num(status.burn_rates.get("1h", status.burn_rates.get("30m")))
    rising = _reaches(short, 1.0) and not (short <= longer)
    return pd.Timestamp(now) - episode.start >= escalate_after and rising


def _burn_alert(status, context, tier: FiringTier, now: datetime, links: Links) -> Alert:
    labels = _labels("SLOBurnRate", context.service, status.name, context.series, tier.severity)
    extra = {k: v for k, v in tier.labels.items() if k not in IDENTITY}
    labels = {**labels, **extra, "tier": tier.name}
    summary = (
        f"SLO {status.name} burns its error budget {tier.short_burn_rate:.1f}x too fast "
        f"({tier.long_window} and {tier.short_window} over {tier.factor:g})"
    )
    annotations = _annotations(summary, status, links)
    annotations["description"] = (
        f"Objective {status.objective_ratio:.4%}; SLI {_num(status.sli):.5f} over the window; "
        f"tier {tier.name}: burn rate {tier.long_burn_rate:.2f} over {tier.long_window}, "
        f"{tier.short_burn_rate:.2f} over {tier.short_window}; burn rates "
        f"{_rates(status.burn_rates)}."
    )
    return Alert("SLOBurnRate", labels["severity"], labels, annotations, now)


def _anomaly_alert(kind, episode: Episode, status, context, links: Links) -> Alert:
    name, severity, tier = {
        "early": ("AnomalyEarlyWarning", "warning", "early-warning"),
        "escalated": ("AnomalyEscalated", "page", "anomaly-escalated"),
        "plain": ("AnomalyDetected", "info", "anomaly"),
    }[kind]
    slo = status.name if status else ""
    labels = _labels(name, context.service, slo, (episode.series,), severity)
    labels["tier"] = tier
    summary = f"{episode.samples} anomalous sample(s) on {episode.series} since {episode.start}"
    annotations = _annotations(summary, status, links)
    annotations["anomaly_score"] = f"{episode.anomaly_score:.4f}"
    if episode.top_metrics:
        annotations["top_metrics"] = ", ".join(episode.top_metrics)
    annotations["description"] = (
        f"Anomalies on {episode.series} from {episode.start} to {episode.last}"
        + (f", a series SLO {slo} reads; burn rates {_rates(status.burn_rates)}." if slo else ".")
    )
    return Alert(name, severity, labels, annotations, episode.start.to_pydatetime())


def _labels(name: str, service: str, slo: str, series, severity: str) -> dict[str, str]:
    return {
        "alertname": name,
        "service": service,
        "slo": slo,
        "series": ",".join(series),
        "severity": severity,
    }


def _annotations(summary: str, status: SloStatus | None, links: Links) -> dict[str, str]:
    annotations = {"summary": summary, "runbook_url": links.runbook_url}
    annotations["dashboard"] = links.ui_url
    if status is not None:
        annotations["dashboard"] = f"{links.ui_url}/?slo={status.name}"
        annotations["burn_rate"] = f"{_fast(status.burn_rates):.3f}"
        annotations["error_budget_remaining"] = f"{_num(status.error_budget_remaining):.4f}"
    return annotations


def _fast(rates: Mapping[str, float]) -> float:
    return _num(rates.get("5m", math.nan))


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _rates(rates: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {_num(v):.2f}" for k, v in rates.items())
