"""Pieces every `slopipe` command shares: consoles, common options, the error exit."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from slopipe.errors import SlopipeError

# MLflow configures its own logger on import; keep it to warnings unless asked.
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
# MLflow retries an unreachable tracking server 7 times with doubling waits (over 4 min);
# a command line should say so sooner: 3 retries, about 7 s. Settings of the user's win.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
# Piped output is not cut at 80 columns: tables keep their full width for the reader.
_WIDTH = None if sys.stdout.isatty() else 160
out = Console(width=_WIDTH)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

HomeOption = Annotated[
    Path | None, typer.Option("--home", help="Folder of local state \\[env: SLOPIPE_HOME]")
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML settings file \\[env: SLOPIPE_CONFIG]")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def fail(error: SlopipeError) -> typer.Exit:
    said = escape(str(error))  # PromQL ranges and paths hold brackets rich would take
    err.print(f"[bold red]error:[/] {said}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(error.exit_code)


def what_value_table(title: str, rows: list[tuple[str, object]]) -> Table:
    """A two-column summary table; integers get thousands separators."""
    table = Table(title=title, header_style="bold")
    table.add_column("what")
    table.add_column("value", justify="right")
    for what, value in rows:
        table.add_row(what, f"{value:,}" if isinstance(value, int) else str(value))
    return table
