"""`slopipe ui`: start the Streamlit app; `slopipe ui hash-password` for editor credentials.

The app runs in its own `streamlit run` process, replacing this one, and reads its settings
like every command does: `--home` and `--config` are handed over as `SLOPIPE_HOME` and
`SLOPIPE_CONFIG`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from slopipe.config import load_settings
from slopipe.errors import SlopipeError

APP = Path(__file__).resolve().parents[1] / "ui" / "app.py"

app = typer.Typer(help="The web UI: watch SLOs, edit them, give feedback on anomalies.")


@app.callback(invoke_without_command=True)
def ui(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to listen on", min=1, max=65535)] = 8501,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    headless: Annotated[bool, typer.Option(help="Do not open a browser")] = True,
    home: Annotated[Path | None, typer.Option(help="Folder of local state")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML settings file")] = None,
) -> None:
    """Start the UI on HOST:PORT over the same SLO store, lake and MLflow registry."""
    if ctx.invoked_subcommand is not None:
        return
    from slopipe.cli.common import fail

    try:
        load_settings(config, home=home)  # refuse bad settings here, not in the browser
    except SlopipeError as error:
        raise fail(error) from None
    env = dict(os.environ)
    if home is not None:
        env["SLOPIPE_HOME"] = str(home.resolve())
    if config is not None:
        env["SLOPIPE_CONFIG"] = str(config.resolve())
    os.execve(sys.executable, streamlit_command(host, port, headless), env)


def streamlit_command(host: str, port: int, headless: bool = True) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        str(headless).lower(),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]


@app.command("hash-password")
def hash_password(
    password: Annotated[
        str | None, typer.Option(help="The password (asked for, unechoed, when not given)")
    ] = None,
) -> None:
    """Print the scrypt hash of a password, for `ui_editors: {NAME: HASH}` in the settings.

    The prompts go to stderr and the hash alone to stdout, so `$(slopipe ui hash-password)`
    captures just the hash.
    """
    from slopipe.ui.auth import hash_password as make_hash

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    if not password:
        raise typer.BadParameter("an empty password cannot be hashed")
    print(make_hash(password))
