"""Score samples newer than each series' watermark, and remember how far scoring got.

Features look back a day, so each series is read from a day before its watermark; only rows
after the watermark are kept. Anomalies and the new watermarks are stored in one transaction,
so a crash never scores a sample twice nor skips one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from slopipe.detect.model import AnomalyModel
from slopipe.lake import Lake
from slopipe.slo.store import SloStore

log = logging.getLogger(__name__)

CONTEXT = timedelta(days=1)


@dataclass(frozen=True)
class ScoreResult:
    scored: int
    anomalies: int
    new_anomalies: int
    flagged: pd.DataFrame
    latest_scores: dict[str, float] = field(default_factory=dict)


def score_new(
    lake: Lake,
    store: SloStore,
    model: AnomalyModel,
    model_version: str,
    first_start: dict[str, datetime],
) -> ScoreResult:
    """Score rows after each series' watermark (or after `first_start` when it has none)."""
    marks = store.watermarks()
    scored_parts, until, log_rows = [], {}, []
    for series, default_start in sorted(first_start.items()):
        after = marks.get(series, default_start)
        samples = lake.read(series, start=pd.Timestamp(after) - CONTEXT)
        if samples.empty:
            continue
        scores = model.score(samples)
        fresh = scores[scores["timestamp"] > pd.Timestamp(after)]
        if not fresh.empty:
            scored_parts.append(fresh)
            until[series] = fresh["timestamp"].max().to_pydatetime()
            log_rows.append(
                {
                    "series": series,
                    "scored_after": pd.Timestamp(after).to_pydatetime(),
                    "scored_until": until[series],
                    "samples": len(fresh),
                }
            )
    scored = (
        pd.concat(scored_parts, ignore_index=True)
        if scored_parts
        else pd.DataFrame(columns=["timestamp", "series", "value", "anomaly_score", "is_anomaly"])
    )
    flagged = scored[scored["is_anomaly"].astype(bool)]
    new = store.record_scores(flagged, model_version, until, log_rows)
    log.info(
        "scored %d sample(s) of %d series: %d anomalies, %d new",
        len(scored),
        len(until),
        len(flagged),
        new,
    )
    last = scored.sort_values("timestamp").groupby("series")["anomaly_score"].last()
    latest = {str(k): float(v) for k, v in last.items()}
    return ScoreResult(len(scored), len(flagged), new, flagged, latest)
