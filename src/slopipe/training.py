"""Train a candidate, log it to MLflow, and let the SLO-based validation gate decide.

`train_and_gate` is the train and validate stages of `slopipe run`, and what a retraining
trigger of `slopipe monitor` runs: the newest `holdout_fraction` of each series is held
out; the model (`slopipe.detect.model`, a forest per series) is fitted on the rest and
logged (parameters, metrics, plots, and NAB and event metrics where labels exist) as a new
registered version aliased `challenger`; the gate compares its flags on the held-out span,
scored with the training rows as context, with the slices that burned SLO budget, and
moves `champion` only when it passes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from slopipe.config import Settings
from slopipe.detect import labelled
from slopipe.detect.model import FEATURES, AnomalyModel
from slopipe.detect.nab_files import read_window_labels
from slopipe.errors import RegistryError
from slopipe.registry.mlflow_registry import RegisteredModel, Registry
from slopipe.registry.plots import score_histogram, series_figure
from slopipe.registry.validate import GateDecision, SloSlices, decide, with_feedback
from slopipe.slo.evaluate import SloStatus

log = logging.getLogger(__name__)

OnStage = Callable[[str], None]


@dataclass
class TrainOutcome:
    """What `train_and_gate` did: the candidate, the gate's decision, the champion after."""

    candidate: RegisteredModel
    model: AnomalyModel
    decision: GateDecision
    champion: RegisteredModel | None
    champion_model: AnomalyModel | None
    split: dict[str, datetime]


def train_and_gate(
    settings: Settings,
    registry: Registry,
    features: pd.DataFrame,
    example: pd.DataFrame,
    statuses: list[SloStatus],
    slo_series: dict[str, tuple[str, ...]],
    trigger: dict | None = None,
    on_stage: OnStage = lambda stage: None,
    feedback: pd.DataFrame | None = None,
) -> TrainOutcome:
    """Train a candidate on `features`, log it, run the validation gate, promote or not.

    The newest `holdout_fraction` of each series is held out for the gate. `trigger` (a
    name and its figures) is recorded on the MLflow run: `trigger` as a parameter, numbers
    as `trigger_*` metrics. `feedback` (people's verdicts on anomalies, as
    `SloStore.feedback()` gives them) joins the gate's labels.
    """
    split = _holdout_split(features, settings.holdout_fraction)
    train, _ = _split_rows(features, split)
    model = AnomalyModel().fit(train)
    if model.training["too_short"]:
        log.warning(
            "no forest for %d series with fewer than %d training rows (%s): they are not "
            "scored until a later training run has more of them",
            len(model.training["too_short"]),
            model.config.min_train_rows,
            ", ".join(sorted(model.training["too_short"])[:5]),
        )
    held_scores = held_out_scores(model, features, split)
    params = _params(model, train)
    metrics = {"train_rows": len(train), "holdout_rows": len(held_scores)}
    metrics |= labelled_measures(
        settings, features, held_scores, model.config.flag_threshold, feedback
    )
    if trigger:
        params["trigger"] = trigger["name"]
        metrics |= {f"trigger_{k}": v for k, v in trigger.get("figures", {}).items()}
    candidate = registry.log_candidate(
        model,
        params=params,
        metrics=metrics,
        example=example,
        figures={
            "series_with_anomalies.png": series_figure(held_scores, max_series=12),
            "score_distribution.png": score_histogram(held_scores, model.config.flag_threshold),
        },
        documents={
            "features.json": {"features": FEATURES},
            "series.json": {
                "series": model.series,
                "holdout_from": {k: v.isoformat() for k, v in split.items()},
            },
        },
    )

    on_stage("validate")
    champion, champion_model = _champion(registry)
    champion_flags = None
    if champion_model is not None:
        champion_flags = _flags(held_out_scores(champion_model, features, split))
    decision = decide(
        with_feedback(_gate_slices(statuses, slo_series, split), feedback),
        _flags(held_scores),
        champion_flags,
        false_alarms_per_day=settings.false_alarms_per_day,
    )
    registry.note(candidate.version, "validation", decision.reason)
    if decision.candidate:
        registry.log_gate(candidate.run_id, decision.candidate.as_dict())
    if decision.promote:
        registry.promote(candidate.version, decision.reason)
        champion, champion_model = candidate, model
    return TrainOutcome(candidate, model, decision, champion, champion_model, split)


