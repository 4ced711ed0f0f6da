"""Evaluate detectors on NAB: published outputs, or slopipe's streaming detector on NAB data.

Both entry points return an `Evaluation`; `Evaluation.as_dict()` is the JSON the CLI prints:

    files, windows                      how many files and ground-truth windows were scored
    standard, reward_low_FP_rate,       NAB scores (0 = null detector, 100 = perfect) with the
    reward_low_FN_rate                  threshold swept over these files, as NAB does
    thresholds                          the swept threshold per profile
    fixed                               the three NAB scores at the detector's own fixed,
                                        label-free threshold (null for published outputs)
    precision, recall,                  event-level measures (see `slopipe.detect.nab`) at the
    mean_detection_delay_rows           fixed threshold, or at the swept standard threshold
    event_threshold                     when there is none; the delay is in rows
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from slopipe.detect import nab, nab_files
from slopipe.detect.feedback_labels import feedback_windows, merge_windows
from slopipe.detect.streaming import StreamingConfig, score_series
from slopipe.errors import DetectError, wrap
from slopipe.scale import Runner

log = logging.getLogger(__name__)

DETECTOR_NAME = "slopipe"

#: Confirmed anomalies further apart than this are separate incidents (see feedback_labels).
EPISODE_GAP = np.timedelta64(1, "h")

# Called after each file with (files done, files in total).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Evaluation:
    """NAB and event-level results for one detector over a set of files."""

    files: int
    windows: int
    swept: tuple[nab.ProfileResult, ...]
    fixed: tuple[nab.ProfileResult, ...] | None
    events: nab.EventMetrics
    event_threshold: float

    def as_dict(self) -> dict:
        result: dict = {"files": self.files, "windows": self.windows}
        result |= {r.profile: r.nab_score for r in self.swept}
        result["thresholds"] = {r.profile: r.threshold for r in self.swept}
        result["fixed"] = None
        if self.fixed is not None:
            result["fixed"] = {"threshold": self.fixed[0].threshold}
            result["fixed"] |= {r.profile: r.nab_score for r in self.fixed}
        events = asdict(self.events)
        result |= {k: events[k] for k in ("precision", "recall", "mean_detection_delay_rows")}
        result["event_threshold"] = self.event_threshold
        return result


def evaluate_files(
    files: Sequence[nab.ScoredFile], fixed_threshold: float | None = None
) -> Evaluation:
    """Score files on every NAB profile, swept and (if given) at `fixed_threshold`."""
    swept = tuple(nab.score_swept(files, profile) for profile in nab.PROFILES)
    fixed = None
    if fixed_threshold is not None:
        fixed = tuple(nab.score_at_threshold(files, p, fixed_threshold) for p in nab.PROFILES)
    event_threshold = swept[0].threshold if fixed_threshold is None else fixed_threshold
    return Evaluation(
        files=len(files),
        windows=sum(len(f.windows) for f in files),
        swept=swept,
        fixed=fixed,
        events=nab.event_metrics(files, event_threshold),
        event_threshold=event_threshold,
    )


def evaluate_outputs(scores_dir: Path, labels_path: Path) -> Evaluation:
    """Score one detector's outputs in NAB's layout (`DIR/<category>/<detector>_<file>.csv`)."""
    labels = nab_files.read_window_labels(labels_path)
    return evaluate_files(nab_files.read_detector_outputs(scores_dir, labels))


def evaluate_detector(
    data_dir: Path,
    labels_path: Path | None,
    out_dir: Path | None = None,
    config: StreamingConfig | None = None,
    progress: Progress | None = None,
    runner: Runner | None = None,
    feedback: pd.DataFrame | None = None,
) -> Evaluation:
    """Run the streaming detector over every CSV below `data_dir` and score it.

    Labels come from NAB's `labels_path`, from people's `feedback` (series, timestamp,
    verdict, as `SloStore.feedback()` gives it; a file's series is its name without
    `.csv`), or both: a file labelled both ways gets the windows of both. With feedback
    alone, only the files whose series has feedback are scored.

    With `out_dir`, also writes `OUT/<category>/slopipe_<file>.csv` (timestamp, value,
    anomaly_score, label) so NAB's own tools, or `evaluate_outputs`, can score it again.
    With a `runner`, each file is a task (on Dask when the runner is distributed).
    """
    if labels_path is None and feedback is None:
        raise DetectError("labels are needed: give a NAB labels file, feedback, or both")
    config = config or StreamingConfig()
    labels = nab_files.read_window_labels(labels_path) if labels_path is not None else None
    confirmed = confirmed_by_series(feedback)
    tasks = []
    for path in nab_files.data_files(data_dir):
        key, found = path.relative_to(data_dir).as_posix(), confirmed.get(path.stem)
        if labels is not None or found is not None:
            tasks.append(FileTask(path, key, labels, out_dir, config, found))
    if not tasks:
        raise DetectError(f"{data_dir}: no file's series has feedback; nothing to score")
    started = time.monotonic()
    done = iter(range(1, len(tasks) + 1))
    outcomes = (runner or Runner()).map(
        detect_file, tasks, lambda _: progress and progress(next(done), len(tasks))
    )
    failed = [o for o in outcomes if not o.ok]
    if failed:
        path, error = str(failed[0].item.path), failed[0].error
        raise DetectError(error if path in error else f"{path}: {error}")
    files = [o.value for o in outcomes]
    log.info("scored %d files of %s in %.1f s", len(files), data_dir, time.monotonic() - started)
    return evaluate_files(files, fixed_threshold=config.flag_threshold)


def confirmed_by_series(feedback: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Series with any verdict -> their confirmed anomaly times (naive UTC, maybe none)."""
    if feedback is None or feedback.empty:
        return {}
    stamps = pd.to_datetime(feedback["timestamp"], utc=True).dt.tz_localize(None)
    confirmed = feedback.assign(timestamp=stamps, real=feedback["verdict"] == "true_positive")
    return {
        str(series): rows.loc[rows["real"], "timestamp"].to_numpy(dtype="datetime64[ns]")
        for series, rows in confirmed.groupby("series")
    }


