"""The monitor's collect step: each cycle, the raw-sample collector of `slopipe collect`.

Every series the monitor's selectors match is read from its own watermark (its newest sample
in the lake) up to the cycle's time, and its raw samples are appended as Prometheus stores
them, at their scrape times: the rows `slopipe collect` writes. Scoring puts them on a grid
itself (`slopipe.prepare`); the SLO engine reads them at their own times.

- A series the lake does not hold yet is read from `monitor.collect_span_seconds` back.
- A failed request fails the whole step and nothing is retried within the cycle: the next
  cycle is the retry. What was committed before the failure stays, and each series
  continues from its watermark, so an outage is caught up and no sample is stored twice.
- `collected_until` (SLO store state) is the end of the last successful collection; the gap
  on `/metrics` is measured from it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slopipe.collect.raw import collect_into
from slopipe.config import PrometheusSettings, Settings
from slopipe.lake import Lake
from slopipe.slo.store import SloStore

COLLECTED_UNTIL = "collected_until"
SECONDS_PER_DAY = 86_400


def collect_new(settings: Settings, lake: Lake, store: SloStore, now: datetime) -> int:
    """Store what Prometheus holds after each series' watermark up to `now`; return new rows.

    Raises `CollectError` when Prometheus does not answer, `LakeError` when another writer
    holds the lake.
    """
    result = collect_into(lake, monitor_prometheus(settings), until=now)
    store.set_state({COLLECTED_UNTIL: str(now.timestamp())})
    return result.new_samples


def monitor_prometheus(settings: Settings) -> PrometheusSettings:
    """The configured Prometheus, with the monitor's reach for new series and no retries."""
    span_days = settings.monitor.collect_span_seconds / SECONDS_PER_DAY
    return settings.prometheus.model_copy(update={"lookback_days": span_days, "retries": 0})


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
