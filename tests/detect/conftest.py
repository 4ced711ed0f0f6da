"""Paths to the shared NAB corpus; tests read it in place and never copy it into the repo."""

from pathlib import Path

import pytest

from tests.conftest import NAB


@pytest.fixture(scope="session")
def nab_dir() -> Path:
    if not NAB.is_dir():
        pytest.fail(
            f"shared NAB corpus not found at {NAB}: set SLOPIPE_SHARED to the shared folder"
        )
    return NAB
