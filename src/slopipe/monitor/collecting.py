"""The monitor's collect step: what is new in Prometheus, appended to the lake.

TODO: this reads `query_range` values on a step-aligned grid through the first Prometheus
source; it goes away when the incremental raw-sample collector (issue 3) is merged, and
`collect_new` then calls it instead.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

from slopipe.collect.prometheus import query_range_source
from slopipe.collect.samples import split_finite
from slopipe.config import Settings
from slopipe.lake import Lake
from slopipe.slo.store import SloStore

log = logging.getLogger(__name__)

COLLECTED_UNTIL = "collected_until"
#: Prometheus answers at most 11,000 points per series and query.
MAX_POINTS = 10_000


def collect_new(settings: Settings, lake: Lake, store: SloStore, now: datetime) -> int:
    """Store what Prometheus has between the last collection and `now`; return new rows.

    The grid is aligned to whole steps so that the same instant is asked for in every
    cycle and appends stay idempotent. After an outage the span reaches back to the last
    successful collection (at most `MAX_POINTS` steps), so the gap is filled.
    """
    step = settings.prometheus.step_seconds
    end = math.floor(now.timestamp() / step) * step - step
    start = end - settings.monitor.collect_span_seconds
    until = store.get_state(COLLECTED_UNTIL)
    if until:
        start = min(start, float(until) - step)
    start = max(start, end - MAX_POINTS * step)
    frame = query_range_source(settings.prometheus, _at(start), _at(end))
    samples, _ = split_finite(frame)
    added = lake.append(samples)
    store.set_state({COLLECTED_UNTIL: str(end)})
    return added


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def collected_until(store: SloStore) -> datetime | None:
    value = store.get_state(COLLECTED_UNTIL)
    return _at(float(value)) if value else None


def gap_seconds(store: SloStore, now: datetime, step_seconds: int) -> float:
    """How far collection lags behind `now`, beyond the usual step or two."""
    until = collected_until(store)
    if until is None:
        return 0.0
    return max(0.0, (now - until - timedelta(seconds=2 * step_seconds)).total_seconds())
