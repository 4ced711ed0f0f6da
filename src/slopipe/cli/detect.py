"""`slopipe detect`: score every series of the lake, in-process or on Dask."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from slopipe.cli.common import ConfigOption, HomeOption, JsonOption, err, fail, out
from slopipe.config import load_settings
from slopipe.errors import LakeError, SlopipeError

SchedulerOption = Annotated[
    str | None,
    typer.Option("--scheduler", help="Dask scheduler address \\[env: SLOPIPE_DASK_SCHEDULER]"),
]
WorkersOption = Annotated[
    int | None, typer.Option("--workers", min=1, help="Start a local Dask cluster of N processes")
]


def detect(
    series: Annotated[
        list[str] | None, typer.Option("--series", help="Only this series (repeatable)")
    ] = None,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score each series of the lake with the streaming detector; store the scores.

    With MLFLOW_TRACKING_URI set, each series' run is logged there from its worker, under
    one parent run."""
    from slopipe.detect.batch import detect_all
    from slopipe.lake import Lake
    from slopipe.lake.scores import ScoreTable
    from slopipe.scale import Runner

    try:
        settings = load_settings(config, home=home)
        lake = Lake(settings.lake_path)
        names = series or lake.series_names()
        unknown = sorted(set(names) - set(lake.series_names()))
        if unknown:
            raise LakeError(
                f"series {unknown[0]!r} is not in the lake {lake.path} (see slopipe lake series)"
            )
        address = scheduler or settings.dask_scheduler
        with Runner(address, workers) as runner, _progress(len(names), as_json) as advance:
            report = detect_all(
                lake,
                ScoreTable(settings.scores_path),
                runner,
                names,
                on_done=advance,
                tracking_uri=settings.mlflow_tracking_uri,
            )
    except SlopipeError as error:
        raise fail(error) from None
    if as_json:
        print(json.dumps(asdict(report), indent=2))
    else:
        _print(report)
    if report.failed and not report.series:
        raise typer.Exit(1)


class _progress:
    def __init__(self, total: int, disabled: bool):
        self.bar = Progress(
            TextColumn("series"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=disabled or not err.is_terminal,
            transient=True,
        )
        self.total = total

    def __enter__(self):
        self.bar.start()
        task = self.bar.add_task("series", total=self.total)
        return lambda outcome: self.bar.advance(task)

    def __exit__(self, *exc):
        self.bar.stop()


def _print(report) -> None:
    table = Table(title=f"slopipe detect (detector {report.detector})", header_style="bold")
    for column in ("series", "samples", "anomalies"):
        table.add_column(column, justify="left" if column == "series" else "right")
    for name, counts in sorted(report.per_series.items()):
        table.add_row(name, str(counts["samples"]), str(counts["anomalies"]))
    for name, reason in sorted(report.failed.items()):
        table.add_row(f"[red]{name}[/]", "-", f"[red]failed: {reason}[/]")
    out.print(table)
