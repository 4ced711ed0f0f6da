"""Per-series detection over the lake, fanned out with `slopipe.scale.Runner`.

Each task reads one series from the lake on the worker that runs it, scores it with the
streaming detector (`slopipe.detect.streaming`), and writes the scores to the scores table
with an idempotent MERGE, so a task re-run after a worker died stores nothing twice. A
series that cannot be scored (too short, say) is reported with its reason; the others go on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from slopipe.detect.streaming import StreamingConfig, score_series
from slopipe.errors import DetectError
from slopipe.lake import Lake
from slopipe.lake.scores import ScoreTable
from slopipe.prepare.clean import sample_values
from slopipe.scale import Outcome, Runner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesTask:
    lake_path: str
    scores_path: str
    series: str
    config: StreamingConfig = field(default_factory=StreamingConfig)


@dataclass
class DetectReport:
    detector: str
    series: int = 0
    samples: int = 0
    anomalies: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    per_series: dict[str, dict] = field(default_factory=dict)


def detector_id(config: StreamingConfig) -> str:
    """A short digest of the configuration: scores of different configurations never mix."""
    return hashlib.sha256(repr(sorted(asdict(config).items())).encode()).hexdigest()[:12]


def detect_series(task: SeriesTask) -> dict:
    """Score one series from the lake and store its scores; return counts."""
    values = sample_values(Lake(Path(task.lake_path)).read(task.series))
    needed = task.config.min_train_rows
    if len(values) < needed:
        raise DetectError(f"series {task.series}: {len(values)} samples, need at least {needed}")
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
    return {"samples": len(scores), "anomalies": int(flags.sum())}


def detect_all(
    lake: Lake,
    scores: ScoreTable,
    runner: Runner,
    series: list[str] | None = None,
    config: StreamingConfig | None = None,
    on_done: Callable[[Outcome], None] = lambda outcome: None,
) -> DetectReport:
    """Score every series (or the named ones) of the lake."""
    config = config or StreamingConfig()
    names = series or lake.series_names()
    tasks = [SeriesTask(str(lake.path), str(scores.path), name, config) for name in names]
    report = DetectReport(detector=detector_id(config))
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
