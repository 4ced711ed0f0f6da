"""`slopipe model`: the registered anomaly models, and moving the champion by hand."""

from __future__ import annotations

import getpass
import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from slopipe.cli.common import ConfigOption, HomeOption, JsonOption, err, fail, out
from slopipe.config import load_settings
from slopipe.errors import SlopipeError

app = typer.Typer(help="List registered models; promote or roll back the champion.")

ReasonOption = Annotated[str, typer.Option("--reason", help="Why; kept as a tag on the version.")]


def _registry(home, config):
    from slopipe.registry.mlflow_registry import Registry

    return Registry(load_settings(config, home=home))


@app.command("list")
def list_versions(
    home: HomeOption = None, config: ConfigOption = None, as_json: JsonOption = False
):
    """Every model version, newest first, with aliases and gate figures."""
    try:
        versions = _registry(home, config).versions()
    except SlopipeError as error:
        raise fail(error) from None
    if as_json:
        print(json.dumps([asdict(v) for v in versions], default=str, indent=2))
        return
    table = Table(title="models", header_style="bold")
    for column in ("version", "aliases", "created", "gate recall", "false alarms/day", "why"):
        table.add_column(column)
    for v in versions:
        metrics, tags = v.metrics, v.tags
        table.add_row(
            v.version,
            ", ".join(v.aliases),
            f"{v.created_at:%Y-%m-%d %H:%M}",
            _number(metrics.get("gate_recall")),
            _number(metrics.get("gate_false_alarms_per_day")),
            tags.get("rollback_reason")
            or tags.get("promotion_reason")
            or tags.get("validation", ""),
        )
    out.print(table)


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="The version to make champion.")],
    reason: ReasonOption,
    home: HomeOption = None,
    config: ConfigOption = None,
):
    """Make VERSION the champion, bypassing the validation gate (the reason is recorded)."""
    try:
        _registry(home, config).promote(version, f"manual: {reason}", author=_user())
    except SlopipeError as error:
        raise fail(error) from None
    err.print(f"version {version} is now champion")


@app.command()
def rollback(
    reason: ReasonOption,
    to: Annotated[
        str | None, typer.Option("--to", help="An older version (default: the last champion)")
    ] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
):
    """Give the champion alias back to an older version, by default the previous champion."""
    try:
        version = _registry(home, config).rollback(to, reason, author=_user())
    except SlopipeError as error:
        raise fail(error) from None
    err.print(f"version {version} is champion again")


def _user() -> str:
    return getpass.getuser()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"
