"""The `slopipe` command. A thin shell: parse flags, call a stage, print the result.

Results go to stdout (a table, or JSON with --json); logs and progress go to stderr. Any
`SlopipeError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextlib import redirect_stdout
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from slopipe.cli import collect, detect, evaluate, feedback, lake, model, monitor, serve, ui
from slopipe.cli import slo as slo_cli
from slopipe.cli.common import (
    ConfigOption,
    HomeOption,
    JsonOption,
    err,
    fail,
    out,
    what_value_table,
)
from slopipe.config import load_settings
from slopipe.errors import SlopipeError

app = typer.Typer(
    name="slopipe",
    help="SLO-driven anomaly detection for services monitored by Prometheus.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("collect")(collect.collect)
app.add_typer(lake.app, name="lake")
app.command("evaluate")(evaluate.evaluate)
app.command("detect")(detect.detect)
app.add_typer(model.app, name="model")
app.add_typer(slo_cli.app, name="slo")
app.add_typer(ui.app, name="ui")
app.add_typer(feedback.app, name="feedback")
app.command("monitor")(monitor.monitor)
app.command("serve")(serve.serve)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only.")] = False,
) -> None:
    """slopipe: collect, store, evaluate SLOs, detect anomalies, alert."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    if err.is_terminal:
        handler: logging.Handler = RichHandler(console=err, show_path=False)
        logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)
    else:
        logging.basicConfig(
            level=level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
            force=True,
        )
    for noisy in ("alembic", "mlflow", "urllib3", "httpx", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command()
def run(
    source: Annotated[str, typer.Option(help="demo, csv:PATH or prometheus")] = "demo",
    slos: Annotated[Path | None, typer.Option("--slos", help="OpenSLO v1 YAML file")] = None,
    at: Annotated[
        datetime | None, typer.Option(help="End SLO windows here instead of the newest sample")
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(help="NAB labels JSON: the training run logs NAB and event metrics"),
    ] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the whole pipeline once, from collecting to alerting."""
    from slopipe import pipeline

    try:
        settings = load_settings(config, home=home, labels_file=labels)
        # Libraries (MLflow) print progress notes on stdout; stdout is for results only.
        with _stage_progress(disabled=as_json) as on_stage, redirect_stdout(sys.stderr):
            summary = pipeline.run(settings, source, slos, at, on_stage)
    except SlopipeError as error:
        raise fail(error) from None
    if as_json:
        print(json.dumps(summary.as_dict(), default=str, indent=2))
    else:
        _print_summary(summary)


@app.command()
def doctor(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False):
    """Check the environment: packages, binaries, and each configured service, with versions."""
    from slopipe.doctor import as_dicts, run_checks

    try:
        checks = run_checks(load_settings(config, home=home))
    except SlopipeError as error:
        raise fail(error) from None
    if as_json:
        print(json.dumps(as_dicts(checks), indent=2))
    else:
        table = Table(title="slopipe doctor", header_style="bold")
        for column in ("check", "status", "found", "how to fix"):
            table.add_column(column)
        colours = {"ok": "green", "fail": "red", "skip": "yellow"}
        for check in checks:
            status = f"[{colours[check.status]}]{check.status}[/]"
            table.add_row(check.name, status, check.detail, check.fix)
        out.print(table)
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)


class _stage_progress:
    """A progress bar over the pipeline's stages, on stderr."""

    def __init__(self, disabled: bool):
        from slopipe.pipeline import STAGES

        self.stages = STAGES
        self.progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=err,
            disable=disabled or not err.is_terminal,
            transient=True,
        )

    def __enter__(self):
        self.progress.start()
        self.task = self.progress.add_task("start", total=len(self.stages))
        return self.on_stage

    def on_stage(self, stage: str) -> None:
        done = self.stages.index(stage)
        self.progress.update(self.task, description=stage, completed=done)

    def __exit__(self, *exc) -> None:
        self.progress.update(self.task, completed=len(self.stages))
        self.progress.stop()


def _print_summary(summary) -> None:
    rows = [
        ("series", summary.series),
        ("samples read", summary.samples),
        ("new samples stored", summary.new_samples),
        ("rows in the lake", summary.lake_rows),
        ("rejected (stale, NaN, inf)", summary.rejected),
        ("gaps (missing steps)", summary.gaps),
        ("counter resets", summary.counter_resets),
        ("SLOs met", summary.slos_evaluated - summary.slos_breached),
        ("SLOs breached", summary.slos_breached),
        ("model version", summary.model_version),
        ("promoted to champion", "yes" if summary.promoted else "no"),
        ("champion version", summary.champion_version or "none"),
        ("samples scored", summary.scored),
        ("anomalies", f"{summary.anomalies} ({summary.new_anomalies} new)"),
        (
            "service anomalies",
            f"{summary.service_anomalies} ({summary.new_service_anomalies} new)",
        ),
        ("alerts raised", summary.alerts),
        ("alerts sent", summary.alerts_sent),
    ]
    out.print(what_value_table("slopipe run", rows))
    out.print(f"promotion: {summary.promotion_reason}", highlight=False)
    _print_slos(summary.slos)
    _print_services(summary.services)


def _print_services(services: list[dict]) -> None:
    if not services:
        return
    table = Table(title="Services", header_style="bold")
    for column in ("service", "series", "SLOs", "anomalies", "top metrics at the worst"):
        table.add_column(column, justify="right" if column in ("series", "anomalies") else "left")
    for service in services:
        anomalies = f"{service['anomalies']} ({service['new_anomalies']} new)"
        explained = ", ".join(service["top_metrics"][:3])
        table.add_row(
            service["name"],
            str(len(service["series"])),
            ", ".join(service["slos"]) or "none",
            anomalies if not service["skipped"] else f"skipped: {service['skipped']}",
            explained,
        )
    out.print(table)


def _print_slos(slos: list[dict]) -> None:
    if not slos:
        return
    table = Table(title="SLOs", header_style="bold")
    for column in ("SLO", "objective", "SLI", "budget left", "burn 1h", "state"):
        table.add_column(column, justify="left" if column == "SLO" else "right")
    colours = {"ok": "green", "breached": "red", "no_data": "yellow"}
    for slo in sorted(
        slos, key=lambda s: (s["error_budget_remaining"] is None, s["error_budget_remaining"] or 0)
    ):
        table.add_row(
            slo["name"],
            f"{slo['objective_ratio']:.4%}",
            _percent(slo["sli"], 4),
            _percent(slo["error_budget_remaining"], 1),
            _number(slo["burn_rates"].get("1h")),
            f"[{colours.get(slo['state'], 'white')}]{slo['state']}[/]",
        )
    out.print(table)


def _percent(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


#: The exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def command() -> None:
    """The `slopipe` command. Errors slopipe raises on purpose say what to fix where they
    happen; this catches the rest (a read-only home, a damaged file, a port out of range)
    so that they too end in one line on stderr and a non-zero exit. `SLOPIPE_DEBUG=1`
    shows the traceback instead."""
    try:
        app()
    except KeyboardInterrupt:  # before typer runs the command
        _say_interrupted()
        raise SystemExit(INTERRUPTED) from None
    except SystemExit as done:
        if done.code == INTERRUPTED:  # typer turns a Ctrl-C into this exit code
            _say_interrupted()
        raise
    except Exception as error:  # noqa: BLE001 - the last resort of the command line
        if os.environ.get("SLOPIPE_DEBUG"):
            raise
        said = escape(unforeseen(error))
        err.print(f"[bold red]error:[/] {said}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None


def _say_interrupted() -> None:
    err.print("interrupted: what was stored so far is kept; run it again to go on")


def unforeseen(error: Exception) -> str:
    """One line for an error slopipe did not raise itself, with what to check."""
    if isinstance(error, OSError) and error.filename:
        where = f"{error.filename}" + (f" -> {error.filename2}" if error.filename2 else "")
        return f"{error.strerror or error}: {where}; check the path and its permissions"
    first = (str(error).strip().splitlines() or [""])[0][:300]
    return (
        f"{type(error).__name__}: {first} (unexpected: check the options given and the "
        "files under the home; SLOPIPE_DEBUG=1 shows where it happened)"
    )


if __name__ == "__main__":
    command()
