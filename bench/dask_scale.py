"""Benchmark of per-series detection in-process and on a local Dask cluster of 2 workers.

Synthetic series of 14 days at 5-minute steps (daily cycle, noise, one level shift each) are
written to a temporary lake, then scored by `slopipe.detect.batch.detect_all` twice in one
run: in this process, and on a LocalCluster of worker processes. Prints wall time, series
per second and peak resident memory (this process, and each worker), then an estimate of
the workers needed for one million series retrained daily, from the measured rate.

The issue's figure is 10,000 series; on this 2-core machine that takes hours per mode, so
the default measures fewer (`--series`) and extrapolates linearly: each series is an
independent task, so the work is proportional to the number of series.

With `--slos N` it times SLO evaluation instead: N ratio SLOs (7-day window, each over its
own requests and errors counters of 14 days at 5-minute steps) evaluated by
`slopipe.slo.stage.evaluate_store` in-process and on the cluster, and checks that both give
the same statuses.

    python bench/dask_scale.py [--series 200] [--workers 2] [--json]
    python bench/dask_scale.py --slos 200 [--workers 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from slopipe.collect.samples import make_frame
from slopipe.config import PrometheusSettings
from slopipe.detect.batch import detect_all
from slopipe.lake import Lake
from slopipe.lake.scores import ScoreTable
from slopipe.scale import Runner
from slopipe.slo.sources import Sources
from slopipe.slo.stage import evaluate_store
from slopipe.slo.store import SloStore

ROWS = 14 * 288
DAY_SECONDS = 86_400


def synthetic(count: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2026-01-01", periods=ROWS, freq="5min", tz="UTC")
    cycle = np.sin(2 * np.pi * np.arange(ROWS) / 288)
    frames = []
    for i in range(count):
        values = 50 + 10 * cycle + rng.normal(0, 2, ROWS)
        shift = int(rng.integers(ROWS // 2, ROWS - 100))
        values[shift:] += rng.choice([-1, 1]) * 15
        frames.append(make_frame(times, values, f"synthetic_{i:05d}"))
    return pd.concat(frames, ignore_index=True)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(lake: Lake, scores: Path, runner: Runner) -> tuple[float, int]:
    started = time.perf_counter()
    report = detect_all(lake, ScoreTable(scores), runner)
    return time.perf_counter() - started, report.series


def slo_counters(count: int, seed: int = 0) -> pd.DataFrame:
    """Requests and errors counters of `count` services: 14 days at 5-minute steps."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2026-01-01", periods=ROWS, freq="5min", tz="UTC")
    frames = []
    for i in range(count):
        requests = rng.poisson(5000, ROWS).astype(float)
        errors = rng.poisson(2 + i % 7, ROWS).astype(float)
        frames.append(make_frame(times, np.cumsum(requests), f"svc{i:04d}_requests", "counter"))
        frames.append(make_frame(times, np.cumsum(errors), f"svc{i:04d}_errors", "counter"))
    return pd.concat(frames, ignore_index=True)


