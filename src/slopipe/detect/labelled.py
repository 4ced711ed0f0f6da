"""NAB and event-level measures of a trained model on its held-out span, where labels exist.

Labels are time intervals per series, from two places:

- a NAB labels file (`combined_windows.json`): a file's series is its name without `.csv`;
- people's verdicts (`SloStore.feedback()`): confirmed anomalies become windows as
  `feedback_labels` makes them, over the series' whole history.

A series with either is a labelled series. `holdout_measures` scores the model's held-out
rows of the labelled series with NAB's method (`slopipe.detect.nab`): windows are the held-out
rows inside each interval, and an interval with no held-out row is left out. Pure: frames
and intervals in, numbers out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from slopipe.detect import nab
from slopipe.detect.evaluate import EPISODE_GAP, confirmed_by_series, evaluate_files
from slopipe.detect.feedback_labels import feedback_windows, merge_windows

#: series -> [(start, end)], both ends included, UTC timestamps.
Intervals = dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]


def intervals_from_nab(labels: dict[str, list[tuple[str, str]]]) -> Intervals:
    """A NAB labels file's windows (as `nab_files.read_window_labels` gives them) by series."""
    intervals: Intervals = {}
    for key, pairs in labels.items():
        series = key.rsplit("/", 1)[-1].removesuffix(".csv")
        intervals[series] = [(_utc(start), _utc(end)) for start, end in pairs]
    return intervals


def intervals_from_feedback(feedback: pd.DataFrame | None, history: pd.DataFrame) -> Intervals:
    """Windows of people's confirmed anomalies, sized over each series' `history` rows
    (`series`, `timestamp`); a series with only rejected flags gets an empty list."""
    intervals: Intervals = {}
    stamps_of = {
        str(s): np.sort(rows["timestamp"].dt.tz_convert(None).to_numpy("datetime64[ns]"))
        for s, rows in history.groupby("series")
    }
    for series, confirmed in confirmed_by_series(feedback).items():
        if series not in stamps_of:
            continue
        stamps = stamps_of[series]
        windows = feedback_windows(stamps, confirmed, EPISODE_GAP)
        intervals[series] = [(_utc(stamps[w.first_row]), _utc(stamps[w.last_row])) for w in windows]
    return intervals


def joined(*sources: Intervals) -> Intervals:
    together: Intervals = {}
    for intervals in sources:
        for series, pairs in intervals.items():
            together.setdefault(series, []).extend(pairs)
    return together


def holdout_measures(
    held_scores: pd.DataFrame, threshold: float, intervals: Intervals
) -> dict[str, float] | None:
    """NAB scores (swept and at `threshold`) and event measures of the labelled held-out
    series, as flat `name: number` metrics; None when no held-out series is labelled.

    `held_scores` has `series`, `timestamp` and `anomaly_score` in [0, 1], higher meaning
    more anomalous."""
    files = [
        _scored_file(series, rows, intervals[series])
        for series, rows in held_scores.groupby("series")
        if series in intervals
    ]
    if not files:
        return None
    result = evaluate_files(files, fixed_threshold=threshold).as_dict()
    profiles = list(result["thresholds"])
    measures = {f"nab_{p}": result[p] for p in profiles}
    measures |= {f"nab_fixed_{p}": result["fixed"][p] for p in profiles}
    measures |= {
        "labelled_series": result["files"],
        "labelled_windows": result["windows"],
        "event_precision": result["precision"],
        "event_recall": result["recall"],
        "event_mean_delay_rows": result["mean_detection_delay_rows"],
    }
    return {k: float(v) for k, v in measures.items() if v is not None}


def _scored_file(series: str, rows: pd.DataFrame, pairs) -> nab.ScoredFile:
    rows = rows.sort_values("timestamp")
    stamps = rows["timestamp"].reset_index(drop=True)
    windows = []
    for start, end in pairs:
        inside = np.flatnonzero(((stamps >= start) & (stamps <= end)).to_numpy())
        if inside.size:
            windows.append(nab.Window(int(inside[0]), int(inside[-1])))
    anomaly_score = np.clip(rows["anomaly_score"].to_numpy(dtype=float), 0.0, 1.0)
    return nab.ScoredFile(series, anomaly_score, merge_windows(windows))


def _utc(stamp) -> pd.Timestamp:
    stamp = pd.Timestamp(stamp)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
