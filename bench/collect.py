"""Benchmark: collecting the shared NAB series from a backfilled Prometheus, and reading back.

Run: `.venv/bin/python bench/collect.py [--repeat 5]` (needs prometheus and promtool).

Side by side, in the same run and against the same Prometheus, for each way of reading raw
samples (`read_api`: `remote_read`, the default, and `query`):

- slopipe: `collect_into` end to end into a fresh lake (discovery, planning, fetching,
  decoding, one Delta commit), samples per second;
- bare client: the very same HTTP requests, recorded from slopipe's run, replayed by a plain
  httpx client with the same parallelism that only downloads and decodes the answers (JSON
  with `json`; remote read with snappy and the protobuf runtime, counting the samples of the
  parsed message): the physical limit of this machine for that work. The goal is slopipe at
  0.7 of it or better.
- lake scan: rows per second reading one series back with `Lake.read`, beside pyarrow
  reading the same Parquet files directly with the same filter;
- peak memory (VmHWM) of a `slopipe collect` process doing the same collection.

Runs alternate (slopipe, bare, slopipe, ...) so that load from elsewhere hits both alike; the
median of each is reported. Results go to stdout and bench/out/collect.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cramjam
import httpx
import pyarrow.dataset as ds
from deltalake import DeltaTable

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from fixtures.prometheus import (  # noqa: E402
    PrometheusServer,
    create_blocks,
    nab_files,
    read_nab_csv,
    write_openmetrics,
)
from slopipe.collect import remote_read  # noqa: E402
from slopipe.collect.raw import collect_into  # noqa: E402
from slopipe.config import PrometheusSettings  # noqa: E402
from slopipe.lake import Lake  # noqa: E402
from slopipe.lake.table import bucket_of  # noqa: E402

LOOKBACK_DAYS = 20 * 365


class Recorder(httpx.HTTPTransport):
    """A transport that notes every request it sends: (method, URL, body)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str, bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, str(request.url), request.read()))
        return super().handle_request(request)


def start_prometheus(folder: Path) -> PrometheusServer:
    files = nab_files()
    write_openmetrics(
        folder / "nab.om",
        {"nab_value": ("gauge", [(f.labels, read_nab_csv(f.path)) for f in files])},
    )
    server = PrometheusServer(folder / "prometheus")
    create_blocks(folder / "nab.om", server.data_dir)
    return server.start()


class TimedLake(Lake):
    """A lake that notes how long its commits take: the part of a run no client does."""

    commit_seconds = 0.0

    def append_arrow(self, table, only_new: bool) -> int:
        started = time.perf_counter()
        try:
            return super().append_arrow(table, only_new)
        finally:
            self.commit_seconds += time.perf_counter() - started


def run_slopipe(settings: PrometheusSettings, folder: Path, transport=None):
    """(seconds, samples, seconds of them in Delta commits) of one collection."""
    lake = TimedLake(Path(tempfile.mkdtemp(dir=folder)) / "lake")
    started = time.perf_counter()
    result = collect_into(lake, settings, transport=transport)
    return time.perf_counter() - started, result.samples, lake.commit_seconds


def run_bare(requests: list[tuple[str, str, bytes]], parallel: int) -> tuple[float, int]:
    """Download and decode the same answers; count the samples in them."""
    read_response = remote_read._classes()["ReadResponse"]  # the message type, no more
    read_headers = {**remote_read.HEADERS, "Accept": "application/x-protobuf"}

    def fetch(client: httpx.Client, method: str, url: str, body: bytes) -> int:
        if method == "POST":
            answer = client.post(url, content=body, headers=read_headers).content
            message = read_response.FromString(bytes(cramjam.snappy.decompress_raw(answer)))
            return sum(len(s.samples) for r in message.results for s in r.timeseries)
        data = client.get(url).json()["data"]
        result = data.get("result", []) if isinstance(data, dict) else []
        return sum(len(r.get("values", ())) for r in result)

    started = time.perf_counter()
    # verify=False as slopipe does for plain HTTP: no CA bundle to load.
    with httpx.Client(timeout=60, verify=False) as client, ThreadPoolExecutor(parallel) as pool:
        samples = sum(pool.map(lambda request: fetch(client, *request), requests))
    return time.perf_counter() - started, samples


