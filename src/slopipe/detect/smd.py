"""The Server Machine Dataset (SMD): loader, label-aware metrics, and a full evaluation.

Layout read (see /work/shared/data/smd/SOURCE.md): `train/<machine>.txt.gz` and
`test/<machine>.txt.gz` (one row per minute, 38 comma-separated floats, no header),
`test_label/<machine>.txt` (one 0/1 per test row) and `interpretation_label/<machine>.txt` (one
line per anomalous segment, `start-end:d1,d2,...`, 0-based rows with `end` exclusive, 1-based
metric numbers).

Protocol of `evaluate_directory`: each machine is trained on its train half and scored on its
whole test half in time order. Every detector is flagged the same label-free way: its score
above the `THRESHOLD_QUANTILE` of its own scores on the train half. Labels serve only to score
the flags. Figures, all in [0, 1]:

- point precision / recall / F1: per row, no point adjustment;
- event recall: share of labelled segments with at least one flagged row;
- composite F1: harmonic mean of point precision and event recall (Garg et al., 2021);
- hit rate @100 / @150: for each labelled row of an interpreted segment with true metrics G,
  the share of G among the floor(P% x |G|) top-ranked metrics, averaged over those rows
  (HitRate@P% of Su et al., KDD 2019); None for a detector that ranks nothing;
- point-adjusted F1: reported beside, never as the result; it counts a whole segment as found
  once one of its rows is flagged, which random scores exploit (Kim et al., AAAI 2022).
"""

from __future__ import annotations

import gzip
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from slopipe.detect import baselines
from slopipe.detect.multivariate import ServiceModel, ServiceModelConfig
from slopipe.errors import InputError

log = logging.getLogger(__name__)

SMD_METRICS = (
    "cpu_r", "load_1", "load_5", "load_15", "mem_shmem", "mem_u", "mem_u_e", "total_mem",
    "disk_q", "disk_r", "disk_rb", "disk_svc", "disk_u", "disk_w", "disk_wa", "disk_wb",
    "si", "so", "eth1_fi", "eth1_fo", "eth1_pi", "eth1_po", "tcp_tw", "tcp_use",
    "active_opens", "curr_estab", "in_errs", "in_segs", "listen_overflows", "out_rsts",
    "out_segs", "passive_opens", "retransegs", "tcp_timeouts", "udp_in_dg", "udp_out_dg",
    "udp_rcv_buf_errs", "udp_snd_buf_errs",
)  # fmt: skip
SMD_START = pd.Timestamp("2019-01-01T00:00:00Z")  # SMD has no clock; any start will do
SMD_STEP_SECONDS = 60
THRESHOLD_QUANTILE = ServiceModelConfig().threshold_quantile
SEED = 0
_CAUSE_LINE = re.compile(r"^(\d+)-(\d+):(\d+(?:,\d+)*)$")


@dataclass(frozen=True)
class Segment:
    """Test rows [start, end) of one labelled anomaly and the metrics judged responsible."""

    start: int
    end: int
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class SmdMachine:
    name: str
    train: np.ndarray  # rows x 38, one row per minute
    test: np.ndarray  # rows x 38, continuing train
    labels: np.ndarray  # one 0/1 per test row
    causes: tuple[Segment, ...]


# --- loading -----------------------------------------------------------------------------


def list_machines(data_dir: Path) -> list[str]:
    """Names of the machines with a train file in `data_dir`, sorted."""
    names = sorted(p.name.removesuffix(".txt.gz") for p in (data_dir / "train").glob("*.txt.gz"))
    if not names:
        raise InputError(f"{data_dir / 'train'}: no <machine>.txt.gz files; is this SMD's layout?")
    return names


def load_machine(data_dir: Path, name: str) -> SmdMachine:
    """Read one machine's four files and check they agree with each other."""
    train = read_matrix(data_dir / "train" / f"{name}.txt.gz")
    test = read_matrix(data_dir / "test" / f"{name}.txt.gz")
    label_path = data_dir / "test_label" / f"{name}.txt"
    labels = read_labels(label_path)
    if len(labels) != len(test):
        raise InputError(f"{label_path}: {len(labels)} labels for {len(test)} test rows")
    causes = read_causes(data_dir / "interpretation_label" / f"{name}.txt", len(test))
    return SmdMachine(name, train, test, labels, causes)


def read_matrix(path: Path) -> np.ndarray:
    """A gzipped comma-separated matrix with one column per SMD metric."""
    try:
        frame = pd.read_csv(path, header=None, dtype=float)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise InputError(f"{path}: cannot be read as comma-separated floats: {error}") from None
    if frame.shape[1] != len(SMD_METRICS):
        raise InputError(f"{path}: {frame.shape[1]} columns, expected {len(SMD_METRICS)}")
    bad_rows = np.flatnonzero(frame.isna().any(axis=1).to_numpy())
    if len(bad_rows):
        raise InputError(f"{path}: line {bad_rows[0] + 1}: missing values")
    return frame.to_numpy()


