"""Per-series detection over the lake, fanned out with `slopipe.scale.Runner`.

Each task reads one series from the lake on the worker that runs it, scores it with the
streaming detector (`slopipe.detect.streaming`), and writes the scores to the scores table
with an idempotent MERGE, so a task re-run after a worker died stores nothing twice. A
series that cannot be scored (too short, say) is reported with its reason; the others go on.

With a tracking URI, the client opens a parent MLflow run and each task logs its series'
run under it from the worker (`slopipe.detect.tracking`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from slopipe.detect.streaming import StreamingConfig, score_series
from slopipe.errors import DetectError
from slopipe.lake import Lake
from slopipe.lake.scores import ScoreTable
from slopipe.prepare.clean import sample_values
from slopipe.scale import DATA_ERRORS, Outcome, Runner

if TYPE_CHECKING:
    from slopipe.detect.tracking import Tracking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesTask:
    lake_path: str
    scores_path: str
    series: str
    config: StreamingConfig = field(default_factory=StreamingConfig)
    tracking: Tracking | None = None


@dataclass
class DetectReport:
    detector: str
    mlflow_run_id: str | None = None
    series: int = 0
    samples: int = 0
    anomalies: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    per_series: dict[str, dict] = field(default_factory=dict)


def detector_id(config: StreamingConfig) -> str:
    """A short digest of the configuration: scores of different configurations never mix."""
    return hashlib.sha256(repr(sorted(asdict(config).items())).encode()).hexdigest()[:12]


def detect_series(task: SeriesTask) -> dict:
    """Score one series from the lake and store its scores; return its figures."""
    values = sample_values(Lake(Path(task.lake_path)).read(task.series))
    needed = task.config.min_train_rows
    if len(values) < needed:
        raise DetectError(f"series {task.series}: {len(values)} samples, need at least {needed}")
    if task.tracking is None:
        return _score_and_store(task, values)
    from slopipe.detect import tracking as mlflow_runs  # mlflow: imported only when used

    run = mlflow_runs.open_series_run(
        task.tracking, task.series, detector_id(task.config), task.config
    )
    try:
        figures = _score_and_store(task, values)
    except DATA_ERRORS as error:
        mlflow_runs.close_series_run(task.tracking, run, None, f"{type(error).__name__}: {error}")
        raise
    mlflow_runs.close_series_run(task.tracking, run, figures)
    return figures | {"run_id": run.info.run_id}


def _score_and_store(task: SeriesTask, values: pd.DataFrame) -> dict:
    timestamps = values["timestamp"].dt.tz_convert(None).to_numpy()
    anomaly_score, flags = score_series(timestamps, values["value"].to_numpy(), task.config)
    scores = pd.DataFrame(
        {
            "series": task.series,
            "timestamp": values["timestamp"],
            "anomaly_score": anomaly_score,
            "is_anomaly": flags,
            "detector": detector_id(task.config),
        }
    )
    ScoreTable(Path(task.scores_path)).append(scores)
    return series_figures(anomaly_score, flags)


def series_figures(anomaly_score: np.ndarray, flags: np.ndarray) -> dict:
    """What a series' run records: rows, flags and the spread of its scores."""
    return {
        "samples": len(flags),
        "anomalies": int(flags.sum()),
        "anomaly_rate": float(flags.mean()),
        "anomaly_score_mean": float(np.nanmean(anomaly_score)),
        "anomaly_score_p99": float(np.nanquantile(anomaly_score, 0.99)),
        "anomaly_score_max": float(np.nanmax(anomaly_score)),
    }


def detect_all(
    lake: Lake,
    scores: ScoreTable,
    runner: Runner,
    series: list[str] | None = None,
    config: StreamingConfig | None = None,
    on_done: Callable[[Outcome], None] = lambda outcome: None,
    tracking_uri: str | None = None,
) -> DetectReport:
    """Score every series (or the named ones) of the lake; with `tracking_uri`, log a
    parent run here and one run per scored series from the workers."""
    config = config or StreamingConfig()
    names = series or lake.series_names()
    report = DetectReport(detector=detector_id(config))
    if tracking_uri is None:
        return _run(lake, scores, runner, names, config, None, on_done, report)
    from slopipe.detect import tracking as mlflow_runs

    parent = mlflow_runs.start_parent(tracking_uri, report.detector, config)
    report.mlflow_run_id = parent.parent_run_id
    try:
        _run(lake, scores, runner, names, config, parent, on_done, report)
    except BaseException:
        mlflow_runs.fail_parent(parent)
        raise
    totals = {"series": report.series, "failed": len(report.failed)}
    totals |= {"samples": report.samples, "anomalies": report.anomalies}
    mlflow_runs.finish_parent(parent, totals, report.failed)
    return report


def _run(lake, scores, runner, names, config, tracking, on_done, report) -> DetectReport:
    tasks = [SeriesTask(str(lake.path), str(scores.path), name, config, tracking) for name in names]
    for outcome in runner.map(detect_series, tasks, on_done):
        name = outcome.item.series
        if not outcome.ok:
            report.failed[name] = outcome.error
            log.warning("series %s not scored: %s", name, outcome.error)
            continue
        report.series += 1
        report.samples += outcome.value["samples"]
        report.anomalies += outcome.value["anomalies"]
        report.per_series[name] = outcome.value
    return report
