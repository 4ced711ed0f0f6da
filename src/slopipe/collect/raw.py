"""The raw-sample collector: Prometheus into the lake, incremental and resumable.

One run, under the lake's writer lock:

1. discover: `/api/v1/series` for every selector gives the series, named as in the lake;
2. watermarks: each series' newest stored sample, read from the lake itself, so that no
   crash can make a watermark run ahead of what is stored;
3. plan: sample counts per time window give the chunks (`plan`), so that no answer holds
   more than `chunk_samples` samples;
4. fetch: the raw samples of each chunk `(start, end]` as the TSDB stores them, not values
   re-sampled at a step: by remote read (`prometheus.read_api = remote_read`, the default),
   or by the range selector `{exact labels}[Dms]` evaluated at the chunk's end (`query`).
   Requests run in parallel; answers are taken in plan order (series, then time);
5. store: consumed chunks are committed in batches, one Delta commit each. A batch is a
   prefix of the plan, so what is stored of a series always runs without a gap from its old
   watermark: a run killed at any point, SIGKILL included, resumes where its last commit
   ended, and stores nothing twice.

Without `since`, a series is read after its watermark (or `lookback_days` back for a new
series), and its new samples are appended as they are. With `since` (a backfill), the range
`[since, until]` is read whatever the watermarks, and stored with a MERGE that skips samples
already in the lake. Staleness markers, NaN and infinities are counted as `rejected` (and by
reason in `rejected_by_reason`) and not stored. Only remote read sees staleness markers: the
query API drops them from range selections. A rejected sample newer than a series' newest
stored one is read, and counted, again by the next run.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa

from slopipe.collect.matrix import decode_matrix
from slopipe.collect.plan import MAX_WINDOWS, MIN_WINDOW_MS, Chunk, grid_for, plan_chunks
from slopipe.collect.promapi import PrometheusApi
from slopipe.collect.prometheus import series_name
from slopipe.collect.remote_read import stale_markers
from slopipe.config import PrometheusSettings
from slopipe.errors import CollectError, ConfigError
from slopipe.lake.table import SCHEMA, Lake, bucket_of

log = logging.getLogger(__name__)

#: (samples planned so far done, samples planned in all)
OnProgress = Callable[[int, int], None]
#: (the series found, samples planned): raises to stop the run before anything is stored.
BeforeStore = Callable[[list[str], int], None]
COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
#: How many times a window above the budget is counted again in finer windows.
MAX_REFINE = 4
REJECT_REASONS = ("stale_marker", "nan", "infinite")


@dataclass
class CollectResult:
    series: int = 0
    samples: int = 0
    new_samples: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(REJECT_REASONS, 0)
    )
    requests: int = 0
    watermarks: dict[str, str | None] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Target:
    """A series to read: its lake name, labels (with `__name__`), kind and range start."""

    name: str
    metric: dict[str, str]
    kind: str
    start_ms: int
    selector: str

    @property
    def exact(self) -> str:
        """A selector matching this series (and any with more labels: filter the answer)."""
        matchers = (f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in self.metric.items())
        return "{" + ",".join(matchers) + "}"


def collect_into(
    lake: Lake,
    settings: PrometheusSettings,
    since: datetime | None = None,
    until: datetime | None = None,
    wait_seconds: float = 0.0,
    on_progress: OnProgress | None = None,
    transport: httpx.BaseTransport | None = None,
    before_store: BeforeStore | None = None,
) -> CollectResult:
    """Collect the configured selectors' raw samples into `lake`; see the module docstring.

    `before_store(series, planned_samples)` runs once the plan is made and before the first
    request for samples: what it raises ends the run with nothing stored.
    """
    if not settings.selectors:
        raise ConfigError(
            "prometheus.selectors is empty: name at least one (`slopipe collect --selector`, "
            "SLOPIPE_PROMETHEUS__SELECTORS or prometheus.selectors in the --config file)"
        )
    end = until or datetime.now(UTC)
    if since is not None and since >= end:
        raise ConfigError(f"--since {since:%Y-%m-%dT%H:%M:%SZ} is not before --until/now")
    api = PrometheusApi(settings, transport)
    try:
        with lake.writing(wait_seconds):
            run = _Run(lake, api, settings, since, end, on_progress)
            return run.execute(before_store or (lambda series, planned: None))
    finally:
        api.close()


class _Run:
    def __init__(self, lake, api, settings, since, end, on_progress):
        self.lake: Lake = lake
        self.api: PrometheusApi = api
        self.settings: PrometheusSettings = settings
        self.since_ms = _ms(since) if since else None
        self.end_ms = _ms(end)
        self.on_progress = on_progress or (lambda done, total: None)
        self.result = CollectResult()
        self.newest: dict[str, int] = {}
        self.pool = ThreadPoolExecutor(settings.parallel, thread_name_prefix="collect")

    def execute(self, before_store: BeforeStore) -> CollectResult:
        started = time.perf_counter()
        watermarks = {k: _ms(v) for k, v in self.lake.watermarks().items()}
        try:
            targets = self._discover(watermarks)
            chunks = self._plan(targets)
            before_store([t.name for t in targets], self.total_estimate)
            self._fetch_and_store(chunks)
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.result.requests = self.api.requests
        self.result.watermarks = {
            t.name: _iso(self.newest.get(t.name, watermarks.get(t.name))) for t in targets
        }
        log.info(
            "collected %d series from %s: %d samples, %d new, %d rejected, %d requests, %.2fs",
            len(targets),
            self.api.where,
            self.result.samples,
            self.result.new_samples,
            self.result.rejected,
            self.result.requests,
            time.perf_counter() - started,
        )
        return self.result

    # Discovery: the series each selector matches, and where each one's range starts.
    def _discover(self, watermarks: dict[str, int]) -> list[Target]:
        default_start = self.since_ms or _ms(
            datetime.fromtimestamp(self.end_ms / 1000, UTC)
            - timedelta(days=self.settings.lookback_days)
        )
        search_from = min([default_start, *watermarks.values()])
        if self.since_ms is not None:
            search_from = self.since_ms
        targets: dict[str, Target] = {}
        kinds: dict[str, str] = {}
        for selector in self.settings.selectors:
            found = self.api.series(selector, search_from, self.end_ms)
            log.info("prometheus %s: %s matches %d series", self.api.where, selector, len(found))
            for metric in found:
                name = series_name(metric)
                if name in targets:
                    continue
                start = watermarks.get(name, default_start - 1)
                if self.since_ms is not None:
                    start = self.since_ms - 1
                if start >= self.end_ms:
                    continue
                kind = kinds.get(metric["__name__"]) or self._kind(metric["__name__"], kinds)
                targets[name] = Target(name, dict(sorted(metric.items())), kind, start, selector)
        self.result.series = len(targets)
        self._targets = targets
        return sorted(targets.values(), key=lambda t: t.name)

    def _kind(self, metric: str, cache: dict[str, str]) -> str:
        declared = self.api.metric_type(metric)
        if declared in ("counter", "gauge"):
            kind = declared
        elif metric.endswith(COUNTER_SUFFIXES):
            kind = "counter"
        else:
            kind = "unknown"
        cache[metric] = kind
        return kind

    # Planning: one count per selector; windows only for series above the budget.
    def _plan(self, targets: list[Target]) -> list[Chunk]:
        by_selector: dict[str, list[Target]] = {}
        for target in targets:
            by_selector.setdefault(target.selector, []).append(target)
        chunks: list[Chunk] = []
        for selector, group in by_selector.items():
            if len({t.metric["__name__"] for t in group}) == 1:
                chunks += self._plan_group(selector, group)
            else:
                for target in group:
                    chunks += self._plan_group(target.exact, [target])
        chunks.sort(key=lambda c: (c.series, c.start_ms))
        self.total_estimate = sum(c.estimate for c in chunks)
        log.info(
            "plan: %d series, %d requests, about %d samples",
            len(targets),
            len(chunks),
            self.total_estimate,
        )
        return chunks

    def _plan_group(self, selector: str, group: list[Target]) -> list[Chunk]:
        """Count each series' samples in one query over the group's widest range."""
        group_start = min(t.start_ms for t in group)
        totals = self._count(selector, group_start)
        budget = self.settings.chunk_samples
        chunks, big = [], []
        for target in group:
            total = totals.get(_without_name(target.metric), 0)
            if 0 < total <= budget:
                chunks.append(Chunk(target.name, target.start_ms, self.end_ms, total))
            elif total > budget:
                big.append(target)
        for planned in self.pool.map(self._plan_big, big):
            chunks += planned
        return chunks

    def _plan_big(self, target: Target) -> list[Chunk]:
        total = self._count(target.exact, target.start_ms).get(_without_name(target.metric), 0)
        if total <= self.settings.chunk_samples:
            return [Chunk(target.name, target.start_ms, self.end_ms, total)] if total else []
        return self._plan_windows(target, target.start_ms, self.end_ms, total)

    def _count(self, selector: str, start_ms: int) -> dict[frozenset, int]:
        """Samples per series (labels without the name) in (start_ms, end]."""
        query = f"count_over_time({selector}[{self.end_ms - start_ms - 1}ms])"
        data = self.api.query(query, self.end_ms, f"selector {selector!r}")
        return {frozenset(r["metric"].items()): int(float(r["value"][1])) for r in data["result"]}

    def _plan_windows(
        self, target: Target, start_ms: int, end_ms: int, total: int, depth: int = 0
    ) -> list[Chunk]:
        """Counts per window (a few per chunk) show where the samples of a big series lie;
        a window still above the budget is counted again in finer windows."""
        budget = self.settings.chunk_samples
        windows = min(MAX_WINDOWS, 4 * math.ceil(total / budget))
        grid = grid_for(start_ms, end_ms, windows)
        query = f"count_over_time({target.exact}[{grid.window_ms}ms])"
        data = self.api.query_range(
            query, grid.first_end_ms, grid.last_end_ms, grid.window_ms, f"series {target.name}"
        )
        key = _without_name(target.metric)
        counts = next(
            (
                {round(float(t) * 1000): int(float(v)) for t, v in r["values"]}
                for r in data["result"]
                if frozenset(r["metric"].items()) == key
            ),
            {},
        )
        finer = None
        if depth < MAX_REFINE and grid.window_ms > MIN_WINDOW_MS:

            def finer(low: int, high: int, count: int) -> list[Chunk]:
                return self._plan_windows(target, low, high, count, depth + 1)

        return plan_chunks(target.name, start_ms, end_ms, grid, counts, budget, finer)

    # Fetching and storing: answers taken in plan order, committed in batches.
    def _fetch_and_store(self, chunks: list[Chunk]) -> None:
        pool = self.pool
        queue: deque[Future] = deque()
        todo = iter(chunks)
        batch: list[pa.Table] = []
        done, last_commit = 0, time.monotonic()
        self.batch_rows = 0

        def fill() -> None:
            while len(queue) < 2 * self.settings.parallel:
                chunk = next(todo, None)
                if chunk is None:
                    return
                queue.append(pool.submit(self._fetch, chunk))

        try:
            fill()
            while queue:
                chunk, table, rejected = queue.popleft().result()
                self._count_rejected(rejected)
                fill()
                if table.num_rows:
                    batch.append(table)
                    self.batch_rows += table.num_rows
                done += chunk.estimate
                self.on_progress(done, self.total_estimate)
                due = time.monotonic() - last_commit >= self.settings.commit_seconds
                if self.batch_rows >= self.settings.batch_samples or (due and batch):
                    self._commit(batch)
                    batch, last_commit = [], time.monotonic()
        except (CollectError, KeyboardInterrupt):
            # Keep what was taken so far: a prefix of the plan, so watermarks stay right.
            self._commit(batch)
            raise
        self._commit(batch)

    def _count_rejected(self, rejected: dict[str, int]) -> None:
        for reason, count in rejected.items():
            self.result.rejected_by_reason[reason] += count
            self.result.rejected += count

    def _fetch(self, chunk: Chunk) -> tuple[Chunk, pa.Table, dict[str, int]]:
        """Runs in a worker thread: fetch, decode, keep the finite samples of the chunk."""
        target = self._targets[chunk.series]
        what = f"series {target.name}"
        if self.settings.read_api == "remote_read":
            found = self.api.read_series(target.metric, chunk.start_ms + 1, chunk.end_ms, what)
            found = [(t, v) for metric, t, v in found if metric == target.metric]
        else:
            span = max(chunk.end_ms - chunk.start_ms - 1, 1)  # [start + 1ms, end]
            body = self.api.get_matrix(f"{target.exact}[{span}ms]", chunk.end_ms, what)
            found = [
                (np.rint(t * 1000).astype(np.int64), v)
                for metric, t, v in decode_matrix(body)
                if metric == target.metric
            ]
        stamps_ms, values = found[0] if found else (np.empty(0, np.int64), np.empty(0))
        return chunk, *self._table(target, chunk, stamps_ms, values)

    def _table(
        self, target: Target, chunk: Chunk, stamps_ms: np.ndarray, values: np.ndarray
    ) -> tuple[pa.Table, dict[str, int]]:
        inside = (stamps_ms > chunk.start_ms) & (stamps_ms <= chunk.end_ms)
        stamps_ms, values = stamps_ms[inside], values[inside]
        finite = np.isfinite(values)
        stale = stale_markers(values)
        rejected = {
            "stale_marker": int(stale.sum()),
            "nan": int((np.isnan(values) & ~stale).sum()),
            "infinite": int(np.isinf(values).sum()),
        }
        return _samples_table(target, stamps_ms[finite], values[finite]), rejected

    def _commit(self, batch: list[pa.Table]) -> None:
        if not batch:
            return
        started = time.perf_counter()
        table = pa.concat_tables(batch)
        new = self.lake.append_arrow(table, only_new=self.since_ms is None)
        for part in batch:
            series = part.column("series")[0].as_py()
            last = part.column("timestamp")[-1].value // 1000
            self.newest[series] = max(self.newest.get(series, last), last)
        self.result.samples += table.num_rows
        self.result.new_samples += new
        self.batch_rows = 0
        batch.clear()
        log.info(
            "lake commit: %d samples, %d new, %.2fs",
            table.num_rows,
            new,
            time.perf_counter() - started,
        )


def _samples_table(target: Target, stamps_ms: np.ndarray, values: np.ndarray) -> pa.Table:
    count = len(values)
    labels = json.dumps(_without_name_dict(target.metric), separators=(",", ":"))

    def repeated(value, name: str) -> pa.Array:
        return pa.repeat(pa.scalar(value, SCHEMA.field(name).type), count)

    columns = [
        repeated(bucket_of(target.name), "bucket"),
        repeated(target.name, "series"),
        pa.array(stamps_ms * 1000, SCHEMA.field("timestamp").type),
        repeated(labels, "labels"),
        repeated(target.kind, "kind"),
        pa.array(values, pa.float64()),
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMA)


def _without_name(metric: dict[str, str]) -> frozenset:
    return frozenset((k, v) for k, v in metric.items() if k != "__name__")


def _without_name_dict(metric: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in sorted(metric.items()) if k != "__name__"}


def _ms(moment: datetime | pd.Timestamp) -> int:
    """Milliseconds since the epoch; a time without a zone is taken as UTC."""
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return round(stamp.timestamp() * 1000)


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return pd.Timestamp(ms, unit="ms", tz="UTC").isoformat().replace("+00:00", "Z")
