"""`slopipe feedback export`: the SREs' verdicts on flagged anomalies, as CSV or JSON."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from slopipe.config import load_settings
from slopipe.errors import SlopipeError

app = typer.Typer(help="Feedback on flagged anomalies (true or false positives).")


class Format(StrEnum):
    csv = "csv"
    json = "json"


@app.command()
def export(
    fmt: Annotated[Format, typer.Option("--format", help="csv or json")] = Format.csv,
    home: Annotated[Path | None, typer.Option(help="Folder of local state")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML settings file")] = None,
) -> None:
    """Print every verdict (series, timestamp, verdict, comment, author, created_at) on
    stdout, oldest first."""
    from slopipe.cli.common import fail
    from slopipe.slo.store import SloStore
    from slopipe.ui.data import feedback_export

    try:
        store = SloStore(load_settings(config, home=home).slo_db_url)
        print(feedback_export(store, fmt.value), end="")
    except SlopipeError as error:
        raise fail(error) from None
