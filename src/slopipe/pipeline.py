"""`slopipe run`: one pass of the whole pipeline, stage after stage.

collect -> lake -> prepare -> slo -> train -> validate -> score -> services -> alert

`run` calls one function per stage; they hand each other a `_RunState`. Training and the
validation gate live in `slopipe.training`, the service models in `slopipe.service_stage`.

Inputs are checked before anything is stored: a bad CSV, SLO or labels file, or a selector
Prometheus rejects, changes nothing. Each later stage stores its own results atomically, so
a failure leaves what earlier stages stored intact and consistent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pandas as pd

from slopipe.alert import outbox
from slopipe.alert.rules import anomaly_alerts, service_alerts, slo_alerts
from slopipe.collect import collect
from slopipe.collect.raw import CollectResult, collect_into
from slopipe.collect.samples import split_finite
from slopipe.config import Settings
from slopipe.detect.nab_files import read_window_labels
from slopipe.detect.services import labels_of
from slopipe.errors import ConfigError, InputError
from slopipe.lake import Lake
from slopipe.monitor.scoring import score_new
from slopipe.prepare import build_features, prepare
from slopipe.registry.mlflow_registry import Registry
from slopipe.scale import Runner
from slopipe.service_stage import ServiceResult, model_services
from slopipe.slo import openslo
from slopipe.slo.evaluate import SloStatus
from slopipe.slo.sources import Sources, check_series
from slopipe.slo.stage import StoreEvaluation, evaluate_store
from slopipe.slo.store import SloStore
from slopipe.training import TrainOutcome, example_rows, train_and_gate

log = logging.getLogger(__name__)

STAGES = (
    "collect",
    "store",
    "prepare",
    "slo",
    "train",
    "validate",
    "score",
    "services",
    "alert",
)
OnStage = Callable[[str], None]


@dataclass
class RunSummary:
    series: int = 0
    samples: int = 0
    new_samples: int = 0
    lake_rows: int = 0
    rejected: int = 0
    duplicates: int = 0
    gaps: int = 0
    counter_resets: int = 0
    slos_evaluated: int = 0
    slos_breached: int = 0
    slos_failed: dict[str, str] = field(default_factory=dict)
    slos: list[dict] = field(default_factory=list)
    model_uri: str | None = None
    model_version: str | None = None
    champion_version: str | None = None
    promoted: bool = False
    promotion_reason: str = ""
    gate: dict = field(default_factory=dict)
    scored: int = 0
    anomalies: int = 0
    new_anomalies: int = 0
    services: list[dict] = field(default_factory=list)
    service_anomalies: int = 0
    new_service_anomalies: int = 0
    alerts: int = 0
    alerts_sent: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def demo_slo_file() -> Path:
    return Path(str(resources.files("slopipe.collect") / "demo_slos.yaml"))


def run(
    settings: Settings,
    source: str = "demo",
    slos_file: Path | None = None,
    at: datetime | None = None,
    on_stage: OnStage = lambda stage: None,
) -> RunSummary:
    """Run every stage once and say what happened."""
    summary = RunSummary()
    if slos_file is None and source == "demo":
        slos_file = demo_slo_file()
    definitions = openslo.load_file(slos_file) if slos_file else []
    _refuse_repeated_names(definitions, slos_file)
    if settings.labels_file is not None:
        read_window_labels(settings.labels_file)  # a bad labels file stops the run here
    on_stage("collect")
    state = _collect(settings, source, definitions, summary)
    on_stage("store")
    _store(state, definitions, slos_file, summary)
    on_stage("prepare")
    _prepare(state, summary)
    on_stage("slo")
    _evaluate(state, at, summary)
    on_stage("train")
    _train(state, summary, on_stage)
    on_stage("score")
    _score(state, summary)
    on_stage("services")
    _services(state, summary)
    on_stage("alert")
    _alert(state, summary)
    return summary


@dataclass
class _RunState:
    """What one run's stages hand each other."""

    settings: Settings
    source: str
    lake: Lake
    samples: pd.DataFrame
    definitions: list = field(default_factory=list)
    store: SloStore | None = None
    sources: Sources | None = None
    prepared: pd.DataFrame | None = None
    features: pd.DataFrame | None = None
    statuses: list[SloStatus] = field(default_factory=list)
    slo_series: dict[str, tuple[str, ...]] = field(default_factory=dict)
    registry: Registry | None = None
    outcome: TrainOutcome | None = None
    flagged: pd.DataFrame | None = None
    services: list[ServiceResult] = field(default_factory=list)


