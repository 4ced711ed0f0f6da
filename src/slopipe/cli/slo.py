"""`slopipe slo ...`: SLO definitions in the store, their status, and rules export.

Results go to stdout (a table, or JSON with --json); logs to stderr. A `SlopipeError`
becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import getpass
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from slopipe.cli.common import ConfigOption, HomeOption, JsonOption, err, fail, out
from slopipe.cli.detect import SchedulerOption, WorkersOption
from slopipe.config import Settings, load_settings
from slopipe.errors import SloError, SlopipeError

log = logging.getLogger(__name__)
app = typer.Typer(help="SLO definitions, versions, status and exports.", no_args_is_help=True)
FileArgument = Annotated[Path, typer.Argument(help="OpenSLO v1 or Sloth prometheus/v1 YAML")]
STATE_COLOURS = {
    "ok": "green",
    "breached": "red",
    "no_data": "yellow",
    "insufficient_data": "yellow",
}


def _store(settings: Settings):
    from slopipe.slo.store import SloStore

    settings.home.mkdir(parents=True, exist_ok=True)
    return SloStore(settings.slo_db_url)


def _load_checked(file: Path, settings: Settings):
    """Parse a file and check its lake series against the lake, when there is one."""
    from slopipe.lake import Lake
    from slopipe.slo import documents
    from slopipe.slo.sources import check_series

    items = documents.load_file(file)
    lake = Lake(settings.lake_path)
    if lake.exists():
        known = set(lake.series_names())
        for definition, _ in items:
            check_series(definition, known)
    else:
        log.warning("no lake at %s: lake series not checked (run `slopipe run` first)", lake.path)
    return items


def _print_json(value) -> None:
    print(json.dumps(value, indent=2, default=str))


@app.command()
def validate(file: FileArgument, home: HomeOption = None, config: ConfigOption = None) -> None:
    """Check an SLO file without storing anything."""
    try:
        items = _load_checked(file, load_settings(config, home=home))
    except SlopipeError as error:
        raise fail(error) from None
    print(f"{file}: {len(items)} SLO(s) valid: {', '.join(d.name for d, _ in items)}")


@app.command()
def apply(
    file: FileArgument,
    author: Annotated[str | None, typer.Option(help="Who changes the SLOs [OS user]")] = None,
    reason: Annotated[str, typer.Option(help="Why they change")] = "",
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store the SLOs of an OpenSLO or Sloth file; each change becomes a new version."""
    import yaml

    from slopipe.slo import sloth

    try:
        settings = load_settings(config, home=home)
        items = _load_checked(file, settings)
        is_sloth = any(sloth.is_sloth(d or {}) for d in yaml.safe_load_all(file.read_text()))
        results = _store(settings).apply(
            [(d.name, doc) for d, doc in items],
            author=author or getpass.getuser(),
            reason=reason or f"applied from {file.name}",
            source_format="sloth" if is_sloth else "openslo",
        )
    except SlopipeError as error:
        raise fail(error) from None
    rows = [{"name": n, "version": v, "changed": c} for n, v, c in results]
    if as_json:
        return _print_json(rows)
    table = Table(title=f"applied {file}", header_style="bold")
    for column in ("SLO", "version", "changed"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], str(row["version"]), "yes" if row["changed"] else "no")
    out.print(table)


