"""slopipe's streaming univariate detector: an Isolation Forest, calibrated and filtered.

Contract, once:

- `score_series(timestamps, values, config)` returns `(anomaly_score, flags)`, one per row:
  `anomaly_score` in [0, 1], higher means more anomalous; `flags` is `anomaly_score >=
  config.flag_threshold`, a threshold fixed in advance without labels.
- Streaming: the outputs at row t depend only on rows <= t, so appending rows never changes
  earlier outputs. Same inputs and `config.seed` give the same outputs.
- Timestamps must not decrease (NAB repeats some at DST changes). The seasonal difference
  and the quiet period look back by time; the other windows count rows, and their defaults
  assume 5-minute rows (288 a day).

The stages, each a function of the one before:

1. features: the value, and its daily seasonal difference (value minus the value one day
   earlier, 0 until a day of history exists);
2. raw score: an IsolationForest refit every `refit_every_rows` rows on the trailing
   `train_rows` rows, scoring the rows up to the next refit (higher = more isolated);
3. likelihood: the mean raw score over the last `short_rows` rows, against the mean and
   spread of that quantity over the previous `history_rows` rows; its Gaussian tail
   probability, on a log scale, gives a score in [0, 1];
4. run filter: within a run of consecutive rows scoring above `run_level`, only the first keeps
   its score;
5. new range: a value beyond the range seen so far by more than `new_range_margin_ratio` of
   that range scores `new_range_score`;
6. quiet period: for `quiet_seconds` after a flagged row, scores are multiplied by
   `quiet_damping`, so one incident raises one alarm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erfc
from sklearn.ensemble import IsolationForest

from slopipe.errors import DetectError

DAY = np.timedelta64(1, "D")

# The likelihood score is log(tail) / log(TAIL_FLOOR): 0 at tail 1, 1 at tail <= 1e-10.
TAIL_FLOOR = 1e-10


@dataclass(frozen=True)
class StreamingConfig:
    """Every knob of the detector; defaults are the ones measured in docs/detection-results.md."""

    seed: int = 0  # random_state of every forest fit
    n_trees: int = 300  # 300 rather than 100 narrows seed-to-seed spread (DETECTION-NOTES)
    train_rows: int = 2016  # trailing rows each forest is fitted on (7 days at 5 minutes)
    refit_every_rows: int = 288  # one refit per day at 5 minutes
    min_train_rows: int = 288  # rows before the first fit; earlier raw scores are NaN
    short_rows: int = 12  # rows averaged into the short-term raw score
    history_rows: int = 2016  # rows of short-term scores that set the baseline
    min_history_rows: int = 288  # baseline rows needed before the likelihood is non-zero
    run_level: float = 0.5  # run filter level on the likelihood score
    new_range_margin_ratio: float = 0.05  # margin beyond [min, max] so far, as part of max - min
    new_range_warmup_rows: int = 288  # rows before the new-range rule may fire
    new_range_score: float = 1.0  # score given to a row leaving the range
    quiet_seconds: float = 4 * 3600.0  # quiet period after a flag
    quiet_damping: float = 0.1  # factor applied to scores in a quiet period
    flag_threshold: float = 0.4  # fixed, label-free: flags = anomaly_score >= this


def score_series(
    timestamps: np.ndarray, values: np.ndarray, config: StreamingConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Score a series in streaming order; see the module docstring for the contract."""
    config = config or StreamingConfig()
    timestamps, values = _checked(timestamps, values)
    raw = isolation_scores(seasonal_features(timestamps, values), config)
    return postprocess(timestamps, values, raw, config)