def _collect(settings: Settings, source: str, definitions: list, summary) -> _RunState:
    _make_home(settings.home)
    lake = Lake(settings.lake_path)
    if source == "prometheus":
        collected = _collect_prometheus(lake, settings, definitions)
        samples = lake.read(list(collected.watermarks))
        summary.rejected, summary.new_samples = collected.rejected, collected.new_samples
    else:
        samples, summary.rejected = split_finite(collect(source, settings))
    summary.series, summary.samples = samples["series"].nunique(), len(samples)
    summary.duplicates = int(samples.duplicated(["series", "timestamp"]).sum())
    return _RunState(settings, source, lake, samples)


def _store(state: _RunState, definitions: list, slos_file: Path | None, summary) -> None:
    """Check the SLOs against the known series, then store samples and SLOs."""
    _refuse_too_few(state.samples, state.source)
    state.definitions = definitions
    state.store = SloStore(state.settings.slo_db_url)
    known = set(state.lake.series_names()) | set(state.samples["series"])
    for definition, _ in definitions:
        check_series(definition, known)
    if state.source != "prometheus":
        summary.new_samples = state.lake.append(state.samples)
    summary.lake_rows = state.lake.count()
    state.sources = Sources(state.lake, state.settings.prometheus)
    documents = [(d.name, doc) for d, doc in definitions]
    state.store.apply(documents, author="slopipe run", reason=_reason(slos_file))


def _prepare(state: _RunState, summary: RunSummary) -> None:
    names = sorted(state.samples["series"].unique())
    state.prepared, report = prepare(state.lake.read(names))
    summary.gaps, summary.counter_resets = report.gaps, report.counter_resets
    state.features = build_features(state.prepared)


def _evaluate(state: _RunState, at: datetime | None, summary: RunSummary) -> None:
    with Runner(state.settings.dask_scheduler) as runner:
        evaluated = evaluate_store(
            state.store, state.sources, state.sources.window_end, at, runner=runner
        )
    state.statuses, state.slo_series = evaluated.statuses, lake_series_of(evaluated)
    summary.slos_failed = evaluated.failed
    summary.slos = [s.as_dict() for s in state.statuses]
    summary.slos_evaluated = len(state.statuses)
    summary.slos_breached = sum(s.state == "breached" for s in state.statuses)


def _train(state: _RunState, summary: RunSummary, on_stage: OnStage) -> None:
    state.registry = Registry(state.settings)
    outcome = train_and_gate(
        state.settings,
        state.registry,
        state.features,
        example_rows(state.samples),
        state.statuses,
        state.slo_series,
        on_stage=on_stage,
        feedback=state.store.feedback(),
    )
    state.outcome, decision = outcome, outcome.decision
    summary.model_version, summary.model_uri = outcome.candidate.version, outcome.candidate.uri
    summary.promoted, summary.promotion_reason = decision.promote, decision.reason
    summary.gate = {
        "candidate": decision.candidate.as_dict() if decision.candidate else None,
        "champion": decision.champion.as_dict() if decision.champion else None,
    }
    summary.champion_version = outcome.champion.version if outcome.champion else None


def _score(state: _RunState, summary: RunSummary) -> None:
    outcome = state.outcome
    state.flagged = pd.DataFrame(columns=["series", "timestamp", "anomaly_score"])
    if outcome.champion_model is None:
        log.warning(
            "no champion model yet: nothing scored (%s). The SLO gate promotes a model only "
            "when the held-out span has SLO-breaching slices it can catch; `slopipe model "
            "promote VERSION --reason TEXT` promotes one by hand",
            state.outcome.decision.reason,
        )
        return
    version = outcome.champion.version
    scored = score_new(state.lake, state.store, outcome.champion_model, version, outcome.split)
    summary.scored, summary.anomalies = scored.scored, scored.anomalies
    summary.new_anomalies, state.flagged = scored.new_anomalies, scored.flagged


