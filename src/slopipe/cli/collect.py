"""`slopipe collect`: raw samples from Prometheus into the lake (see docs/collect.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from slopipe.cli.common import ConfigOption, HomeOption, JsonOption
from slopipe.config import load_settings
from slopipe.errors import SlopipeError

if TYPE_CHECKING:
    from rich.table import Table

    from slopipe.collect.raw import CollectResult


def collect(
    url: Annotated[str | None, typer.Option(help="Prometheus URL [config prometheus.url]")] = None,
    selector: Annotated[
        list[str] | None,
        typer.Option(help="Series selector, e.g. 'up{job=\"api\"}'; repeatable"),
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Backfill from here (UTC), whatever the watermarks")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help="Read up to here (UTC); default now")
    ] = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for another writer of the lake")
    ] = 0.0,
    parallel: Annotated[int | None, typer.Option(help="Requests in flight", min=1)] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds per request (above 0)", min=0.001)
    ] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store the raw samples of the selected series, from each one's watermark on."""
    from slopipe.cli.common import err, fail, out
    from slopipe.collect.raw import collect_into
    from slopipe.lake import Lake

    try:
        settings = load_settings(config, home=home)
        given = {
            "url": url,
            "selectors": selector,
            "parallel": parallel,
            "timeout_seconds": timeout,
        }
        chosen = {k: v for k, v in given.items() if v is not None}
        prometheus = settings.prometheus.model_copy(update=chosen)
        lake = Lake(settings.lake_path)
        with _progress(err, disabled=as_json) as on_progress:
            result = collect_into(
                lake, prometheus, _utc(since), _utc(until), wait, on_progress=on_progress
            )
    except SlopipeError as error:
        raise fail(error) from None
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
        return
    out.print(_table(result))


#: How the table names each reason a sample is rejected.
REASONS = {"stale_marker": "stale markers", "nan": "NaN", "infinite": "infinities"}


def _table(result: CollectResult) -> Table:
    from slopipe.cli.common import what_value_table

    rows = [
        ("series", result.series),
        ("samples read", result.samples),
        ("new samples stored", result.new_samples),
        ("rejected, not stored", result.rejected),
        *((f"  {REASONS[k]}", n) for k, n in result.rejected_by_reason.items()),
        ("requests", result.requests),
    ]
    return what_value_table("slopipe collect", rows)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class _progress:
    """A bar of planned samples read, on stderr, for terminals only."""

    def __init__(self, console, disabled: bool):
        self.bar = Progress(
            TextColumn("collect"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} samples"),
            TimeElapsedColumn(),
            console=console,
            disable=disabled or not console.is_terminal,
            transient=True,
        )

    def __enter__(self):
        self.bar.start()
        self.task = self.bar.add_task("collect", total=None)
        return self.update

    def update(self, done: int, total: int) -> None:
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        self.bar.stop()
