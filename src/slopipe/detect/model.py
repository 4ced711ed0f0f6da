"""The pipeline's anomaly model: one frozen Isolation Forest per series, calibrated as the
streaming detector (`slopipe.detect.streaming`) calibrates its scores. Pure: no I/O.

`slopipe run` registers it, the validation gate judges it, `slopipe monitor`, `slopipe
serve` and `mlflow models serve` score with it. Contract:

- `fit(rows)` takes prepared rows (timestamp, series, value: `build_features` output or
  `prepared_rows(samples)`). Per series, a forest of `config.n_trees` trees is fitted on
  the seasonal features (`streaming.seasonal_features`) of its last `config.train_rows`
  rows, then frozen. A series with fewer than `config.min_train_rows` rows gets no forest
  (`training["too_short"]` names it); with no forest at all, fitting is a `DetectError`.
- `score(samples)` takes raw samples (timestamp, series, value; kind optional), prepares
  them (counters become increases) and returns one row per sample it could use: timestamp,
  series, value, `anomaly_score` in [0, 1] (higher is more anomalous) and `is_anomaly`
  (`anomaly_score >= config.flag_threshold`, fixed without labels).
- The forest is frozen, but stages 3-6 of `streaming.postprocess` (likelihood against the
  series' own recent scores, run filter, new range, quiet period) run over the rows given.
  So send each series' recent history with the rows you want scored, and keep those rows:
  `history(series)` of it, a day for the seasonal difference plus `config.history_rows +
  config.short_rows` rows for the baseline (about 8 days at 5-minute rows, a day and 34
  hours at 1-minute rows). With less, the first `config.min_history_rows` rows score 0
  (bar a new range) and the baseline is noisier.
- A series without a forest is a `DetectError` that names it: a forest of another series
  would judge values in the wrong unit. Train a new version that includes it.
- Scoring is cheap to repeat over a sliding window: a model remembers, per series, the
  timestamps, features and raw forest scores of the last window it scored, and reuses a
  row's raw score when its timestamp and features are the same again. As a window slides,
  only its new rows and the rows whose day-old value has just left it (their seasonal
  difference becomes 0) change; the forest runs on those alone (flattened, `detect.forest`,
  so a few rows do not pay for a Python loop over 300 trees), and the other stages are
  vectorised and cheap. The scores equal a fresh model's. The memory is not pickled.

A forest gives every value beyond its training range the same raw score, however far
beyond; such values are caught by the new-range stage, which needs history that varies (a
constant history has no range to leave).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from slopipe.detect.forest import FlatForest
from slopipe.detect.streaming import StreamingConfig, postprocess, seasonal_features
from slopipe.errors import DetectError
from slopipe.prepare import prepare

REQUIRED = ["timestamp", "series", "value"]
#: The forest's inputs, the columns of `streaming.seasonal_features`.
FEATURES = ["value", "seasonal_difference"]
SCORED_COLUMNS = ["timestamp", "series", "value", "anomaly_score", "is_anomaly"]
DAY = pd.Timedelta(days=1)


@dataclass
class AnomalyModel:
    config: StreamingConfig = field(default_factory=StreamingConfig)
    forests: dict[str, IsolationForest] = field(default_factory=dict)
    steps: dict[str, pd.Timedelta] = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    #: Per series: timestamps, features and raw scores of the last window scored.
    _raw_memory: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False, compare=False
    )

    _flat: dict[str, FlatForest] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("_raw_memory", "_flat")}

    def __setstate__(self, state: dict) -> None:
        if "forests" not in state:
            raise DetectError(
                "this model was saved by an earlier slopipe (one forest over every series) "
                "and cannot score; train a new version with `slopipe run`"
            )
        self.__dict__.update(state)
        self._raw_memory, self._flat = {}, {}

    @property
    def series(self) -> list[str]:
        return sorted(self.forests)

    def fit(self, rows: pd.DataFrame) -> AnomalyModel:
        """Fit one forest per series on its last `train_rows` prepared rows."""
        rows = _usable(rows)
        too_short = {}
        for series, one in rows.groupby("series", sort=True):
            timestamps, values = _arrays(one)
            if len(values) < self.config.min_train_rows:
                too_short[str(series)] = len(values)
                continue
            matrix = seasonal_features(timestamps, values)[-self.config.train_rows :]
            self.forests[str(series)] = IsolationForest(
                n_estimators=self.config.n_trees, random_state=self.config.seed, n_jobs=1
            ).fit(matrix)
            self.steps[str(series)] = _step(one["timestamp"])
        if not self.forests:
            longest = max(too_short.values(), default=0)
            raise DetectError(
                f"training needs {self.config.min_train_rows} rows of a series, the longest "
                f"has {longest}: collect more history"
            )
        self.training = _training_summary(rows, self.series, too_short)
        return self

    def history(self, series: str) -> pd.Timedelta:
        """How much of a series' history to send with the rows to score (module docstring)."""
        self._check_known([series])
        rows = self.config.history_rows + self.config.short_rows
        return DAY + rows * self.steps[series]

    def score(self, samples: pd.DataFrame) -> pd.DataFrame:
        """Score raw samples; see the module docstring for the contract."""
        return self.score_rows(prepared_rows(samples))

    def score_rows(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Score prepared rows (timestamp, series, value), one series at a time."""
        rows = _usable(rows)
        self._check_known(rows["series"].unique())
        parts = [self._score_one(str(s), one) for s, one in rows.groupby("series", sort=True)]
        if not parts:
            return pd.DataFrame(columns=SCORED_COLUMNS)
        return pd.concat(parts, ignore_index=True)

    def _score_one(self, series: str, one: pd.DataFrame) -> pd.DataFrame:
        timestamps, values = _arrays(one)
        raw = self._raw_scores(series, timestamps, seasonal_features(timestamps, values))
        anomaly_score, flags = postprocess(timestamps, values, raw, self.config)
        out = one[["timestamp", "series", "value"]].reset_index(drop=True)
        return out.assign(anomaly_score=anomaly_score, is_anomaly=flags)

    def _raw_scores(self, series: str, timestamps: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The forest's raw scores (higher = more isolated), reusing remembered rows."""
        raw = np.full(len(features), np.nan)
        stamps, features_then, scores = self._raw_memory.get(series, ([], None, None))
        if len(stamps):
            at = np.minimum(np.searchsorted(stamps, timestamps), len(stamps) - 1)
            same = (stamps[at] == timestamps) & (features_then[at] == features).all(axis=1)
            raw[same] = scores[at[same]]
        todo = np.isnan(raw)
        if todo.any():
            if series not in self._flat:
                self._flat[series] = FlatForest(self.forests[series])
            raw[todo] = -self._flat[series].score_samples(features[todo])
        self._raw_memory[series] = (timestamps, features, raw)
        return raw

    def _check_known(self, names) -> None:
        unknown = sorted(str(s) for s in set(names) - set(self.forests))
        if unknown:
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            shown = ", ".join(unknown[:5]) + more
            raise DetectError(
                f"no forest for series {shown}: the model knows {len(self.forests)} series; "
                "train a new version that includes it"
            )

    def params(self) -> dict:
        """The detector's settings, as a training run logs them."""
        return asdict(self.config)


def prepared_rows(samples: pd.DataFrame) -> pd.DataFrame:
    """Raw samples (timestamp, series, value, optional kind) as prepared rows: one per step
    of each series' grid that holds a sample; counters as increases."""
    prepared, _ = prepare(sample_frame(samples))
    return prepared[~prepared["gap"].astype(bool)][REQUIRED].reset_index(drop=True)


def sample_frame(samples: pd.DataFrame) -> pd.DataFrame:
    """Samples as a caller sends them (timestamp, series, value; kind optional) in the
    frame `prepare` takes: UTC times, numbers (NaN where not), gauges unless told."""
    missing = [c for c in REQUIRED if c not in samples.columns]
    if missing:
        raise DetectError(f"samples lack column(s) {', '.join(missing)}; need {REQUIRED}")
    frame = samples.copy()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    if "kind" not in frame.columns:
        frame["kind"] = "gauge"
    frame["labels"] = "{}"
    return frame


def _usable(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with a finite value, in time order per series."""
    missing = [c for c in REQUIRED if c not in rows.columns]
    if missing:
        raise DetectError(f"rows lack column(s) {', '.join(missing)}; need {REQUIRED}")
    finite = np.isfinite(pd.to_numeric(rows["value"], errors="coerce").to_numpy(float))
    return rows[finite].sort_values(["series", "timestamp"], kind="stable")


def _arrays(one: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    stamps = pd.to_datetime(one["timestamp"], utc=True).dt.tz_convert(None)
    return stamps.to_numpy("datetime64[ns]"), one["value"].to_numpy(float)


def _step(timestamps: pd.Series) -> pd.Timedelta:
    spacing = timestamps.diff().dropna()
    return spacing.median() if len(spacing) else pd.Timedelta(minutes=1)


def _training_summary(rows: pd.DataFrame, series: list[str], too_short: dict) -> dict:
    fitted = rows[rows["series"].isin(series)]
    return {
        "rows": len(fitted),
        "series": series,
        "start": str(fitted["timestamp"].min()),
        "end": str(fitted["timestamp"].max()),
        "too_short": too_short,
    }
