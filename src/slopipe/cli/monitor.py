"""`slopipe monitor`: watch Prometheus, score, follow SLO burn rates, alert, retrain."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from slopipe.cli.common import ConfigOption, HomeOption, fail
from slopipe.errors import SlopipeError


def monitor(
    interval: Annotated[
        float | None,
        typer.Option("--interval", help="Seconds between cycles [monitor.interval_seconds]"),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit.")] = False,
    max_cycles: Annotated[
        int | None, typer.Option("--max-cycles", help="Exit after this many cycles.")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Port of /metrics and /healthz [9464]"),
    ] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the monitor: one JSON line per cycle on stdout, logs on stderr."""
    from slopipe.config import load_settings
    from slopipe.monitor import service

    try:
        settings = load_settings(config, home=home)
        if interval is not None:
            settings.monitor.interval_seconds = interval
        if port is not None:
            settings.monitor.metrics_port = port
        service.run(
            settings,
            once=once,
            max_cycles=max_cycles,
            on_cycle=lambda r: print(json.dumps(r.as_dict(), default=str), flush=True),
        )
    except SlopipeError as error:
        raise fail(error) from None