def compare(settings: PrometheusSettings, folder: Path, repeat: int) -> dict:
    """slopipe and the bare client, alternating, on the requests of one `read_api`."""
    recorder = Recorder()
    run_slopipe(settings, folder, recorder)  # warm-up, and the requests to replay
    slopipe_runs, bare_runs = [], []
    for _ in range(repeat):
        slopipe_runs.append(run_slopipe(settings, folder))
        bare_runs.append(run_bare(recorder.requests, settings.parallel))
    samples = slopipe_runs[0][1]
    assert all(n == samples for _, n, _ in slopipe_runs), "runs collected different samples"
    assert all(n == samples for _, n in bare_runs), "the bare client saw other samples"
    slopipe_rate = samples / statistics.median(t for t, _, _ in slopipe_runs)
    bare_rate = samples / statistics.median(t for t, _ in bare_runs)
    return {
        "samples": samples,
        "requests": len(recorder.requests),
        "slopipe_samples_per_s": round(slopipe_rate),
        "bare_client_samples_per_s": round(bare_rate),
        "ratio": round(slopipe_rate / bare_rate, 3),
        "slopipe_seconds": [round(t, 3) for t, _, _ in slopipe_runs],
        "slopipe_commit_seconds": [round(c, 3) for _, _, c in slopipe_runs],
        "bare_client_seconds": [round(t, 3) for t, _ in bare_runs],
    }


def scan_speeds(lake: Lake, series: str, repeat: int) -> dict:
    """Rows per second reading one series: Lake.read beside pyarrow on the same files.

    pyarrow reads the table's current Parquet files with the same filter, once all of them
    and once only the files of the series' bucket (the ones Lake.read opens).
    """
    files = [u.removeprefix("file://") for u in DeltaTable(lake.path).file_uris()]
    in_bucket = [f for f in files if f"/bucket={bucket_of(series)}/" in f]

    def with_pyarrow(paths: list[str]):
        def read() -> int:
            dataset = ds.dataset(paths, format="parquet")
            return dataset.to_table(filter=ds.field("series") == series).num_rows

        return read

    readers = {
        "slopipe": lambda: len(lake.read(series)),
        "pyarrow_all_files": with_pyarrow(files),
        "pyarrow_bucket_files": with_pyarrow(in_bucket),
    }
    timings: dict[str, list[float]] = {name: [] for name in readers}
    rows = len(lake.read(series))
    for _ in range(repeat):
        for name, read in readers.items():
            started = time.perf_counter()
            assert read() == rows
            timings[name].append(time.perf_counter() - started)
    speeds = {f"{k}_rows_per_s": round(rows / statistics.median(v)) for k, v in timings.items()}
    return {"series": series, "rows": rows, "files": len(files), **speeds}


def peak_memory(url: str, folder: Path, read_api: str) -> int:
    """Peak RSS in bytes of a `slopipe collect` process collecting every NAB series."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLOPIPE_")}
    env |= {
        "PYTHONPATH": str(ROOT / "src"),
        "SLOPIPE_HOME": str(folder / f"memory-home-{read_api}"),
        "SLOPIPE_PROMETHEUS__LOOKBACK_DAYS": str(LOOKBACK_DAYS),
        "SLOPIPE_PROMETHEUS__READ_API": read_api,
    }
    # VmHWM, not ru_maxrss: the latter keeps the parent's size across fork and exec.
    script = (
        "from slopipe.cli.main import app\n"
        "try: app()\n"
        "finally: print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
    )
    command = [sys.executable, "-c", script, "-q", "collect", "--url", url]
    command += ["--selector", "nab_value", "--json"]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return int(done.stdout.split()[-1]) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="slopipe-bench-"))
    server = start_prometheus(folder)
    try:
        settings = PrometheusSettings(
            url=server.url, selectors=["nab_value"], lookback_days=LOOKBACK_DAYS
        )
        paths = {
            read_api: compare(
                settings.model_copy(update={"read_api": read_api}), folder, args.repeat
            )
            for read_api in ("remote_read", "query")
        }
        lake = Lake(Path(tempfile.mkdtemp(dir=folder)) / "lake")
        collect_into(lake, settings)
        biggest = lake.read().groupby("series").size().idxmax()
        report = {
            "parallel": settings.parallel,
            "repeat": args.repeat,
            **paths,
            "scan": scan_speeds(lake, biggest, args.repeat),
            "peak_rss_bytes": {api: peak_memory(server.url, folder, api) for api in paths},
            "load_average": os.getloadavg(),
        }
    finally:
        server.stop()
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "collect.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
