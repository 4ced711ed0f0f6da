"""The `slopipe` command. A thin shell: parse flags, call a stage, print the result."""

from __future__ import annotations

import typer

from slopipe.cli import evaluate as evaluate_cmd

app = typer.Typer(
    name="slopipe",
    help="SLO-driven anomaly detection for services monitored by Prometheus.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """slopipe: collect, store, evaluate SLOs, detect anomalies, alert."""


app.command("evaluate")(evaluate_cmd.evaluate)


if __name__ == "__main__":
    app()