def _services(state: _RunState, summary: RunSummary) -> None:
    """One multivariate model per service, logged beside the candidate (see service_stage)."""
    candidate = state.outcome.candidate

    def log_model(service, model, document) -> None:
        state.registry.log_service_model(candidate.run_id, service.name, model, document)

    state.services = model_services(
        state.settings,
        state.store,
        state.prepared,
        labels_of(state.samples),
        slos_by_service(state.store),
        candidate.version,
        log_model,
    )
    summary.services = [s.as_dict() for s in state.services]
    summary.service_anomalies = sum(s.anomalies for s in state.services)
    summary.new_service_anomalies = sum(s.new_anomalies for s in state.services)


def _alert(state: _RunState, summary: RunSummary) -> None:
    statuses, store = state.statuses, state.store
    now = max((s.window_end for s in statuses), default=pd.Timestamp(datetime.now(UTC)))
    now = now.to_pydatetime()
    services = {d.name: d.service for d, _ in state.definitions}
    raised = slo_alerts(statuses, services) + anomaly_alerts(state.flagged, now)
    for result in state.services:
        raised += service_alerts(result.name, result.flagged, result.slos, now)
    summary.alerts = outbox.enqueue(store, raised)
    summary.alerts_sent = outbox.deliver(store, state.settings.alertmanager_url)


def slos_by_service(store: SloStore) -> dict[str, list[str]]:
    """The stored SLOs that name each service in their `spec.service`."""
    found: dict[str, list[str]] = {}
    for stored in store.current():
        definition = openslo.parse_slo(stored.document, where=f"stored SLO {stored.name}")
        if definition.service:
            found.setdefault(definition.service, []).append(stored.name)
    return found


#: Fewer samples than this cannot train a model, refused before anything is stored; training
#: then needs `StreamingConfig.min_train_rows` (288) rows of one series before the holdout.
MIN_SAMPLES = 100


def _make_home(home: Path) -> None:
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"home {home}: {err.strerror} (set --home or SLOPIPE_HOME to a folder)"
        ) from None


def _collect_prometheus(lake: Lake, settings: Settings, definitions: list) -> CollectResult:
    """The raw-sample collector stores as it reads (prepare reads the series back), so the
    checks the other sources pass before storing run once its plan is made."""

    def check(series: list[str], planned_samples: int) -> None:
        known = set(lake.series_names()) | set(series)
        for definition, _ in definitions:
            check_series(definition, known)
        held = len(lake.read(series)) if series else 0
        if held + planned_samples < MIN_SAMPLES:
            raise InputError(
                f"prometheus selectors {settings.prometheus.selectors}: about "
                f"{held + planned_samples} samples, too few to train a model (need at least "
                f"{MIN_SAMPLES}; widen the selectors or prometheus.lookback_days)"
            )

    return collect_into(lake, settings.prometheus, before_store=check)


def _refuse_repeated_names(definitions: list, slos_file: Path | None) -> None:
    names = [d.name for d, _ in definitions]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"{slos_file}: SLO name {repeated[0]!r} is used more than once")


def _refuse_too_few(samples: pd.DataFrame, source: str) -> None:
    if len(samples) < MIN_SAMPLES:
        raise InputError(
            f"{source}: {len(samples)} samples, too few to train a model "
            f"(need at least {MIN_SAMPLES}; collect more history)"
        )


def _reason(slos_file: Path | None) -> str:
    return f"applied from {slos_file}" if slos_file else "applied"


def evaluate_slos(
    store: SloStore, sources: Sources, at: datetime | None, runner: Runner | None = None
) -> tuple[list[SloStatus], dict[str, tuple[str, ...]]]:
    result = evaluate_store(store, sources, sources.window_end, at, runner=runner)
    return result.statuses, lake_series_of(result)


def lake_series_of(result: StoreEvaluation) -> dict[str, tuple[str, ...]]:
    """Per evaluated SLO, the plain lake series it reads (bucket series left out)."""
    return {
        e.definition.name: tuple(
            s.series for s in e.definition.sources() if s.type == "lake" and s.le is None
        )
        for e in result.evaluated
    }
