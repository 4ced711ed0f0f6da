"""`slopipe lake ...`: look into the lake, take data out, apply retention (docs/lake.md)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from slopipe.config import load_settings
from slopipe.errors import SlopipeError

app = typer.Typer(name="lake", help="The Delta Lake table of samples.", no_args_is_help=True)

HomeOption = Annotated[Path | None, typer.Option("--home", help="Folder of local state")]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="YAML settings file")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _lake(home: Path | None, config: Path | None, wait: float = 0.0):
    from slopipe.lake import Lake

    settings = load_settings(config, home=home)
    return settings, Lake(settings.lake_path, lock_wait_seconds=wait)


def _print(data: dict, as_json: bool) -> None:
    from slopipe.cli.common import out

    if as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        for key, value in data.items():
            out.print(f"{key:<20} {value}", highlight=False)


def _fail(error: SlopipeError) -> typer.Exit:
    from slopipe.cli.common import fail

    return fail(error)


@app.command()
def stats(home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False):
    """Rows, series, first and last sample time, files and bytes."""
    try:
        _, lake = _lake(home, config)
        found = lake.stats()
    except SlopipeError as error:
        raise _fail(error) from None
    data = {
        "rows": found.rows,
        "series": found.series,
        "first": found.first.isoformat() if found.first else None,
        "last": found.last.isoformat() if found.last else None,
        "files": found.files,
        "bytes": found.bytes,
    }
    _print(data, as_json)


@app.command()
def series(home: HomeOption = None, config: ConfigOption = None):
    """The names of the series in the lake, one a line."""
    try:
        _, lake = _lake(home, config)
        names = lake.series_names()
    except SlopipeError as error:
        raise _fail(error) from None
    for name in names:
        print(name)


@app.command()
def export(
    series: Annotated[str, typer.Option("--series", help="Series name (slopipe lake series)")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; CSV defaults to stdout")
    ] = None,
    since: Annotated[datetime | None, typer.Option(help="From here (UTC)")] = None,
    until: Annotated[datetime | None, typer.Option(help="Up to here (UTC), inclusive")] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
) -> None:
    """Write one series as CSV (timestamp,value) or Parquet (every column)."""
    from slopipe.cli.common import err
    from slopipe.errors import ConfigError
    from slopipe.lake.maintenance import export as export_series

    try:
        if fmt == "parquet" and output is None:
            raise ConfigError("--format parquet needs --output FILE")
        _, lake = _lake(home, config)
        target = output if output is not None else sys.stdout.buffer
        rows = export_series(lake, series, fmt, target, _utc(since), _utc(until))
    except SlopipeError as error:
        raise _fail(error) from None
    err.print(f"exported {rows} rows of {series}", highlight=False, soft_wrap=True)


@app.command()
def compact(
    wait: Annotated[float, typer.Option(help="Seconds to wait for another writer")] = 0.0,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rewrite each bucket as one file sorted by series and time."""
    from slopipe.lake.maintenance import compact as compact_lake

    try:
        _, lake = _lake(home, config, wait)
        report = compact_lake(lake)
    except SlopipeError as error:
        raise _fail(error) from None
    _print(report.as_dict(), as_json)


@app.command()
def vacuum(
    retention_days: Annotated[
        float | None, typer.Option(help="Delete samples older than this [lake.retention_days]")
    ] = None,
    file_retention_hours: Annotated[
        float | None,
        typer.Option(help="Remove unused files this old [lake.file_retention_hours, 168]"),
    ] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for another writer")] = 0.0,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Apply the retention policy: old samples out, unused files removed."""
    from slopipe.lake.maintenance import vacuum as vacuum_lake

    try:
        settings, lake = _lake(home, config, wait)
        days = retention_days if retention_days is not None else settings.lake.retention_days
        hours = file_retention_hours
        if hours is None:
            hours = settings.lake.file_retention_hours
        report = vacuum_lake(lake, days, hours, datetime.now(UTC))
    except SlopipeError as error:
        raise _fail(error) from None
    _print(report.as_dict(), as_json)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
