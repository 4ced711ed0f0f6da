"""Score samples newer than each series' watermark, and remember how far scoring got.

The model calibrates each series' scores against its recent history, so the lake is read
(once for all series) from `model.history` before the oldest watermark (a day and 2,028 rows
with the default detector); only each series' rows after its own watermark are kept. Series
the model has no forest for are left unscored, with a warning, until a training run includes
them. Anomalies and the new watermarks are stored in one transaction, so a crash never scores
a sample twice nor skips one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from slopipe.detect.model import AnomalyModel
from slopipe.lake import Lake
from slopipe.slo.store import SloStore

log = logging.getLogger(__name__)


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
    warned: set[tuple[str, tuple[str, ...]]] | None = None,
) -> ScoreResult:
    """Score rows after each series' watermark (or after `first_start` when it has none).

    Series the model has no forest for are named in a warning, once per (model version,
    series) recorded in `warned`, which a caller scoring every cycle keeps."""
    marks = store.watermarks()
    known = _known_series(model, model_version, first_start, set() if warned is None else warned)
    after = {s: pd.Timestamp(marks.get(s, first_start[s])) for s in known}
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


def _known_series(model: AnomalyModel, model_version: str, names, warned: set) -> list[str]:
    """The series the model has a forest for; a warning (once per version) names the rest."""
    known = set(model.series)
    unknown = sorted(set(names) - known)
    if unknown and (model_version, tuple(unknown)) not in warned:
        warned.add((model_version, tuple(unknown)))
        log.warning(
            "model version %s has no forest for %d series (%s): not scored until a training "
            "run includes them",
            model_version,
            len(unknown),
            ", ".join(unknown[:5]),
        )
    return [s for s in names if s in known]


def _score_after(lake: Lake, model: AnomalyModel, after: dict[str, pd.Timestamp]) -> pd.DataFrame:
    """Scores of every series' rows after its watermark, from one read of the lake.

    The read starts `model.history` before the oldest watermark; each series is scored on its
    own history window only, so every series gets the same context whatever the others need.
    """
    empty = pd.DataFrame(columns=["timestamp", "series", "value", "anomaly_score", "is_anomaly"])
    if not after:
        return empty
    starts = {s: mark - model.history(s) for s, mark in after.items()}
    samples = lake.read(sorted(after), start=min(starts.values()))
    if samples.empty:
        return empty
    samples = samples[samples["timestamp"] >= samples["series"].map(starts)]
    scores = model.score(samples)
    cut = scores["series"].map(after)
    return scores[scores["timestamp"] > cut].reset_index(drop=True)
