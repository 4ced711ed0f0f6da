"""Planning the requests of a collection. Pure: no I/O.

A series' range `(start_ms, end_ms]` is cut into count windows of equal width. Prometheus
counts the samples of each window (`count_over_time(sel[W])` evaluated at each window's end,
one `query_range`); the counts decide the chunks: consecutive windows are merged while their
samples stay within the budget, empty windows are skipped, and a window holding more than the
budget is handed to `dense` (the collector counts it again in finer windows) or, without
`dense`, split evenly. Every chunk is fetched with one request, so no answer holds much more
than `budget` samples.

Counts are estimates (Prometheus 2 range selectors are closed at both ends, so a sample on a
window boundary is counted twice); chunks are exact: `(start_ms, end_ms]`, every millisecond
of the range in exactly one chunk or in a window counted empty.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_WINDOWS = 1000
MIN_WINDOW_MS = 1000


@dataclass(frozen=True)
class Grid:
    """Count windows: window i ends at `start_ms + i * window_ms`, i = 1..windows."""

    start_ms: int
    window_ms: int
    windows: int

    @property
    def first_end_ms(self) -> int:
        return self.start_ms + self.window_ms

    @property
    def last_end_ms(self) -> int:
        return self.start_ms + self.windows * self.window_ms

    def ends(self) -> range:
        return range(self.first_end_ms, self.last_end_ms + 1, self.window_ms)


@dataclass(frozen=True)
class Chunk:
    """One request's worth of a series: samples with start_ms < t <= end_ms."""

    series: str
    start_ms: int
    end_ms: int
    estimate: int


def grid_for(start_ms: int, end_ms: int, max_windows: int = MAX_WINDOWS) -> Grid:
    """Windows of whole seconds covering (start_ms, end_ms], at most `max_windows` of them."""
    span = max(end_ms - start_ms, 1)
    window = max(math.ceil(span / max_windows / 1000) * 1000, MIN_WINDOW_MS)
    return Grid(start_ms, window, math.ceil(span / window))


def plan_chunks(
    series: str,
    start_ms: int,
    end_ms: int,
    grid: Grid,
    counts: Mapping[int, int],
    budget: int,
    dense: Callable[[int, int, int], list[Chunk]] | None = None,
) -> list[Chunk]:
    """Chunks of `(start_ms, end_ms]` from per-window counts keyed by window end.

    `dense(low, high, count)` plans a window `(low, high]` holding more than `budget`.
    """
    chunks: list[Chunk] = []
    open_start, open_end, open_count = None, None, 0
    for window_end in grid.ends():
        low, high = max(window_end - grid.window_ms, start_ms), min(window_end, end_ms)
        count = counts.get(window_end, 0)
        if high <= low or count == 0:
            continue
        if count > budget:
            if open_start is not None:
                chunks.append(Chunk(series, open_start, open_end, open_count))
                open_start = None
            chunks.extend(
                dense(low, high, count) if dense else _split(series, low, high, count, budget)
            )
            continue
        if open_start is not None and open_count + count > budget:
            chunks.append(Chunk(series, open_start, open_end, open_count))
            open_start = None
        if open_start is None:
            open_start, open_count = low, 0
        open_end, open_count = high, open_count + count
    if open_start is not None:
        chunks.append(Chunk(series, open_start, open_end, open_count))
    return chunks


def _split(series: str, low: int, high: int, count: int, budget: int) -> list[Chunk]:
    parts = math.ceil(count / budget)
    edges = [low + (high - low) * i // parts for i in range(parts + 1)]
    return [
        Chunk(series, a, b, math.ceil(count / parts))
        for a, b in zip(edges[:-1], edges[1:], strict=True)
        if b > a
    ]
