"""Score samples newer than each series' watermark, and remember how far scoring got.

Features look back a day, so the lake is read (once for all series) from a day before the
oldest watermark; only each series' rows after its own watermark are kept. Anomalies and the
new watermarks are stored in one transaction, so a crash never scores a sample twice nor skips
one.
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
    after = {s: pd.Timestamp(marks.get(s, d)) for s, d in first_start.items()}
    scored = _score_after(lake, model, after)
    until, log_rows = {}, []
    for series, rows in scored.groupby("series"):
        until[series] = rows["timestamp"].max().to_pydatetime()
        log_rows.append(
            {
                "series": series,
                "scored_after": after[series].to_pydatetime(),
                "scored_until": until[series],
                "samples": len(rows),
            }
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


def _score_after(lake: Lake, model: AnomalyModel, after: dict[str, pd.Timestamp]) -> pd.DataFrame:
    """Scores of every series' rows after its watermark, from one read of the lake.

    The read starts a day (`CONTEXT`) before the oldest watermark, so features have history.
    """
    empty = pd.DataFrame(columns=["timestamp", "series", "value", "anomaly_score", "is_anomaly"])
    if not after:
        return empty
    samples = lake.read(sorted(after), start=min(after.values()) - CONTEXT)
    if samples.empty:
        return empty
    scores = model.score(samples)
    cut = scores["series"].map(after)
    return scores[scores["timestamp"] > cut].reset_index(drop=True)
