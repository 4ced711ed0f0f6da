"""Numenta Anomaly Benchmark (NAB) scoring, as restated in data/nab/SCORING.md.

Pure: arrays and windows in, numbers out; no file is read here (see `nab_files`).

Contract, once:

- A *file* is one series: an `anomaly_score` per row and its ground-truth windows, each a pair
  of row indices `[first_row, last_row]`, both inclusive.
- The first `probation_rows(n_rows)` rows of a file are never scored.
- A scorable row is a *detection* iff `anomaly_score >= threshold`.
- A window earns its best detection, `tp_weight * sigma(y) / sigma(-1)` with
  `y = -(last_row - row + 1) / width`, or `-fn_weight` when nothing inside it is detected.
- A detection outside every window costs `fp_weight * sigma((row - last_row) / (width - 1))`
  against the closest window that ended before it, or `-fp_weight` when none did.
- The corpus threshold is the one that maximises the summed raw score (§2.5, the "sweeper");
  the NAB score is `100 * (raw - raw_null) / (raw_perfect - raw_null)`.

Event-level measures (not part of NAB; reported beside it):

- An *alarm* is a maximal run of consecutive detected scorable rows. It is *true* when any of
  its rows lies inside a window.
- `precision` = true alarms / alarms (None when there is no alarm).
- `recall` = windows holding at least one detection / windows (None when there is no window).
- `mean_detection_delay_rows` = mean, over detected windows, of rows from the window's first row
  to its first detection (None when no window is detected). NAB windows are centred on the
  labelled point, so a detector firing exactly at the point has a delay of half a window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Probation is 15% of a file, capped at 15% of 5,000 rows (NAB: probationPercent = 0.15).
PROBATION_FRACTION = 0.15
PROBATION_CAP_ROWS = PROBATION_FRACTION * 5000

# The sweep starts above any valid score, so "nothing detected" is its first candidate.
SWEEP_START_THRESHOLD = 1.1


@dataclass(frozen=True)
class Profile:
    """NAB cost weights (tnWeight exists in NAB's config but never counts)."""

    name: str
    tp_weight: float
    fn_weight: float
    fp_weight: float


# Values from NAB's config/profiles.json (numenta/NAB, commit ea702d7).
STANDARD = Profile("standard", tp_weight=1.0, fn_weight=1.0, fp_weight=0.11)
REWARD_LOW_FP_RATE = Profile("reward_low_FP_rate", tp_weight=1.0, fn_weight=1.0, fp_weight=0.22)
REWARD_LOW_FN_RATE = Profile("reward_low_FN_rate", tp_weight=1.0, fn_weight=2.0, fp_weight=0.11)
PROFILES: tuple[Profile, ...] = (STANDARD, REWARD_LOW_FP_RATE, REWARD_LOW_FN_RATE)


@dataclass(frozen=True)
class Window:
    """A ground-truth anomaly window, by row index, both ends inclusive."""

    first_row: int
    last_row: int

    @property
    def width_rows(self) -> int:
        return self.last_row - self.first_row + 1


@dataclass(frozen=True)
class ScoredFile:
    """One series to score: its name, one anomaly_score per row, its windows in row order."""

    name: str
    anomaly_score: np.ndarray
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class ProfileResult:
    """A profile's outcome: the threshold used, the raw total and the normalised NAB score."""

    profile: str
    threshold: float
    raw_score: float
    nab_score: float


@dataclass(frozen=True)
class EventMetrics:
    """Event-level precision, recall and mean delay; see the module docstring."""

    alarms: int
    true_alarms: int
    windows: int
    detected_windows: int
    precision: float | None
    recall: float | None
    mean_detection_delay_rows: float | None


def scaled_sigmoid(position: float) -> float:
    """NAB's sigma(y) = 2 / (1 + e^(5y)) - 1, clamped to -1 beyond y = 3."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_rows(n_rows: int) -> int:
    """Rows at the start of a file that are never scored: min(floor(0.15 N), 750)."""
    return int(min(math.floor(PROBATION_FRACTION * n_rows), PROBATION_CAP_ROWS))


def row_contributions(
    n_rows: int, windows: Sequence[Window], profile: Profile
) -> tuple[np.ndarray, np.ndarray]:
    """What each row would add if detected, and the window it falls in.

    Returns `(contribution, window_index)`: float and int arrays of length `n_rows`.
    `window_index` is -1 outside windows; probation rows contribute 0 and have index -1.
    """
    contribution = np.full(n_rows, -profile.fp_weight)
    window_index = np.full(n_rows, -1, dtype=np.int64)
    for index, window in enumerate(windows):
        _fill_window(contribution, window_index, window, index, profile)
        next_first = windows[index + 1].first_row if index + 1 < len(windows) else n_rows
        _fill_after_window(contribution, window, next_first, profile)
    unscored = probation_rows(n_rows)
    contribution[:unscored] = 0.0
    window_index[:unscored] = -1
    return contribution, window_index


def _fill_window(contribution, window_index, window: Window, index: int, profile: Profile):
    top = scaled_sigmoid(-1.0)
    for row in range(window.first_row, window.last_row + 1):
        position = -(window.last_row - row + 1) / window.width_rows
        contribution[row] = profile.tp_weight * scaled_sigmoid(position) / top
        window_index[row] = index


def _fill_after_window(contribution, window: Window, stop_row: int, profile: Profile):
    # A one-row window would divide by zero; NAB never builds one, treat it as width 2.
    spread_rows = max(window.width_rows - 1, 1)
    for row in range(window.last_row + 1, stop_row):
        position = (row - window.last_row) / spread_rows
        contribution[row] = profile.fp_weight * scaled_sigmoid(position)


def raw_score(file: ScoredFile, threshold: float, profile: Profile) -> float:
    """A file's raw NAB score at `threshold`: best hit or miss per window, plus every FP row."""
    contribution, window_index = row_contributions(len(file.anomaly_score), file.windows, profile)
    scorable = np.arange(len(contribution)) >= probation_rows(len(contribution))
    detected = scorable & (file.anomaly_score >= threshold)
    false_positive_total = contribution[detected & (window_index < 0)].sum()
    window_total = 0.0
    for index in range(len(file.windows)):
        hits = contribution[detected & (window_index == index)]
        window_total += hits.max() if hits.size else -profile.fn_weight
    return float(window_total + false_positive_total)


def sweep_threshold(files: Sequence[ScoredFile], profile: Profile) -> tuple[float, float]:
    """NAB's corpus-wide optimiser: the `(threshold, raw_score)` with the highest raw total.

    Rows of all files are switched on in descending score order; the total is recorded before
    each new distinct score. Ties go to the first, i.e. highest, threshold.
    """
    scores, contributions, windows = _corpus_rows(files, profile)
    n_windows = sum(len(f.windows) for f in files)
    best_window = np.full(n_windows, -profile.fn_weight)
    total = -profile.fn_weight * n_windows
    best_threshold, best_total = SWEEP_START_THRESHOLD, total
    order = np.argsort(-scores, kind="stable")
    current = SWEEP_START_THRESHOLD
    for row in order:
        if scores[row] != current:
            if total > best_total:
                best_threshold, best_total = current, total
            current = scores[row]
        total += _switch_on(contributions[row], windows[row], best_window)
    if total > best_total:
        best_threshold, best_total = current, total
    return float(best_threshold), float(best_total)


def _switch_on(contribution: float, window: int, best_window: np.ndarray) -> float:
    """Detect one row; return the change in the raw total."""
    if window < 0:
        return contribution
    gain = max(contribution - best_window[window], 0.0)
    best_window[window] += gain
    return gain


def _corpus_rows(files: Sequence[ScoredFile], profile: Profile):
    scores, contributions, windows = [], [], []
    window_offset = 0
    for file in files:
        contribution, window_index = row_contributions(
            len(file.anomaly_score), file.windows, profile
        )
        unscored = probation_rows(len(contribution))
        scores.append(np.asarray(file.anomaly_score, dtype=float)[unscored:])
        contributions.append(contribution[unscored:])
        shifted = np.where(window_index >= 0, window_index + window_offset, -1)
        windows.append(shifted[unscored:])
        window_offset += len(file.windows)
    return np.concatenate(scores), np.concatenate(contributions), np.concatenate(windows)


def normalised_score(raw: float, n_windows: int, profile: Profile) -> float:
    """100 * (raw - null) / (perfect - null); the null detector scores 0, a perfect one 100."""
    raw_null = -profile.fn_weight * n_windows
    raw_perfect = profile.tp_weight * n_windows
    if raw_perfect == raw_null:
        return 0.0
    return 100.0 * (raw - raw_null) / (raw_perfect - raw_null)


def score_at_threshold(
    files: Sequence[ScoredFile], profile: Profile, threshold: float
) -> ProfileResult:
    """Score a corpus at a given threshold (e.g. 0.5 on a detector's own 0/1 flags)."""
    raw = sum(raw_score(f, threshold, profile) for f in files)
    n_windows = sum(len(f.windows) for f in files)
    return ProfileResult(profile.name, threshold, raw, normalised_score(raw, n_windows, profile))


def score_swept(files: Sequence[ScoredFile], profile: Profile) -> ProfileResult:
    """Sweep the threshold over the corpus, then re-score every file at it (NAB's runner)."""
    threshold, _ = sweep_threshold(files, profile)
    return score_at_threshold(files, profile, threshold)


def event_metrics(files: Sequence[ScoredFile], threshold: float) -> EventMetrics:
    """Alarm precision, window recall and mean detection delay at `threshold`."""
    alarms = true_alarms = detected_windows = 0
    delays_rows: list[int] = []
    for file in files:
        detected = _detected_rows(file, threshold)
        in_window = np.zeros(len(detected), dtype=bool)
        for window in file.windows:
            in_window[window.first_row : window.last_row + 1] = True
            hits = np.flatnonzero(detected[window.first_row : window.last_row + 1])
            if hits.size:
                detected_windows += 1
                delays_rows.append(int(hits[0]))
        file_alarms, file_true = _count_alarms(detected, in_window)
        alarms, true_alarms = alarms + file_alarms, true_alarms + file_true
    n_windows = sum(len(f.windows) for f in files)
    return EventMetrics(
        alarms=alarms,
        true_alarms=true_alarms,
        windows=n_windows,
        detected_windows=detected_windows,
        precision=true_alarms / alarms if alarms else None,
        recall=detected_windows / n_windows if n_windows else None,
        mean_detection_delay_rows=float(np.mean(delays_rows)) if delays_rows else None,
    )


def _detected_rows(file: ScoredFile, threshold: float) -> np.ndarray:
    detected = np.asarray(file.anomaly_score, dtype=float) >= threshold
    detected[: probation_rows(len(detected))] = False
    return detected


def _count_alarms(detected: np.ndarray, in_window: np.ndarray) -> tuple[int, int]:
    """Count runs of detected rows, and those runs touching a window."""
    padded = np.concatenate([[False], detected, [False]]).astype(np.int8)
    starts = np.flatnonzero(np.diff(padded) == 1)
    stops = np.flatnonzero(np.diff(padded) == -1)
    true_runs = sum(bool(in_window[a:b].any()) for a, b in zip(starts, stops, strict=True))
    return len(starts), true_runs
