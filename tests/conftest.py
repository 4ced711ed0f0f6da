"""Fixtures shared by every test package: throwaway PostgreSQL databases, homes, paths."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.fixtures.prometheus import live_prometheus, nab_prometheus  # noqa: F401 (fixtures)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SLOPIPE_SHARED", REPO.parent / "shared"))
NAB = SHARED / "data" / "nab"
SMD = SHARED / "data" / "smd"
PG_ADMIN = os.environ.get("SLOPIPE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def pg_factory() -> Iterator[Callable[[], str]]:
    """Makes PostgreSQL databases of their own for one test; all dropped afterwards."""
    made: list[str] = []
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")

    def make() -> str:
        name = f"slopipe_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"{base}/{name}"

    try:
        yield make
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            for name in made:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_factory: Callable[[], str]) -> str:
    """A PostgreSQL database of its own for one test, dropped afterwards."""
    return pg_factory()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty slopipe home, with no SLOPIPE_* or MLflow variables leaking in."""
    for key in list(os.environ):
        if key.startswith("SLOPIPE_") or key == "MLFLOW_TRACKING_URI":
            monkeypatch.delenv(key)
    path = tmp_path / "home"
    monkeypatch.setenv("SLOPIPE_HOME", str(path))
    return path
