"""The services stage of `slopipe run`: one multivariate model per service, over all its series.

For each service (`slopipe.detect.services`: series grouped by their labels) the stage fits a
`ServiceModel` on the older part of the span its series share, scores the rest, and stores the
flagged steps in the SLO store with their explanation (the service's series most to blame,
first the most). On later runs only steps after the service's watermark are stored, as for the
per-series model. The threshold comes from the training rows alone; nothing reads labels.

A service is skipped, with the reason in its result (and a log line), when it has a single
series (the per-series model already watches it), when its series share no time span, or
when the shared span is too short to learn from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from slopipe.config import Settings
from slopipe.detect.multivariate import ServiceModel
from slopipe.detect.services import Service, common_span, flagged_rows, group_services, split_time
from slopipe.errors import DetectError, InputError
from slopipe.slo.store import SloStore, service_key

log = logging.getLogger(__name__)

#: Called with each fitted service model and a document describing it (for MLflow).
LogModel = Callable[[Service, ServiceModel, dict], None]


@dataclass
class ServiceResult:
    """What the stage did for one service; `as_dict` is its part of the run's summary."""

    name: str
    series: list[str]
    slos: list[str]
    train_rows: int = 0
    scored: int = 0
    anomalies: int = 0
    new_anomalies: int = 0
    threshold: float | None = None
    top_metrics: list[str] = field(default_factory=list)
    skipped: str = ""
    flagged: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    slo_service: str = ""

    def as_dict(self) -> dict:
        keys = ("name", "series", "slos", "train_rows", "scored", "anomalies", "new_anomalies")
        return {k: getattr(self, k) for k in keys} | {
            "threshold": self.threshold,
            "top_metrics": self.top_metrics,
            "skipped": self.skipped,
        }


def model_services(
    settings: Settings,
    store: SloStore,
    prepared: pd.DataFrame,
    labels: Mapping[str, Mapping[str, str]],
    slos: Mapping[str, Sequence[str]],
    model_version: str,
    log_model: LogModel = lambda service, model, document: None,
) -> list[ServiceResult]:
    """Fit, score and store every service of these series; `slos` maps a service (its
    `slo_service`) to the SLOs whose `spec.service` names it."""
    services = group_services(labels, settings.service_labels, settings.service_name_label)
    marks = store.watermarks()
    results = []
    for service in services:
        result = ServiceResult(
            service.name,
            list(service.series),
            sorted(slos.get(service.slo_service, ())),
            slo_service=service.slo_service,
        )
        try:
            _model_one(service, result, settings, store, prepared, marks, model_version, log_model)
        except (DetectError, InputError) as err:
            result.skipped = str(err)
        if result.skipped:
            log.warning("service %s not modelled: %s", service.name, result.skipped)
        results.append(result)
    return results


def _model_one(service, result, settings, store, prepared, marks, version, log_model) -> None:
    if len(service.series) < 2:
        result.skipped = "one series only: the per-series model watches it"
        return
    frame = _service_frame(prepared, service.series)
    span = common_span(frame) if not frame.empty else None
    if span is None:
        result.skipped = f"its {len(service.series)} series share no time span"
        return
    frame = frame[frame["timestamp"].between(*span)]
    split = split_time(frame["timestamp"], settings.holdout_fraction)
    train = frame[frame["timestamp"] < split]
    model = ServiceModel().fit(train)
    result.train_rows, result.threshold = int(train["timestamp"].nunique()), model.threshold_
    log_model(service, model, _document(service, model, train))
    after = marks.get(service_key(service.name), train["timestamp"].max())
    _score_and_store(service, result, model, frame, pd.Timestamp(after), store, version)
    log.info(
        "service %s: %d series, %d step(s) scored, %d anomalies (%d new)",
        service.name,
        len(service.series),
        result.scored,
        result.anomalies,
        result.new_anomalies,
    )


def _score_and_store(service, result, model, frame, after, store, version) -> None:
    """Score every step after training (the steps before give context), store the flagged
    steps after `after` (the watermark) and move the watermark."""
    trained_until = model.history_.index.max()  # the last training step
    scores = model.score(frame[frame["timestamp"] > trained_until])
    fresh = scores.anomaly_score.index > after
    result.scored = int(fresh.sum())
    if not result.scored:
        return
    flagged = flagged_rows(scores)
    result.flagged = flagged[flagged["timestamp"] > after].reset_index(drop=True)
    result.anomalies = len(result.flagged)
    until = scores.anomaly_score.index[fresh].max()
    result.new_anomalies = store.record_service_scores(service.name, result.flagged, version, until)
    if result.anomalies:
        worst = result.flagged["anomaly_score"].idxmax()
        result.top_metrics = list(result.flagged["top_metrics"].iloc[worst])


def _service_frame(prepared: pd.DataFrame, series: Sequence[str]) -> pd.DataFrame:
    """The finite prepared values of these series, as a long frame."""
    mine = prepared[prepared["series"].isin(series) & prepared["value"].notna()]
    return mine[["timestamp", "series", "value"]].reset_index(drop=True)


def _document(service: Service, model: ServiceModel, train: pd.DataFrame) -> dict:
    return {
        "service": service.name,
        "slo_service": service.slo_service,
        "series": list(model.series_),
        "step_seconds": model.step_.total_seconds(),
        "threshold": model.threshold_,
        "train_start": str(train["timestamp"].min()),
        "train_end": str(train["timestamp"].max()),
        "config": {k: str(v) for k, v in vars(model.config).items()},
    }