@app.command("list")
def list_slos(
    home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """The newest version of every stored SLO."""
    from slopipe.slo import openslo

    try:
        stored = _store(load_settings(config, home=home)).current()
        rows = [_summary(s, openslo.parse_slo(s.document, where=s.name)) for s in stored]
    except SlopipeError as error:
        raise fail(error) from None
    if as_json:
        return _print_json(rows)
    _table(
        "SLOs",
        rows,
        ["name", "version", "service", "objectives", "window", "method", "author", "created_at"],
    )


def _summary(stored, definition) -> dict:
    from slopipe.slo.durations import format_duration

    window = definition.window
    return {
        "name": stored.name,
        "version": stored.version,
        "service": definition.service,
        "objectives": [o.objective_ratio for o in definition.objectives],
        "window": format_duration(window.duration)
        if window.rolling
        else f"{window.calendar_unit} ({window.time_zone})",
        "method": definition.budgeting_method,
        "author": stored.author,
        "created_at": stored.created_at.isoformat(),
        "source_format": stored.source_format,
    }


@app.command()
def history(
    name: str, home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Every version of one SLO, with author, time and reason."""
    try:
        versions = _store(load_settings(config, home=home)).history(name)
    except SlopipeError as error:
        raise fail(error) from None
    if not versions:
        raise fail(SlopipeError(f"slo {name}: not in the store (see `slopipe slo list`)"))
    rows = [
        {
            "version": v.version,
            "author": v.author,
            "created_at": v.created_at.isoformat(),
            "reason": v.reason,
            "objectives": [
                o.get("target", o.get("targetPercent")) for o in v.document["spec"]["objectives"]
            ],
        }
        for v in versions
    ]
    if as_json:
        return _print_json(rows)
    _table(f"history of {name}", rows, ["version", "author", "created_at", "reason", "objectives"])


@app.command()
def export(
    names: Annotated[list[str] | None, typer.Argument(help="SLOs to export [all]")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="openslo, sloth or prometheus-rules")
    ] = "openslo",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write [stdout]")
    ] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
) -> None:
    """Write the stored SLOs out as OpenSLO, a Sloth spec or Prometheus rules.

    Prometheus rules: calendar SLOs without their period budget (warned on stderr).
    """
    from slopipe.slo import openslo
    from slopipe.slo.export import export as write

    try:
        settings = load_settings(config, home=home)
        stored = _store(settings).current()
        unknown = sorted(set(names or ()) - {s.name for s in stored})
        if unknown:
            raise SloError(f"no stored SLO named {', '.join(unknown)} (see `slopipe slo list`)")
        chosen = [s for s in stored if not names or s.name in names]
        items = [(openslo.parse_slo(s.document, where=s.name), s.document) for s in chosen]
        text = write(items, fmt, _lake_series(settings))
    except SlopipeError as error:
        raise fail(error) from None
    if output:
        output.write_text(text)
        log.info("wrote %d SLO(s) as %s to %s", len(items), fmt, output)
    else:
        print(text, end="")


def _lake_series(settings: Settings) -> list[str]:
    from slopipe.lake import Lake

    lake = Lake(settings.lake_path)
    return lake.series_names() if lake.exists() else []


@app.command()
def status(
    names: Annotated[list[str] | None, typer.Argument(help="SLOs to show [all]")] = None,
    at: Annotated[datetime | None, typer.Option(help="End windows here [newest sample]")] = None,
    min_coverage: Annotated[
        float | None, typer.Option(help="Coverage below which data is insufficient [per SLO]")
    ] = None,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate the stored SLOs: budget, burn rates, coverage, state, firing tiers.

    An SLO that cannot be evaluated is named on stderr with its reason, the others are
    shown, and the exit code is 1."""
    from slopipe.lake import Lake
    from slopipe.scale import Runner
    from slopipe.slo.sources import Sources
    from slopipe.slo.stage import evaluate_store

    try:
        settings = load_settings(config, home=home)
        sources = Sources(Lake(settings.lake_path), settings.prometheus)
        store = _store(settings)
        with Runner(scheduler or settings.dask_scheduler, workers) as runner:
            result = evaluate_store(
                store,
                sources,
                sources.window_end,
                at,
                names,
                min_coverage=min_coverage,
                runner=runner,
            )
    except SlopipeError as error:
        raise fail(error) from None
    statuses = [s.as_dict() for s in result.statuses]
    if as_json:
        _print_json(statuses)
    else:
        _print_status(statuses)
    for name, reason in sorted(result.failed.items()):
        said = reason.removeprefix(f"slo {name}: ")
        err.print(f"[bold red]error:[/] slo {name}: not evaluated: {escape(said)}", soft_wrap=True)
    if result.failed:
        raise typer.Exit(1)


def _print_status(statuses: list[dict]) -> None:
    table = Table(title="SLO status", header_style="bold")
    columns = (
        "SLO",
        "v",
        "objective",
        "SLI",
        "budget left",
        "burn 1h",
        "coverage",
        "state",
        "alerts",
        "exhausted in",
    )
    for column in columns:
        table.add_column(
            column, justify="left" if column in ("SLO", "state", "alerts") else "right"
        )
    for s in statuses:
        colour = STATE_COLOURS.get(s["state"], "white")
        table.add_row(
            s["name"],
            str(s["version"]),
            f"{s['objective']:.4%}",
            _percent(s["sli"], 4),
            _percent(s["error_budget_remaining"], 1),
            _number(s["burn_rates"].get("1h")),
            f"{s['coverage']:.1%}",
            f"[{colour}]{s['state']}[/]",
            ", ".join(a["tier"] for a in s["alerts"]) or "-",
            _duration(s["budget_exhausted_in_seconds"]),
        )
    out.print(table)


def _table(title: str, rows: list[dict], columns: list[str]) -> None:
    table = Table(title=title, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(
                ", ".join(map(str, v)) if isinstance(v, list) else str(v)
                for v in (row[c] for c in columns)
            )
        )
    out.print(table)


def _percent(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    hours = seconds / 3600
    return f"{hours / 24:.1f}d" if hours >= 48 else f"{hours:.1f}h"
