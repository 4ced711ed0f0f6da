"""Services: which series one multivariate model watches together, and what it flags. Pure.

A service is a set of series whose labels agree on every label of `service_labels` (by default
`job` and `instance`) and on `name_label` (by default `service`); a label a series lacks counts
as empty. It is named by its `name_label` value; without one, by its `service_labels` values
joined with "/" (`checkout-api/checkout-0:9100`); without any, `unlabelled`. When several
services would take one name, each gets its `service_labels` values after the name
(`checkout/checkout-api/checkout-0:9100`). An SLO links to a service through its OpenSLO
`spec.service`, which names the service's `slo_service` (its `name_label` value, or its name).

A service model sees the series only over the span they all cover (`common_span`); its
training rows are the older `1 - holdout_fraction` of that span (`split_time`), exactly as the
per-series model holds out the newest rows of each series.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from slopipe.detect.multivariate import ServiceScores

UNLABELLED = "unlabelled"
#: How many metrics an anomaly's explanation keeps, most to blame first.
TOP_METRICS = 5


@dataclass(frozen=True)
class Service:
    name: str
    series: tuple[str, ...]
    slo_service: str


def group_services(
    series_labels: Mapping[str, Mapping[str, str]],
    service_labels: Sequence[str],
    name_label: str,
) -> list[Service]:
    """The services formed by series with these labels, by name."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for series, labels in series_labels.items():
        key = tuple(str(labels.get(k, "")) for k in (*service_labels, name_label))
        groups.setdefault(key, []).append(series)
    bases = {key: key[-1] or _joined(key[:-1]) for key in groups}
    taken = list(bases.values())
    services = []
    for key, members in groups.items():
        base = bases[key]
        name = base if taken.count(base) == 1 else f"{base}/{_joined(key[:-1])}"
        services.append(Service(name, tuple(sorted(members)), base))
    return sorted(services, key=lambda s: s.name)


def _joined(values: Sequence[str]) -> str:
    return "/".join(v for v in values if v) or UNLABELLED


def labels_of(samples: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Each series' labels (its newest sample's) from a samples frame."""
    newest = samples.sort_values("timestamp").groupby("series")["labels"].last()
    return {str(series): json.loads(text or "{}") for series, text in newest.items()}


def common_span(frame: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last time that every series of a long frame covers, or None if they do not
    overlap."""
    bounds = frame.groupby("series")["timestamp"].agg(["min", "max"])
    start, end = bounds["min"].max(), bounds["max"].min()
    return (start, end) if start < end else None


def split_time(timestamps: pd.Series, holdout_fraction: float) -> pd.Timestamp:
    """The time from which the newest `holdout_fraction` of the distinct timestamps (rounded to a
    whole number of them, at least one) is held out."""
    stamps = timestamps.drop_duplicates().sort_values().reset_index(drop=True)
    held = max(1, round(len(stamps) * holdout_fraction))
    return stamps.iloc[len(stamps) - held]


def flagged_rows(scores: ServiceScores, top: int = TOP_METRICS) -> pd.DataFrame:
    """The flagged steps of a service model's scores: timestamp, anomaly_score, top_metrics
    (the `top` series most to blame, first the most)."""
    flag = scores.flag.to_numpy(dtype=bool)
    ranked = scores.top_metrics.iloc[:, :top].to_numpy()[flag]
    return pd.DataFrame(
        {
            "timestamp": scores.anomaly_score.index[flag],
            "anomaly_score": scores.anomaly_score.to_numpy()[flag],
            "top_metrics": [list(row) for row in ranked],
        }
    )