@dataclass(frozen=True)
class FileTask:
    path: Path
    key: str
    labels: dict | None
    out_dir: Path | None
    config: StreamingConfig
    confirmed: np.ndarray | None = None  # confirmed anomaly times, for a file with feedback


def detect_file(task: FileTask) -> nab.ScoredFile:
    """Read, score and (optionally) write one data file: one task of `evaluate_detector`."""
    series = nab_files.read_series(task.path, task.key)
    windows = _windows(series, task)
    try:
        anomaly_score, _ = score_series(series.timestamps, series.values, task.config)
    except DetectError as error:
        raise wrap(str(task.path), error) from error
    if task.out_dir is not None:
        nab_files.write_detector_output(
            output_path(task.out_dir, series.key), series, anomaly_score, _labels(windows, series)
        )
    return nab.ScoredFile(series.key, anomaly_score, windows)


def _windows(series: nab_files.Series, task: FileTask) -> tuple[nab.Window, ...]:
    """The file's windows from the labels file, from feedback, or from both, merged."""
    windows: tuple[nab.Window, ...] = ()
    if task.labels is not None and (task.confirmed is None or series.key in task.labels):
        windows = nab_files.windows_for(series.key, series.timestamps, task.labels, task.path)
    if task.confirmed is None:
        return windows
    from_feedback = feedback_windows(series.timestamps, task.confirmed, EPISODE_GAP)
    return merge_windows(windows + from_feedback)


def output_path(out_dir: Path, key: str) -> Path:
    """`<category>/<file>.csv` -> `OUT/<category>/slopipe_<file>.csv`, NAB's layout."""
    category, _, name = key.rpartition("/")
    return Path(out_dir) / category / f"{DETECTOR_NAME}_{name}"


def _labels(windows: Sequence[nab.Window], series: nab_files.Series) -> np.ndarray:
    label = np.zeros(len(series.values), dtype=int)
    for window in windows:
        label[window.first_row : window.last_row + 1] = 1
    return label
