"""`slopipe monitor` as a long-running service: the cycle loop, `/metrics` and `/healthz`.

SIGTERM and SIGINT let the running cycle finish, then the service stops. All state lives in
the SLO store and the lake, so a restart (after a crash too) continues where it stopped.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from slopipe.config import Settings
from slopipe.errors import ConfigError, SlopipeError
from slopipe.monitor.cycle import CycleReport, Monitor

log = logging.getLogger(__name__)

#: `/healthz` fails when no cycle ended within this many intervals.
STALE_INTERVALS = 5


class Health:
    def __init__(self, interval_seconds: float):
        self.interval_seconds = interval_seconds
        self.started = time.monotonic()
        self.last_cycle: float | None = None
        self.last_report: dict = {}

    def status(self) -> tuple[int, dict]:
        since = time.monotonic() - (self.last_cycle or self.started)
        ok = since <= max(STALE_INTERVALS * self.interval_seconds, 30.0)
        body = {"status": "ok" if ok else "stale", "seconds_since_cycle": round(since, 3)}
        return (200 if ok else 503), {**body, "last_cycle": self.last_report}


def serve_http(monitor: Monitor, health: Health, host: str, port: int) -> ThreadingHTTPServer:
    """Start `/metrics` and `/healthz` in a daemon thread; return the server."""
    registry = monitor.metrics.registry

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            if self.path.startswith("/metrics"):
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif self.path.startswith("/healthz"):
                code, body = health.status()
                self._send(code, json.dumps(body, default=str).encode(), "application/json")
            else:
                self._send(404, b"not found: try /metrics or /healthz\n", "text/plain")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as err:
        raise ConfigError(
            f"monitor.metrics_port {port} on {host}: {err.strerror} (choose another --port)"
        ) from None
    threading.Thread(target=server.serve_forever, name="slopipe-http", daemon=True).start()
    log.info("monitor: /metrics and /healthz on http://%s:%d", host, server.server_address[1])
    return server


def run(
    settings: Settings,
    once: bool = False,
    max_cycles: int | None = None,
    on_cycle: Callable[[CycleReport], None] = lambda report: None,
    stop: threading.Event | None = None,
) -> int:
    """Run cycles every `monitor.interval_seconds` until stopped; return how many ran."""
    stop = stop or threading.Event()
    _stop_on_signals(stop)
    monitor = Monitor(settings)
    interval = settings.monitor.interval_seconds
    health = Health(interval)
    server = serve_http(
        monitor, health, settings.monitor.metrics_host, settings.monitor.metrics_port
    )
    cycles = 0
    try:
        while not stop.is_set():
            began = time.monotonic()
            try:
                report = monitor.cycle(datetime.now(UTC))
            except SlopipeError as err:
                log.error("cycle failed, next one in %.1f s: %s", interval, err)
                monitor.metrics.cycles.labels(result="failed").inc()
            else:
                health.last_cycle, health.last_report = time.monotonic(), report.as_dict()
                on_cycle(report)
            cycles += 1
            if once or (max_cycles is not None and cycles >= max_cycles):
                break
            stop.wait(max(0.0, interval - (time.monotonic() - began)))
    finally:
        server.shutdown()
        monitor.retrainer.join(timeout_seconds=60)
    log.info("monitor stopped after %d cycle(s)", cycles)
    return cycles


def _stop_on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def handle(signum, frame):
        log.info("monitor: %s received, stopping after this cycle", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
