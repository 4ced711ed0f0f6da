"""The SLO stage: evaluate every stored SLO at its newest version and record the results,
each evaluation naming the version it used.

With a distributed `slopipe.scale.Runner` the SLOs are cut into batches, one Dask task
each. A task carries the SLOs' stored versions and the `fetch` and `window_end` callables
(for `Sources`: the lake's path and the Prometheus settings), so the worker reads the
series itself; only statuses come back. The client alone writes the SLO store.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pandas as pd

from slopipe.scale import Outcome, Runner, guarded
from slopipe.slo import openslo
from slopipe.slo.evaluate import Fetch, SloStatus, evaluate
from slopipe.slo.model import SloDefinition
from slopipe.slo.store import SloStore, StoredSlo

log = logging.getLogger(__name__)

WindowEnd = Callable[[SloDefinition], pd.Timestamp]


@dataclass(frozen=True)
class Evaluated:
    stored: StoredSlo
    definition: SloDefinition
    statuses: list[SloStatus]


@dataclass
class StoreEvaluation:
    """The SLOs evaluated (in name order) and those that failed, with their reasons."""

    evaluated: list[Evaluated] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def statuses(self) -> list[SloStatus]:
        return [s for e in self.evaluated for s in e.statuses]


@dataclass(frozen=True)
class SloBatch:
    """One task: some SLOs, each as its stored versions (oldest first)."""

    slos: tuple[tuple[StoredSlo, ...], ...]
    fetch: Fetch
    window_end: WindowEnd
    at: datetime | None = None
    min_coverage: float | None = None


def evaluate_store(
    store: SloStore,
    fetch: Fetch,
    window_end: WindowEnd,
    at: datetime | None = None,
    names: list[str] | None = None,
    record: bool = True,
    min_coverage: float | None = None,
    runner: Runner | None = None,
) -> StoreEvaluation:
    """Evaluate the newest version of each stored SLO (or those in `names`); windows end
    at `at`, else at `window_end(definition)` (the newest sample).

    An SLO that fails for a data reason (`SlopipeError`, `ValueError`) is reported in
    `failed` and the others go on. `runner` fans the SLOs out in batches (in-process
    without one).
    """
    began, evaluated_at = time.perf_counter(), datetime.now(UTC)
    runner = runner or Runner()
    chosen = [v for n, v in sorted(store.versions().items()) if not names or n in names]
    batches = [
        SloBatch(tuple(tuple(v) for v in part), fetch, window_end, at, min_coverage)
        for part in runner.batches(chosen)
    ]
    result = StoreEvaluation()
    for outcome in runner.map(evaluate_batch, batches):
        _collect(result, outcome)
    if record:
        rows = [evaluation_row(s, evaluated_at) for s in result.statuses]
        store.record_evaluations(rows)
    log.info(
        "slo evaluation: %d SLOs in %d tasks, %d failed, in %.2f s",
        len(result.evaluated),
        len(batches),
        len(result.failed),
        time.perf_counter() - began,
    )
    return result


def _collect(result: StoreEvaluation, outcome: Outcome) -> None:
    """Add one batch's outcome: its SLOs' results, or its failure to each of its SLOs."""
    batch: SloBatch = outcome.item
    per_slo = outcome.value if outcome.ok else [Outcome(v, error=outcome.error) for v in batch.slos]
    for one in per_slo:
        if one.ok:
            result.evaluated.append(one.value)
            continue
        name = one.item[-1].name
        result.failed[name] = one.error
        log.warning("slo %s: not evaluated, no status recorded: %s", name, one.error)


def evaluate_batch(batch: SloBatch) -> list[Outcome]:
    """Runs in a task: evaluate each SLO of the batch; a data failure stays with its SLO."""
    one = guarded(lambda versions: evaluate_versions(versions, batch))
    return [one(versions) for versions in batch.slos]


def evaluate_versions(versions: tuple[StoredSlo, ...], batch: SloBatch) -> Evaluated:
    """The newest version of one SLO evaluated, its history holding the older ones."""
    current = versions[-1]
    definition = openslo.parse_slo(current.document, where=f"stored SLO {current.name}")
    if batch.min_coverage is not None:
        definition = replace(definition, min_coverage=batch.min_coverage)
    end = pd.Timestamp(batch.at) if batch.at else batch.window_end(definition)
    history = [
        (
            pd.Timestamp(v.created_at),
            openslo.parse_slo(v.document, where=f"{v.name} v{v.version}"),
        )
        for v in versions
    ]
    statuses = evaluate(definition, batch.fetch, end, current.version, history)
    return Evaluated(current, definition, statuses)


def evaluation_row(status: SloStatus, evaluated_at: datetime) -> dict:
    details = status.as_dict()
    return {
        "name": status.name,
        "version": status.version or 0,
        "objective": status.objective_name,
        "objective_ratio": status.objective_ratio,
        "evaluated_at": evaluated_at,
        "window_start": status.window_start.to_pydatetime(),
        "window_end": status.window_end.to_pydatetime(),
        "sli": details["sli"],
        "error_budget_remaining": details["error_budget_remaining"],
        "coverage": status.coverage,
        "state": status.state,
        "details": json.dumps(details, default=str),
    }