def labelled_measures(
    settings: Settings,
    features: pd.DataFrame,
    held_scores: pd.DataFrame,
    threshold: float,
    feedback: pd.DataFrame | None,
) -> dict[str, float]:
    """NAB and event metrics of the held-out span, from the labels file and people's
    verdicts; none when neither labels a held-out series."""
    nab_intervals = {}
    if settings.labels_file is not None:
        nab_intervals = labelled.intervals_from_nab(read_window_labels(settings.labels_file))
    intervals = labelled.joined(nab_intervals, labelled.intervals_from_feedback(feedback, features))
    measures = labelled.holdout_measures(held_scores, threshold, intervals)
    if measures is None:
        log.info("no labels for the held-out series: no NAB metrics in this training run")
    return measures or {}


def _holdout_split(features: pd.DataFrame, fraction: float) -> dict[str, datetime]:
    """Per series, the time from which rows are held out (the newest `fraction` of them)."""
    split = {}
    for series, rows in features.groupby("series"):
        stamps = rows["timestamp"].sort_values().reset_index(drop=True)
        split[str(series)] = stamps.iloc[int(len(stamps) * (1.0 - fraction))].to_pydatetime()
    return split


def _split_rows(features: pd.DataFrame, split: dict[str, datetime]):
    cut = features["series"].map(lambda s: pd.Timestamp(split[s]))
    held = features["timestamp"] >= cut
    return features[~held].reset_index(drop=True), features[held].reset_index(drop=True)


def held_out_scores(
    model: AnomalyModel, rows: pd.DataFrame, split: dict[str, datetime]
) -> pd.DataFrame:
    """The model's scores of the held-out rows of the series it knows.

    Each series is scored from `model.history` before its split, so the calibration has
    the training rows as context; only the held-out rows' scores are kept.
    """
    known = [s for s in model.series if s in split]
    starts = {s: pd.Timestamp(split[s]) - model.history(s) for s in known}
    begins = rows["series"].map(starts)
    context = rows[begins.notna() & (rows["timestamp"] >= begins)]
    scores = model.score_rows(context)
    held = scores["timestamp"] >= scores["series"].map(lambda s: pd.Timestamp(split[s]))
    return scores[held].reset_index(drop=True)


def _champion(registry: Registry) -> tuple[RegisteredModel | None, AnomalyModel | None]:
    """The champion and its model; an unloadable champion counts as none, with a warning."""
    champion = registry.champion()
    if champion is None:
        return None, None
    try:
        return champion, registry.load(champion)
    except RegistryError as err:
        log.warning("the candidate is judged without the champion, which cannot load: %s", err)
        return None, None


def _flags(scored: pd.DataFrame) -> pd.DataFrame:
    return scored[scored["is_anomaly"].astype(bool)][["series", "timestamp"]]


def _gate_slices(
    statuses: list[SloStatus], slo_series: dict[str, tuple[str, ...]], split: dict[str, datetime]
) -> list[SloSlices]:
    """Each SLO's slices over the held-out span of its series."""
    slices = []
    for status in statuses:
        series = tuple(s for s in slo_series.get(status.name, ()) if s in split)
        if not series:
            continue
        held_from = pd.Timestamp(min(split[s] for s in series))
        length = pd.Timedelta(status.slice_length)
        first = max(0, math.ceil((held_from - status.window_start) / length))
        count = int((status.window_end - status.window_start) / length) + 1 - first
        breaching = {
            int((start - status.window_start) / length) - first for start, _ in status.bad_periods
        }
        slices.append(
            SloSlices(
                slo=status.name,
                series=series,
                start=status.window_start + first * length,
                slice_length=length.to_pytimedelta(),
                count=max(count, 0),
                breaching=frozenset(i for i in breaching if i >= 0),
            )
        )
    return slices


def _params(model: AnomalyModel, train: pd.DataFrame) -> dict:
    return model.params() | {
        "detector": "per-series isolation forest, frozen at training",
        "train_start": str(train["timestamp"].min()),
        "train_end": str(train["timestamp"].max()),
        "series": len(model.series),
    }


def example_rows(samples: pd.DataFrame) -> pd.DataFrame:
    first = samples.sort_values(["series", "timestamp"]).groupby("series").head(20)
    example = first[["timestamp", "series", "value"]].head(20).copy()
    example["timestamp"] = example["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return example.reset_index(drop=True)
