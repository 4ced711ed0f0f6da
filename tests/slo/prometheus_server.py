"""A real Prometheus on loopback, started over backfilled blocks, for the SLO tests."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def backfill(openmetrics: str, folder: Path) -> Path:
    """Write `openmetrics` into TSDB blocks under `folder/data` with promtool."""
    data = folder / "data"
    source = folder / "samples.om"
    source.write_text(openmetrics)
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return data


@contextmanager
def running(data: Path, folder: Path) -> Iterator[httpx.Client]:
    """Prometheus on a free loopback port over the blocks in `data`; yields a client."""
    config = folder / "prometheus.yml"
    config.write_text("global:\n  evaluation_interval: 1m\n")
    port = free_port()
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=100y",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        _wait_ready(client, process)
        yield client
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def prometheus_over(openmetrics: str, folder: Path) -> Iterator[httpx.Client]:
    """Backfill `openmetrics`, then run Prometheus over it."""
    with running(backfill(openmetrics, folder), folder) as client:
        yield client


def backfill_rules(client: httpx.Client, rules: Path, start: float, end: float, data: Path) -> None:
    """Evaluate recording rules over a past range (`promtool tsdb create-blocks-from
    rules`) into `data`; a Prometheus restarted on `data` then serves them."""
    subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "rules",
            f"--url={client.base_url}",
            f"--start={int(start)}",
            f"--end={int(end)}",
            f"--output-dir={data}",
            "--quiet",
            str(rules),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )


def _wait_ready(client: httpx.Client, process: subprocess.Popen) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}")
        try:
            if client.get("/-/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("prometheus not ready after 10 s")


def instant(client: httpx.Client, query: str, at: float) -> float | None:
    """The single value of an instant query at unix time `at` (None when empty)."""
    body = client.get("/api/v1/query", params={"query": query, "time": at}).json()
    assert body["status"] == "success", body
    result = body["data"]["result"]
    assert len(result) <= 1, result
    return float(result[0]["value"][1]) if result else None
