"""End-to-end fixtures: `slopipe run` as a user runs it, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SLOPIPE = [sys.executable, "-m", "slopipe.cli.main"]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


def slopipe(*args: str, env: dict | None = None, home: Path | None = None) -> Result:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLOPIPE_")}
    environment.pop("MLFLOW_TRACKING_URI", None)
    environment.update(env or {})
    if home is not None:
        environment["SLOPIPE_HOME"] = str(home)
    done = subprocess.run(
        [*SLOPIPE, *args], capture_output=True, text=True, env=environment, timeout=600
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("demo") / "home"


@pytest.fixture(scope="session")
def demo_run(demo_home: Path) -> dict:
    """The demo run once, shared by the tests that read its outcome."""
    result = slopipe("run", "--json", home=demo_home)
    assert result.returncode == 0, result.stderr
    return result.json()