def postprocess(
    timestamps: np.ndarray, values: np.ndarray, raw: np.ndarray, config: StreamingConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Stages 3-6: raw isolation scores to `(anomaly_score, flags)`."""
    anomaly_score = first_of_runs(likelihood_scores(raw, config), config.run_level)
    beyond = new_range_rows(values, config.new_range_margin_ratio, config.new_range_warmup_rows)
    anomaly_score = np.where(
        beyond, np.maximum(anomaly_score, config.new_range_score), anomaly_score
    )
    anomaly_score = quiet_after_flags(timestamps, anomaly_score, config)
    return anomaly_score, anomaly_score >= config.flag_threshold


def _checked(timestamps, values) -> tuple[np.ndarray, np.ndarray]:
    timestamps = np.asarray(timestamps, dtype="datetime64[ns]")
    values = np.asarray(values, dtype=float)
    if timestamps.shape != values.shape or values.ndim != 1:
        raise DetectError(f"timestamps {timestamps.shape} and values {values.shape} differ")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DetectError(f"value at row {bad[0]} is not a finite number")
    unordered = np.flatnonzero(np.diff(timestamps) < np.timedelta64(0, "ns"))
    if unordered.size:
        raise DetectError(f"timestamps must not decrease; row {unordered[0] + 1} goes back")
    return timestamps, values


def seasonal_features(timestamps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Columns: the value, and value minus the latest value at least one day older."""
    day_ago = np.searchsorted(timestamps, timestamps - DAY, side="right") - 1
    has_history = day_ago >= 0
    seasonal_difference = np.where(has_history, values - values[np.maximum(day_ago, 0)], 0.0)
    return np.column_stack([values, seasonal_difference])


def isolation_scores(features: np.ndarray, config: StreamingConfig) -> np.ndarray:
    """Raw scores (higher = more isolated), NaN before the first fit; causal by refit blocks."""
    n_rows = len(features)
    raw = np.full(n_rows, np.nan)
    for fit_row in range(config.min_train_rows, n_rows, config.refit_every_rows):
        train = features[max(0, fit_row - config.train_rows) : fit_row]
        forest = IsolationForest(
            n_estimators=config.n_trees, random_state=config.seed, n_jobs=1
        ).fit(train)
        block = slice(fit_row, min(fit_row + config.refit_every_rows, n_rows))
        raw[block] = -forest.score_samples(features[block])
    return raw


def likelihood_scores(raw: np.ndarray, config: StreamingConfig) -> np.ndarray:
    """Short-term mean raw score against its own history, as a log-scaled tail probability."""
    short_mean = _trailing_mean(raw, config.short_rows)
    history_mean, history_std = _trailing_moments(short_mean, config.history_rows)
    enough = _trailing_count(short_mean, config.history_rows) >= config.min_history_rows
    z = (short_mean - history_mean) / np.maximum(history_std, 1e-6)
    tail = np.clip(0.5 * erfc(z / math.sqrt(2.0)), TAIL_FLOOR, 1.0)
    anomaly_score = np.log(tail) / math.log(TAIL_FLOOR)
    return np.where(enough & np.isfinite(z), anomaly_score, 0.0)


def _trailing_mean(series: np.ndarray, rows: int) -> np.ndarray:
    """Mean of the known values among the last `rows` rows up to and including each row."""
    known = np.isfinite(series)
    sums = _window_sums_before(np.where(known, series, 0.0), rows, include_current=True)
    counts = _window_sums_before(known.astype(float), rows, include_current=True)
    return np.where(known, sums / np.maximum(counts, 1.0), np.nan)


def _trailing_moments(series: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the `rows` rows before each row, ignoring NaN."""
    known = np.isfinite(series)
    filled = np.where(known, series, 0.0)
    sums = _window_sums_before(filled, rows)
    squares = _window_sums_before(filled * filled, rows)
    counts = np.maximum(_window_sums_before(known.astype(float), rows), 1.0)
    mean = sums / counts
    variance = np.maximum(squares / counts - mean * mean, 0.0)
    return mean, np.sqrt(variance)


def _trailing_count(series: np.ndarray, rows: int) -> np.ndarray:
    return _window_sums_before(np.isfinite(series).astype(float), rows)


def _window_sums_before(series: np.ndarray, rows: int, include_current=False) -> np.ndarray:
    """Sum over rows [t - rows, t) for every t, or (t - rows, t] with `include_current`."""
    cumulative = np.concatenate([[0.0], np.cumsum(series)])
    stops = np.arange(len(series)) + int(include_current)
    starts = np.maximum(stops - rows, 0)
    return cumulative[stops] - cumulative[starts]


def first_of_runs(anomaly_score: np.ndarray, run_level: float) -> np.ndarray:
    """Keep only the first row of each run of rows scoring >= `run_level`; zero the rest."""
    high = anomaly_score >= run_level
    continues_run = high & np.concatenate([[False], high[:-1]])
    return np.where(continues_run, 0.0, anomaly_score)


def new_range_rows(values: np.ndarray, margin_ratio: float, warmup_rows: int) -> np.ndarray:
    """Rows whose value leaves [min, max] of all earlier rows by more than margin * range."""
    previous_max = np.maximum.accumulate(values)[:-1]
    previous_min = np.minimum.accumulate(values)[:-1]
    margin = margin_ratio * (previous_max - previous_min)
    later = values[1:]
    beyond = (later > previous_max + margin) | (later < previous_min - margin)
    beyond &= margin > 0
    beyond = np.concatenate([[False], beyond])
    beyond[:warmup_rows] = False
    return beyond


def quiet_after_flags(
    timestamps: np.ndarray, anomaly_score: np.ndarray, config: StreamingConfig
) -> np.ndarray:
    """Multiply every score by `quiet_damping` for `quiet_seconds` after a flagged row."""
    quiet = np.timedelta64(int(config.quiet_seconds * 1e9), "ns")
    damped = anomaly_score.copy()
    quiet_until_row = 0
    for row in np.flatnonzero(anomaly_score >= config.flag_threshold):
        if row < quiet_until_row:
            continue
        quiet_until_row = int(np.searchsorted(timestamps, timestamps[row] + quiet, side="right"))
        damped[row + 1 : quiet_until_row] *= config.quiet_damping
    return damped
