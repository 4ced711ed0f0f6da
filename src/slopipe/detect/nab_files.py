"""Read and write NAB's file layouts; every problem becomes an `InputError` naming the file.

Layouts (NAB v1.1):

- data: `DATA/<category>/<file>.csv` with columns `timestamp,value`.
- labels: `combined_windows.json`, `{"<category>/<file>.csv": [[start, end], ...]}`, timestamps
  as `YYYY-MM-DD HH:MM:SS.000000`; both ends inclusive and equal to rows of the data file.
- one detector's outputs: `DIR/<category>/<detector>_<file>.csv` with at least the columns
  `timestamp,anomaly_score` (others are ignored). `DIR` is that detector's folder, e.g.
  `results/numenta`, and `<detector>` is normally its name.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from slopipe.detect.nab import ScoredFile, Window
from slopipe.errors import InputError

log = logging.getLogger(__name__)

WindowLabels = dict[str, list[tuple[str, str]]]


@dataclass(frozen=True)
class Series:
    """One NAB data file: its key (`<category>/<file>.csv`), timestamps and values."""

    key: str
    timestamps: np.ndarray
    values: np.ndarray


def read_window_labels(path: Path) -> WindowLabels:
    """Windows per file key, as timestamp strings without NAB's `.000000` suffix."""
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as error:
        raise InputError(f"{path}: cannot read labels: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise InputError(f"{path}:{error.lineno}: labels are not JSON: {error.msg}") from error
    if not isinstance(raw, dict):
        raise InputError(f"{path}: labels must be a JSON object keyed by <category>/<file>.csv")
    return {key: [_window_pair(path, key, pair) for pair in pairs] for key, pairs in raw.items()}


def _window_pair(path: Path, key: str, pair) -> tuple[str, str]:
    if not (isinstance(pair, list) and len(pair) == 2):
        raise InputError(f"{path}: {key}: a window must be [start, end], got {pair!r}")
    return _strip_fraction(str(pair[0])), _strip_fraction(str(pair[1]))


def _strip_fraction(timestamp: str) -> str:
    return timestamp.removesuffix(".000000")


def data_files(data_dir: Path) -> list[Path]:
    """Every CSV below `data_dir`, in a stable order."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(f"{data_dir}: not a directory of NAB data")
    paths = sorted(data_dir.rglob("*.csv"))
    if not paths:
        raise InputError(f"{data_dir}: no CSV files below it")
    return paths


def read_series(path: Path, key: str) -> Series:
    """A data file's `timestamp,value` columns."""
    frame = _read_csv(path, ("timestamp", "value"))
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=float)
    _require_finite(path, values, "value")
    return Series(key, _timestamps(path, frame), values)


def iter_series(data_dir: Path) -> Iterator[Series]:
    """Every data file below `data_dir`, keyed `<category>/<file>.csv`, in a stable order."""
    for path in data_files(data_dir):
        yield read_series(path, path.relative_to(data_dir).as_posix())


def windows_for(
    key: str, timestamps: np.ndarray, labels: WindowLabels, source: Path
) -> tuple[Window, ...]:
    """Turn a file's labelled windows into row windows; every end must match a row."""
    if key not in labels:
        raise InputError(f"{source}: no entry for {key} in the labels file")
    row_of: dict[str, int] = {}
    for row, stamp in enumerate(_as_strings(timestamps)):
        row_of.setdefault(stamp, row)  # a repeated timestamp (DST change) means its first row
    windows = []
    for start, end in labels[key]:
        if start not in row_of or end not in row_of:
            raise InputError(f"{source}: window [{start}, {end}] of {key} matches no row")
        windows.append(Window(row_of[start], row_of[end]))
    return tuple(sorted(windows, key=lambda w: w.first_row))


def read_detector_outputs(scores_dir: Path, labels: WindowLabels) -> list[ScoredFile]:
    """One detector's published outputs below `scores_dir`, matched to their label keys."""
    scores_dir = Path(scores_dir)
    detector = scores_dir.name
    scored = []
    for path in data_files(scores_dir):
        key = _label_key(path, scores_dir, detector, labels)
        frame = _read_csv(path, ("timestamp", "anomaly_score"))
        anomaly_score = pd.to_numeric(frame["anomaly_score"], errors="coerce").to_numpy(float)
        _require_unit_interval(path, anomaly_score)
        windows = windows_for(key, _timestamps(path, frame), labels, path)
        scored.append(ScoredFile(key, anomaly_score, windows))
    log.info("read %d output files of %s", len(scored), scores_dir)
    return scored


def _label_key(path: Path, scores_dir: Path, detector: str, labels: WindowLabels) -> str:
    """`<category>/<detector>_<file>.csv` -> `<category>/<file>.csv`, checked against labels."""
    category = path.parent.relative_to(scores_dir).as_posix()
    exact = f"{category}/{path.name.removeprefix(detector + '_')}"
    if exact in labels:
        return exact
    candidates = [
        key
        for key in labels
        if key.startswith(category + "/") and path.name.endswith("_" + key.rsplit("/", 1)[-1])
    ]
    if len(candidates) != 1:
        raise InputError(
            f"{path}: cannot tell which labelled file this is; name outputs "
            f"<category>/<detector>_<file>.csv with DIR named after the detector"
        )
    return candidates[0]


def write_detector_output(path: Path, series: Series, anomaly_score, label=None) -> None:
    """Write NAB's output layout: `timestamp,value,anomaly_score[,label]`."""
    frame = pd.DataFrame(
        {
            "timestamp": _as_strings(series.timestamps),
            "value": series.values,
            "anomaly_score": anomaly_score,
        }
    )
    if label is not None:
        frame["label"] = label
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def _read_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise InputError(f"{path}: cannot read CSV: {error}") from error
    except pd.errors.EmptyDataError as error:
        raise InputError(f"{path}:1: empty CSV, expected columns {','.join(columns)}") from error
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{path}:1: missing column(s) {', '.join(missing)} in the header")
    return frame


def _timestamps(path: Path, frame: pd.DataFrame) -> np.ndarray:
    parsed = pd.to_datetime(frame["timestamp"], errors="coerce", format="mixed")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        raise InputError(
            f"{path}:{bad[0] + 2}: unreadable timestamp {frame['timestamp'][bad[0]]!r}"
        )
    return parsed.to_numpy(dtype="datetime64[ns]")


def _as_strings(timestamps: np.ndarray) -> list[str]:
    return list(pd.DatetimeIndex(timestamps).strftime("%Y-%m-%d %H:%M:%S"))


def _require_finite(path: Path, values: np.ndarray, column: str) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise InputError(f"{path}:{bad[0] + 2}: {column} is not a number")


def _require_unit_interval(path: Path, anomaly_score: np.ndarray) -> None:
    _require_finite(path, anomaly_score, "anomaly_score")
    bad = np.flatnonzero((anomaly_score < 0) | (anomaly_score > 1))
    if bad.size:
        raise InputError(
            f"{path}:{bad[0] + 2}: anomaly_score {anomaly_score[bad[0]]} not in [0, 1]"
        )