def read_labels(path: Path) -> np.ndarray:
    """One 0 or 1 per line."""
    lines = _read_lines(path)
    for number, line in enumerate(lines, start=1):
        if line not in ("0", "1"):
            raise InputError(f"{path}: line {number}: expected 0 or 1, got {line!r}")
    return np.array([int(line) for line in lines], dtype=np.int8)


def read_causes(path: Path, test_rows: int) -> tuple[Segment, ...]:
    """Lines `start-end:d1,d2,...` as segments naming their metrics."""
    segments = []
    for number, line in enumerate(_read_lines(path), start=1):
        match = _CAUSE_LINE.match(line)
        if not match:
            raise InputError(f"{path}: line {number}: expected 'start-end:d1,d2,...'")
        start, end = int(match[1]), int(match[2])
        columns = [int(d) for d in match[3].split(",")]
        if not 0 <= start < end <= test_rows or not all(1 <= d <= 38 for d in columns):
            raise InputError(f"{path}: line {number}: rows or metric numbers out of range")
        segments.append(Segment(start, end, tuple(SMD_METRICS[d - 1] for d in columns)))
    return tuple(segments)


def _read_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as file:
            return [line.strip() for line in file if line.strip()]
    except OSError as error:
        raise InputError(f"{path}: cannot be read: {error}") from None


def to_long_frame(matrix: np.ndarray, first_step: int = 0) -> pd.DataFrame:
    """SMD rows as a long frame (timestamp, series, value), minute `first_step` onwards."""
    steps = np.arange(first_step, first_step + len(matrix))
    timestamps = SMD_START + pd.to_timedelta(steps * SMD_STEP_SECONDS, unit="s")
    wide = pd.DataFrame(matrix, columns=list(SMD_METRICS), index=timestamps)
    long = wide.rename_axis("timestamp").reset_index().melt(id_vars="timestamp")
    return long.rename(columns={"variable": "series"})[["timestamp", "series", "value"]]


# --- metrics (pure) ----------------------------------------------------------------------


