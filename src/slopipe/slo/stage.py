"""The SLO stage: evaluate every stored SLO at its newest version and record the results,
each evaluation naming the version it used."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pandas as pd

from slopipe.slo import openslo
from slopipe.slo.evaluate import Fetch, SloStatus, evaluate
from slopipe.slo.model import SloDefinition
from slopipe.slo.store import SloStore, StoredSlo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluated:
    stored: StoredSlo
    definition: SloDefinition
    statuses: list[SloStatus]


def evaluate_store(
    store: SloStore,
    fetch: Fetch,
    window_end: Callable[[SloDefinition], pd.Timestamp],
    at: datetime | None = None,
    names: list[str] | None = None,
    record: bool = True,
    min_coverage: float | None = None,
) -> list[Evaluated]:
    """Evaluate the newest version of each stored SLO (or those in `names`); windows end
    at `at`, else at `window_end(definition)` (the newest sample)."""
    began, evaluated_at = time.perf_counter(), datetime.now(UTC)
    results, rows = [], []
    for name, versions in sorted(store.versions().items()):
        if names and name not in names:
            continue
        current = versions[-1]
        definition = openslo.parse_slo(current.document, where=f"stored SLO {name}")
        if min_coverage is not None:
            definition = replace(definition, min_coverage=min_coverage)
        end = pd.Timestamp(at) if at else window_end(definition)
        history = [
            (
                pd.Timestamp(v.created_at),
                openslo.parse_slo(v.document, where=f"{name} v{v.version}"),
            )
            for v in versions
        ]
        statuses = evaluate(definition, fetch, end, current.version, history)
        results.append(Evaluated(current, definition, statuses))
        rows += [evaluation_row(s, evaluated_at) for s in statuses]
    if record:
        store.record_evaluations(rows)
    log.info("slo evaluation: %d SLOs in %.2f s", len(results), time.perf_counter() - began)
    return results


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
