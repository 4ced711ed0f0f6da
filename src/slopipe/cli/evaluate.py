"""`slopipe evaluate`: score a detector on a labelled benchmark.

Results (a table, or JSON with `--json`) go to stdout; logs and progress to stderr.
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from slopipe.cli.common import ConfigOption, HomeOption, fail
from slopipe.cli.common import out as stdout
from slopipe.cli.detect import SchedulerOption, WorkersOption
from slopipe.config import load_settings
from slopipe.detect import evaluate as nab_evaluate
from slopipe.detect.streaming import StreamingConfig
from slopipe.errors import DetectError, InputError, SlopipeError
from slopipe.scale import Runner

log = logging.getLogger(__name__)


class BenchmarkFormat(StrEnum):
    nab = "nab"
    smd = "smd"


def evaluate(
    scores_dir: Annotated[
        Path | None, typer.Option(help="One detector's outputs: DIR/<category>/<det>_<file>.csv")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Run slopipe's detector over every CSV below DIR")
    ] = None,
    labels: Annotated[
        Path | None, typer.Option(help="NAB combined_windows.json (not used with smd)")
    ] = None,
    feedback: Annotated[
        bool,
        typer.Option(
            "--feedback",
            help="With --data: people's verdicts in the SLO store are labels too (a file's "
            "series is its name without .csv)",
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="With --data: write OUT/<category>/slopipe_<file>.csv")
    ] = None,
    format: Annotated[BenchmarkFormat, typer.Option(help="Benchmark layout")] = BenchmarkFormat.nab,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
    seed: Annotated[int, typer.Option(help="With --data: the detector's random seed")] = 0,
    trees: Annotated[int, typer.Option(min=1, help="With --data: trees per forest")] = 300,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    machine: Annotated[
        list[str] | None, typer.Option("--machine", help="With --format smd: only this machine")
    ] = None,
    home: HomeOption = None,
    config_file: ConfigOption = None,
) -> None:
    """Score a detector with NAB's method (threshold swept and fixed) and event-level measures."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = StreamingConfig(seed=seed, n_trees=trees)
        settings = load_settings(config_file, home=home)
        verdicts = _feedback(settings, data) if feedback else None
        with Runner(scheduler or settings.dask_scheduler, workers) as runner:
            result = _run(scores_dir, data, labels, out, format, config, runner, machine, verdicts)
    except SlopipeError as error:
        raise fail(error) from None
    if as_json or format is BenchmarkFormat.smd:
        typer.echo(json.dumps(result, indent=2))
    else:
        stdout.print(_table(result))


def _feedback(settings, data: Path | None):
    """Every series' latest verdicts from the SLO store."""
    if data is None:
        raise InputError("--feedback labels the files of --data DIR; give --data")
    from slopipe.slo.store import SloStore

    if settings.db_url is None and not settings.home.is_dir():
        raise InputError(
            f"--feedback: no SLO store in {settings.home}: give --home (or SLOPIPE_DB_URL) "
            "of the store where the feedback was given"
        )
    verdicts = SloStore(settings.slo_db_url).feedback()
    log.info(
        "%d verdicts on %d series from the SLO store", len(verdicts), verdicts["series"].nunique()
    )
    return verdicts


def _run(
    scores_dir, data, labels, out, format, config, runner, machines=None, feedback=None
) -> dict:
    if format is BenchmarkFormat.smd:
        if data is None:
            raise InputError("--format smd needs --data DIR")
        return _smd_evaluate_directory()(data, machines=machines or None)
    if (scores_dir is None) == (data is None):
        raise InputError("give exactly one of --scores-dir DIR or --data DIR")
    if labels is None and (feedback is None or scores_dir is not None):
        raise InputError(
            "--labels FILE is required (NAB's combined_windows.json), or --feedback with --data"
        )
    if scores_dir is not None:
        return nab_evaluate.evaluate_outputs(scores_dir, labels).as_dict()
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("detecting", total=None)
        evaluation = nab_evaluate.evaluate_detector(
            data,
            labels,
            out,
            config,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            runner=runner,
            feedback=feedback,
        )
    return evaluation.as_dict()


def _smd_evaluate_directory():
    """`slopipe.detect.smd.evaluate_directory`, imported only when SMD is asked for."""
    try:
        from slopipe.detect import smd
    except ImportError as error:
        raise DetectError("--format smd: slopipe.detect.smd is not in this build yet") from error
    return smd.evaluate_directory


def _table(result: dict) -> Table:
    table = Table(title=f"NAB: {result['files']} files, {result['windows']} windows")
    table.add_column("measure")
    table.add_column("threshold", justify="right")
    table.add_column("value", justify="right")
    for profile, threshold in result["thresholds"].items():
        table.add_row(f"{profile} (swept)", _number(threshold), _number(result[profile]))
    fixed = result["fixed"] or {}
    for profile in result["thresholds"] if fixed else ():
        table.add_row(f"{profile} (fixed)", _number(fixed["threshold"]), _number(fixed[profile]))
    for name in ("precision", "recall", "mean_detection_delay_rows"):
        table.add_row(name, _number(result["event_threshold"]), _number(result[name]))
    return table


def _number(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
