"""Paths to the shared NAB corpus; tests read it in place and never copy it into the repo."""

from pathlib import Path

import pytest

NAB_DIR = Path("/work/shared/data/nab")


@pytest.fixture(scope="session")
def nab_dir() -> Path:
    if not NAB_DIR.is_dir():
        pytest.skip(f"shared NAB corpus not found at {NAB_DIR}")
    return NAB_DIR