def slo_document(i: int) -> dict:
    source = lambda s: {"metricSource": {"type": "lake", "spec": {"series": s}}}  # noqa: E731
    ratio = {"bad": source(f"svc{i:04d}_errors"), "total": source(f"svc{i:04d}_requests")}
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": f"svc{i:04d}-availability"},
        "spec": {
            "service": f"svc{i:04d}",
            "indicator": {"spec": {"ratioMetric": ratio}},
            "timeWindow": [{"duration": "7d", "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"target": 0.999}],
        },
    }


def slo_benchmark(count: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        lake = Lake(Path(folder) / "lake")
        lake.append(slo_counters(count))
        store = SloStore(f"sqlite:///{Path(folder) / 'slo.db'}")
        store.apply([(f"svc{i:04d}-availability", slo_document(i)) for i in range(count)], "b", "")
        sources = Sources(lake, PrometheusSettings())
        timings, results = {}, {}
        for mode, runner in (("in_process", Runner()), ("cluster", Runner(workers=workers))):
            with runner:
                # A few SLOs first, untimed: imports and the first table load per worker.
                warm = [f"svc{i:04d}-availability" for i in range(4 * runner.parallelism)]
                evaluate_store(
                    store, sources, sources.window_end, names=warm, record=False, runner=runner
                )
                started = time.perf_counter()
                results[mode] = evaluate_store(store, sources, sources.window_end, runner=runner)
                timings[mode] = time.perf_counter() - started
                tasks = len(runner.batches(list(range(count))))
    same = [s.as_dict() for s in results["in_process"].statuses] == [
        s.as_dict() for s in results["cluster"].statuses
    ]
    return {
        "slos": len(results["cluster"].evaluated),
        "failed": len(results["cluster"].failed),
        "rows_per_series": ROWS,
        "workers": workers,
        "cluster_tasks": tasks,
        "in_process_seconds": timings["in_process"],
        "cluster_seconds": timings["cluster"],
        "speedup": timings["in_process"] / timings["cluster"],
        "same_statuses": same,
    }


def print_slo(result: dict) -> None:
    print(f"{result['slos']} SLOs (7d windows over {result['rows_per_series']}-row counters)")
    print(f"in-process:  {result['in_process_seconds']:8.1f} s")
    print(
        f"{result['workers']} workers:   {result['cluster_seconds']:8.1f} s in "
        f"{result['cluster_tasks']} tasks (speed-up {result['speedup']:.2f}x), "
        f"same statuses: {result['same_statuses']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--slos", type=int, help="time SLO evaluation of this many SLOs instead")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.slos:
        result = slo_benchmark(args.slos, args.workers)
        return print(json.dumps(result, indent=2)) if args.json else print_slo(result)
    with tempfile.TemporaryDirectory() as folder:
        lake = Lake(Path(folder) / "lake")
        lake.append(synthetic(args.series))
        with Runner() as runner:
            local_seconds, done = timed(lake, Path(folder) / "s1", runner)
        local_peak = peak_rss_mib()
        with Runner(workers=args.workers) as runner:
            cluster_seconds, _ = timed(lake, Path(folder) / "s2", runner)
            worker_peaks = sorted(runner.client.run(peak_rss_mib).values())
    per_series = cluster_seconds * args.workers / done  # worker-seconds per series
    result = {
        "series": done,
        "rows_per_series": ROWS,
        "in_process_seconds": local_seconds,
        "cluster_seconds": cluster_seconds,
        "workers": args.workers,
        "speedup": local_seconds / cluster_seconds,
        "in_process_peak_rss_mib": local_peak,
        "worker_peak_rss_mib": worker_peaks,
        "worker_seconds_per_series": per_series,
        "estimate_10k_series_cluster_hours": 10_000 * per_series / args.workers / 3600,
        "estimate_workers_for_1m_series_daily": 1_000_000 * per_series / DAY_SECONDS,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{done} series x {ROWS} rows")
    print(f"in-process:           {local_seconds:8.1f} s  ({done / local_seconds:.2f} series/s)")
    print(
        f"{args.workers} workers:            {cluster_seconds:8.1f} s  "
        f"({done / cluster_seconds:.2f} series/s, speed-up {result['speedup']:.2f}x)"
    )
    print(
        f"peak memory: this process {local_peak:.0f} MiB; workers "
        + ", ".join(f"{p:.0f} MiB" for p in worker_peaks)
    )
    print(f"one series costs {per_series:.2f} worker-seconds;")
    print(
        f"10,000 series on {args.workers} workers: about "
        f"{result['estimate_10k_series_cluster_hours']:.1f} h"
    )
    print(
        f"1,000,000 series retrained daily: about "
        f"{result['estimate_workers_for_1m_series_daily']:.0f} busy worker cores "
        "(before scheduling overhead and headroom)"
    )


if __name__ == "__main__":
    main()