def label_segments(labels: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive 1s as (start, end) with `end` exclusive."""
    edges = np.diff(np.concatenate([[0], np.asarray(labels, dtype=int), [0]]))
    starts, ends = np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()
    return list(zip(starts, ends, strict=True))


def point_scores(flags: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """Point-wise precision, recall and F1 (0 where undefined)."""
    flags, truth = np.asarray(flags, dtype=bool), np.asarray(labels, dtype=bool)
    hits = int((flags & truth).sum())
    precision = hits / flags.sum() if flags.any() else 0.0
    recall = hits / truth.sum() if truth.any() else 0.0
    return float(precision), float(recall), _harmonic_mean(precision, recall)


def event_recall(flags: np.ndarray, labels: np.ndarray) -> float:
    """Share of labelled segments with at least one flagged row (0 if there are none)."""
    segments = label_segments(labels)
    found = sum(bool(np.any(flags[start:end])) for start, end in segments)
    return found / len(segments) if segments else 0.0


def composite_f1(flags: np.ndarray, labels: np.ndarray) -> float:
    """Harmonic mean of point-wise precision and event recall (Garg et al., 2021)."""
    precision, _, _ = point_scores(flags, labels)
    return _harmonic_mean(precision, event_recall(flags, labels))


def point_adjusted_f1(flags: np.ndarray, labels: np.ndarray) -> float:
    """F1 after flagging every row of each segment that has one flagged row. Inflated."""
    adjusted = np.asarray(flags, dtype=bool).copy()
    for start, end in label_segments(labels):
        if adjusted[start:end].any():
            adjusted[start:end] = True
    return point_scores(adjusted, labels)[2]


def hit_rate(ranked: np.ndarray, causes: Sequence[Segment], percent: int) -> float:
    """Mean over the rows of `causes` of |top floor(percent% x |G|) ranked ∩ G| / |G|.

    `ranked[row]` lists metric names, most responsible first; G is the segment's metrics.
    """
    shares = []
    for segment in causes:
        truth = set(segment.metrics)
        top_count = len(truth) * percent // 100
        for row in ranked[segment.start : segment.end]:
            shares.append(len(truth.intersection(row[:top_count])) / len(truth))
    return float(np.mean(shares)) if shares else 0.0


def _harmonic_mean(a: float, b: float) -> float:
    return float(2 * a * b / (a + b)) if a + b > 0 else 0.0


def detection_figures(
    flags: np.ndarray, labels: np.ndarray, ranked: np.ndarray | None, causes: Sequence[Segment]
) -> dict[str, float | int | None]:
    """Every figure of the protocol for one detector on one machine."""
    precision, recall, f1 = point_scores(flags, labels)
    return {
        "point_precision": precision,
        "point_recall": recall,
        "point_f1": f1,
        "event_recall": event_recall(flags, labels),
        "composite_f1": composite_f1(flags, labels),
        "hit_rate_100": None if ranked is None else hit_rate(ranked, causes, 100),
        "hit_rate_150": None if ranked is None else hit_rate(ranked, causes, 150),
        "point_adjusted_f1_beside": point_adjusted_f1(flags, labels),
        "flagged_rows": int(np.sum(flags)),
        "scored_rows": int(len(flags)),
    }


# --- evaluation --------------------------------------------------------------------------

DETECTORS = ("slopipe", "isolation_forest", "largest_zscore", "pca_reconstruction", "random")
COUNT_FIGURES = ("flagged_rows", "scored_rows")


def evaluate_directory(
    data_dir: Path,
    *,
    machines: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Evaluate slopipe's service model and the baselines on each machine of an SMD directory.

    `machines` restricts the run (default: every machine with a train file); `progress` is
    called with each machine's name once it is done. Returns a JSON-able dict: `protocol`,
    `machines` (per machine: `rows`, and `detectors` mapping each of DETECTORS to the figures
    of `detection_figures`) and `mean` (per detector: each figure's mean over machines, counts
    summed).
    """
    data_dir = Path(data_dir)
    names = list(machines) if machines else list_machines(data_dir)
    results = {}
    for name in names:
        started = time.monotonic()
        results[name] = evaluate_machine(load_machine(data_dir, name))
        elapsed_seconds = time.monotonic() - started
        log.info("smd %s: %d detectors scored in %.1f s", name, len(DETECTORS), elapsed_seconds)
        if progress is not None:
            progress(name)
    return {"protocol": _protocol(data_dir), "machines": results, "mean": _means(results)}


def evaluate_machine(machine: SmdMachine) -> dict:
    """Row counts and every detector's figures for one machine."""
    figures = {"slopipe": _slopipe_figures(machine)}
    for detector, scores in _baseline_scores(machine).items():
        threshold = np.quantile(scores.train_scores, THRESHOLD_QUANTILE)
        ranked = None
        if scores.test_ranking is not None:
            ranked = np.asarray(SMD_METRICS, dtype=object)[scores.test_ranking]
        figures[detector] = detection_figures(
            scores.test_scores > threshold, machine.labels, ranked, machine.causes
        )
    return {"rows": _row_counts(machine), "detectors": figures}


def _slopipe_figures(machine: SmdMachine) -> dict:
    model = ServiceModel(ServiceModelConfig(seed=SEED)).fit(to_long_frame(machine.train))
    scores = model.score(to_long_frame(machine.test, first_step=len(machine.train)))
    ranked = scores.top_metrics.to_numpy()
    return detection_figures(scores.flag.to_numpy(), machine.labels, ranked, machine.causes)


def _baseline_scores(machine: SmdMachine) -> dict[str, baselines.BaselineScores]:
    train, test = machine.train, machine.test
    return {
        "isolation_forest": baselines.plain_isolation_forest(train, test, SEED),
        "largest_zscore": baselines.largest_zscore(train, test),
        "pca_reconstruction": baselines.pca_reconstruction_error(train, test),
        "random": baselines.random_scores(train, test, SEED),
    }


def _row_counts(machine: SmdMachine) -> dict[str, int]:
    return {
        "train": len(machine.train),
        "test": len(machine.test),
        "anomalous": int(machine.labels.sum()),
        "segments": len(label_segments(machine.labels)),
    }


def _means(results: dict) -> dict:
    """Per detector, each figure's mean over machines (None if any is None); counts summed."""
    means = {}
    for detector in DETECTORS:
        per_machine = [result["detectors"][detector] for result in results.values()]
        means[detector] = {
            key: _combine(key, [figures[key] for figures in per_machine]) for key in per_machine[0]
        }
    return means


def _combine(key: str, values: list) -> float | int | None:
    if key in COUNT_FIGURES:
        return int(sum(values))
    return None if any(v is None for v in values) else float(np.mean(values))


def _protocol(data_dir: Path) -> dict:
    config = ServiceModelConfig(seed=SEED)
    return {
        "data_dir": str(data_dir),
        "threshold": f"each detector's train-half scores, quantile {THRESHOLD_QUANTILE}",
        "labels": "test labels used only to score flags",
        "hit_rate_rows": "every labelled row of each interpreted segment",
        "point_adjusted_f1_beside": "inflated by point adjustment; not a result",
        "slopipe_config": {k: str(v) for k, v in vars(config).items()},
    }
