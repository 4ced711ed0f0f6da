"""Running one function over many items, in this process or as Dask tasks.

slopipe fans its heavy work (per-series detection, NAB evaluation, SLO evaluation) out with
`Runner.map`. Without configuration it runs in-process. `scheduler` (or
`SLOPIPE_DASK_SCHEDULER`) sends the tasks to an existing `dask.distributed` cluster;
`workers=N` starts a local cluster of N worker processes for the run.

Failures: an item whose task raises a `SlopipeError` or a `ValueError` (a data reason) comes
back as a failed `Outcome` with the reason, and the others go on. A worker that dies is
Dask's to handle: its tasks are re-run elsewhere (`retries`), so tasks must be idempotent;
slopipe's lake writes are.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from slopipe.errors import ConfigError, SlopipeError

log = logging.getLogger(__name__)

DATA_ERRORS = (SlopipeError, ValueError)


@dataclass(frozen=True)
class Outcome:
    item: Any
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def guarded(fn: Callable[[Any], Any]) -> Callable[[Any], Outcome]:
    """`fn` that returns an Outcome instead of raising for data errors."""

    def run(item: Any) -> Outcome:
        try:
            return Outcome(item, fn(item))
        except DATA_ERRORS as error:
            # slopipe's own messages are written for people; a library's needs its kind
            said = str(error) if isinstance(error, SlopipeError) else None
            return Outcome(item, error=said or f"{type(error).__name__}: {error}")

    run.__name__ = getattr(fn, "__name__", "task")
    return run


class Runner:
    """Maps a function over items in-process or on Dask; use as a context manager."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None, retries: int = 3):
        self.scheduler, self.workers, self.retries = scheduler, workers, retries
        self.client = None
        self.cluster = None

    @property
    def distributed(self) -> bool:
        return bool(self.scheduler or self.workers)

    @property
    def parallelism(self) -> int:
        """Tasks that can run at once: the cluster's worker threads, 1 in-process."""
        if self.client is None:
            return 1
        return max(1, sum(self.client.nthreads().values()))

    def batches(self, items: list, per_thread: int = 4, most: int = 32) -> list[list]:
        """`items` cut into about `per_thread` batches per worker thread, at most `most`
        items each: enough tasks to balance the load, few enough to keep overhead small."""
        size = max(1, min(most, math.ceil(len(items) / (per_thread * self.parallelism))))
        return [items[i : i + size] for i in range(0, len(items), size)]

    def __enter__(self) -> Runner:
        if self.distributed:
            self._connect()
        return self

    def _connect(self) -> None:
        from dask.distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self.client = Client(self.scheduler)
            except (OSError, TimeoutError) as error:
                raise ConfigError(
                    f"dask scheduler {self.scheduler}: cannot connect ({type(error).__name__}: "
                    f"{error}); check --scheduler or SLOPIPE_DASK_SCHEDULER"
                ) from None
        else:
            self.cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                host="127.0.0.1",
            )
            self.client = Client(self.cluster)
        log.info("dask: %s", self.client)

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        on_done: Callable[[Outcome], None] = lambda outcome: None,
    ) -> list[Outcome]:
        """Run `fn` on every item; outcomes come back in the order of `items`."""
        items = list(items)
        task = guarded(fn)
        if self.client is None:
            outcomes = []
            for item in items:
                outcomes.append(task(item))
                on_done(outcomes[-1])
            return outcomes
        return self._map_dask(task, items, on_done)

    def _map_dask(self, task, items: list, on_done) -> list[Outcome]:
        from dask.distributed import as_completed

        futures = self.client.map(task, items, retries=self.retries, pure=False)
        order = {future.key: i for i, future in enumerate(futures)}
        outcomes: list[Outcome | None] = [None] * len(items)
        for future in as_completed(futures):
            outcome = future.result()
            outcomes[order[future.key]] = outcome
            on_done(outcome)
        return outcomes
