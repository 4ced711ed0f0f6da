"""`slopipe serve`: the champion model behind a scoring API."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from slopipe.cli.common import ConfigOption, HomeOption, fail
from slopipe.errors import ConfigError, SlopipeError


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8080,
    token_env: Annotated[
        str | None,
        typer.Option("--token-env", help="Name of the variable holding the bearer token."),
    ] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve POST /score (docs at /docs) with the champion model."""
    import uvicorn

    from slopipe.config import load_settings
    from slopipe.serve.app import create_app, registry_loader

    try:
        token = None
        if token_env:
            token = os.environ.get(token_env)
            if not token:
                raise ConfigError(f"--token-env {token_env}: the variable is unset or empty")
        app = create_app(registry_loader(load_settings(config, home=home)), token)
    except SlopipeError as error:
        raise fail(error) from None
    uvicorn.run(app, host=host, port=port, log_level="warning")
