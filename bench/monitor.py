"""Benchmarks of `slopipe monitor` and `slopipe serve`, with the real parts running.

    python bench/monitor.py delay [--incidents 5]     detection delay, sample to webhook
    python bench/monitor.py cycle [--series 1000]     cycle time against a live Prometheus
    python bench/monitor.py serve [--seconds 10]      slopipe serve beside mlflow models serve
    python bench/monitor.py scoring [--series 1000]   a steady cycle's scoring, warm and cold

Each prints one JSON object on stdout. Not a test: compare ratios, not absolute times,
across machines; on a shared 2-core machine the figures move by tens of percent.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]
os.environ.setdefault("PYTHONPATH", str(REPO / "src"))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def delay(incidents: int) -> dict:
    """Fail every request from t0; the delay is t0 to the page seen at the webhook."""
    from tests.fixtures.prom_live import alertmanager, exporter, prometheus, wait_for
    from tests.monitor.live import firing, new_monitor, resolved

    delays = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        app = stack.enter_context(exporter())
        prom = stack.enter_context(prometheus(folder / "prometheus", app.url))
        am = stack.enter_context(alertmanager(folder / "alertmanager"))
        monitor = new_monitor(folder / "home", prom, am)
        stack.callback(monitor.stop)
        monitor.start()
        for i in range(incidents):
            time.sleep(10)
            t0 = time.time()
            app.error_ratio = 1.0
            wait_for(lambda n=i: len(firing(am, "SLOBurnRate")) > n, 120, "page", every=0.05)
            delays.append(time.time() - t0)
            app.error_ratio = 0.0
            wait_for(lambda n=i: len(resolved(am, "SLOBurnRate")) > n, 300, "resolved")
    return {
        "incidents": incidents,
        "detection_delay_seconds": {
            "median": round(statistics.median(delays), 2),
            "p95": round(percentile(delays, 0.95), 2),
            "all": [round(d, 2) for d in delays],
        },
        "note": "includes the page tier's own wait: the burn rate must reach 14.4",
    }


def cycle(series: int, cycles: int) -> dict:
    """Monitor cycles in-process against a live Prometheus scraping `series` gauges."""
    from http.server import ThreadingHTTPServer

    import numpy as np
    import pandas as pd
    from prometheus_client import CollectorRegistry, Gauge
    from prometheus_client.exposition import MetricsHandler
    from tests.fixtures.prom_live import prometheus

    from slopipe.collect.samples import make_frame
    from slopipe.config import load_settings
    from slopipe.detect.model import AnomalyModel, prepared_rows
    from slopipe.detect.streaming import StreamingConfig
    from slopipe.lake import Lake
    from slopipe.monitor.cycle import Monitor
    from slopipe.pipeline import example_rows
    from slopipe.registry.mlflow_registry import Registry

    registry = CollectorRegistry()
    gauge = Gauge("bench_value", "A value", ["i"], registry=registry)
    rng = np.random.default_rng(0)
    stop = threading.Event()

    def tick():
        while not stop.wait(0.5):
            for i in range(series):
                gauge.labels(i=str(i)).set(rng.normal())

    tick_thread = threading.Thread(target=tick, daemon=True)
    tick_thread.start()
    server = ThreadingHTTPServer(("127.0.0.1", 0), MetricsHandler.factory(registry))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    durations = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        target = f"127.0.0.1:{server.server_address[1]}"
        with prometheus(folder / "prometheus", target) as prom:
            settings = load_settings(None, home=folder / "home")
            settings.prometheus.url, settings.prometheus.step_seconds = prom.url, 1
            settings.prometheus.selectors = ["bench_value"]
            settings.monitor.collect_span_seconds = 30
            settings.monitor.retrain = False
            settings.home.mkdir(parents=True)
            # Ten minutes of 1 s history of every gauge, as the collector names them, in
            # the lake, and a champion with a forest for each (50 trees: fitting 1,000
            # forests of 300 takes minutes here).
            end = pd.Timestamp.now(tz="UTC").floor("s") - pd.Timedelta(seconds=2)
            times = pd.date_range(end=end, periods=600, freq="1s")
            history = pd.concat(
                [
                    make_frame(
                        times,
                        np.random.default_rng(i).normal(size=len(times)),
                        f'bench_value{{i="{i}",job="app"}}',
                        "gauge",
                        {"i": str(i), "job": "app"},
                    )
                    for i in range(series)
                ],
                ignore_index=True,
            )
            Lake(settings.lake_path).append(history)
            reg = Registry(settings)
            model = AnomalyModel(StreamingConfig(n_trees=50)).fit(prepared_rows(history))
            version = reg.log_candidate(model, {}, {}, example_rows(history)).version
            reg.promote(version, "bench")
            monitor = Monitor(settings)
            for _ in range(cycles + 2):
                report = monitor.cycle()
                durations.append(report.duration_seconds)
                time.sleep(1)
    stop.set()
    server.shutdown()
    steady = durations[2:]
    return {
        "series": series,
        "cycles": len(steady),
        "cycle_seconds": {
            "median": round(statistics.median(steady), 2),
            "max": round(max(steady), 2),
        },
        "first_cycle_seconds": round(durations[0], 2),
        "scored_last_cycle": report.scored,
    }


def serve(seconds: float, concurrency: int) -> dict:
    """Requests per second and p99 latency of both servers on the same champion."""
    import pandas as pd
    from tests.fixtures.prom_live import latency_history
    from tests.fixtures.services import free_port, process_group, wait_until_ready

    from slopipe.config import load_settings
    from slopipe.detect.model import AnomalyModel, prepared_rows
    from slopipe.detect.streaming import StreamingConfig
    from slopipe.pipeline import example_rows
    from slopipe.registry.mlflow_registry import Registry

    venv = Path(sys.executable).parent
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        settings = load_settings(None, home=folder / "home")
        settings.home.mkdir(parents=True)
        history = latency_history(pd.Timestamp("2024-01-01", tz="UTC"), hours=1.1)
        reg = Registry(settings)
        model = AnomalyModel(StreamingConfig(n_trees=50)).fit(prepared_rows(history))
        reg.promote(reg.log_candidate(model, {}, {}, example_rows(history)).version, "bench")
        request = history.tail(120).assign(
            timestamp=lambda f: f["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        )[["timestamp", "series", "value"]]
        env = {**os.environ, "SLOPIPE_HOME": str(settings.home)}
        env["MLFLOW_TRACKING_URI"] = settings.tracking_uri
        env["PATH"] = f"{venv}:{env['PATH']}"
        servers = {
            "slopipe serve": (
                [sys.executable, "-m", "slopipe.cli.main", "serve", "--port"],
                "/healthz",
                "/score",
                {"samples": request.to_dict("records")},
            ),
            "mlflow models serve": (
                [
                    str(venv / "mlflow"),
                    "models",
                    "serve",
                    "-m",
                    "models:/slopipe-anomaly@champion",
                    "--env-manager",
                    "local",
                    "-h",
                    "127.0.0.1",
                    "-p",
                ],
                "/ping",
                "/invocations",
                {"dataframe_split": request.to_dict("split")},
            ),
        }
        for name, (args, ready, path, body) in servers.items():
            port = free_port()
            with process_group([*args, str(port)], folder / f"{port}.log", env=env) as proc:
                url = f"http://127.0.0.1:{port}"
                wait_until_ready(url + ready, proc, timeout_seconds=180)
                results[name] = _load(url + path, body, seconds, concurrency)
    return {"request_samples": len(request), "concurrency": concurrency, **results}


def _load(url: str, body: dict, seconds: float, concurrency: int) -> dict:
    import httpx

    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds

    def worker():
        nonlocal failures
        with httpx.Client(timeout=30) as client:
            client.post(url, json=body)  # warm up
            while time.monotonic() < deadline:
                began = time.perf_counter()
                answer = client.post(url, json=body)
                latencies.append(time.perf_counter() - began)
                failures += answer.status_code != 200

    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(worker)
    return {
        "requests_per_second": round(len(latencies) / seconds, 1),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
        "median_ms": round(1000 * statistics.median(latencies), 1),
        "failures": failures,
    }


def scoring(series: int, cycles: int) -> dict:
    """The scoring step of steady cycles: `series` series of 1-minute gauges with the model's
    whole history window in the lake; each cycle appends one minute to every series and
    scores it, with a model that remembers its last window (as a monitor's champion does)
    and with a fresh copy (as every cycle did before), in the same run."""
    import pickle

    import numpy as np
    import pandas as pd

    from slopipe.collect.samples import make_frame
    from slopipe.detect.model import AnomalyModel, prepared_rows
    from slopipe.lake import Lake
    from slopipe.monitor.scoring import score_new
    from slopipe.slo.store import SloStore

    rng = np.random.default_rng(0)
    minutes = 4 * 1440  # the history window (a day and 2,028 rows) and two days of training
    times = pd.date_range("2026-01-01", periods=minutes + cycles, freq="1min", tz="UTC")
    daily = 10 * np.sin(2 * np.pi * np.arange(len(times)) / 1440)
    names = [f"bench_{i:04d}" for i in range(series)]
    values = {n: 50 + daily + rng.normal(0, 2, len(times)) for n in names}
    frame = lambda rows: pd.concat(  # noqa: E731
        [make_frame(times[rows], values[n][rows], n) for n in names], ignore_index=True
    )
    timings: dict[str, list[float]] = {"warm": [], "fresh": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        history = frame(slice(0, minutes))
        model = AnomalyModel().fit(prepared_rows(history))
        blob = pickle.dumps(model)
        for mode in timings:
            lake = Lake(folder / mode / "lake")
            lake.append(history)
            store = SloStore(f"sqlite:///{folder / mode / 'slo.db'}")
            scorer = pickle.loads(blob)
            start = {n: times[minutes - 2].to_pydatetime() for n in names}
            score_new(lake, store, scorer, "1", start)  # the first cycle fills the memory
            for c in range(cycles):
                lake.append(frame(slice(minutes + c, minutes + c + 1)))
                if mode == "fresh":
                    scorer = pickle.loads(blob)
                began = time.perf_counter()
                result = score_new(lake, store, scorer, "1", start)
                timings[mode].append(time.perf_counter() - began)
                assert result.scored == series, result
    return {
        "series": series,
        "rows_per_series_in_window": int(model.history(names[0]) / pd.Timedelta(minutes=1)),
        "cycles": cycles,
        **{f"{mode}_seconds_median": round(statistics.median(t), 2) for mode, t in timings.items()},
        "speedup": round(
            statistics.median(timings["fresh"]) / statistics.median(timings["warm"]), 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("delay").add_argument("--incidents", type=int, default=5)
    one = sub.add_parser("cycle")
    one.add_argument("--series", type=int, default=1000)
    one.add_argument("--cycles", type=int, default=5)
    three = sub.add_parser("scoring")
    three.add_argument("--series", type=int, default=1000)
    three.add_argument("--cycles", type=int, default=3)
    two = sub.add_parser("serve")
    two.add_argument("--seconds", type=float, default=10)
    two.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    if args.what == "delay":
        result = delay(args.incidents)
    elif args.what == "cycle":
        result = cycle(args.series, args.cycles)
    elif args.what == "scoring":
        result = scoring(args.series, args.cycles)
    else:
        result = serve(args.seconds, args.concurrency)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
