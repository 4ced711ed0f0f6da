"""UI fixtures: one demo run per session, and a writable home per test built on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slopipe.ui.auth import hash_password

SRC = Path(__file__).resolve().parents[2] / "src"
APP = SRC / "slopipe" / "ui" / "app.py"
EDITORS = {"ann": "ann-s3cret-pass", "bob": "bob-s3cret-pass"}


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """A home filled by `slopipe run` on the demo: lake, SLO store, MLflow, anomalies.

    `SLOPIPE_TEST_UI_DEMO_HOME` names one filled before, to skip the run; tests only read it.
    """
    given = os.environ.get("SLOPIPE_TEST_UI_DEMO_HOME")
    if given:
        return Path(given)
    home = tmp_path_factory.mktemp("ui-demo") / "home"
    env = {**subprocess_env(), "SLOPIPE_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "slopipe.cli.main", "run", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return home


def subprocess_env() -> dict[str, str]:
    """The environment for a `slopipe` subprocess: this checkout's code, no SLOPIPE_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLOPIPE_")}
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="session")
def editor_hashes() -> dict[str, str]:
    return {name: hash_password(password) for name, password in EDITORS.items()}


@pytest.fixture
def ui_home(demo_home: Path, tmp_path: Path) -> Path:
    """A home of this test's own: the demo's lake and artifacts shared read-only, copies of
    the SLO store and the MLflow store, which the UI writes to."""
    home = tmp_path / "home"
    home.mkdir()
    for shared in ("lake", "mlartifacts"):
        (home / shared).symlink_to(demo_home / shared)
    for db in ("slo.db", "mlflow.db"):
        shutil.copy2(demo_home / db, home / db)
    return home


@pytest.fixture
def ui_config(ui_home: Path, editor_hashes, tmp_path: Path, monkeypatch) -> Path:
    """A settings file naming the home and two editors, set as SLOPIPE_CONFIG."""
    path = tmp_path / "slopipe.yaml"
    path.write_text(yaml.safe_dump({"home": str(ui_home), "ui_editors": editor_hashes}))
    for key in ("SLOPIPE_HOME", "SLOPIPE_DB_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SLOPIPE_CONFIG", str(path))
    return path
