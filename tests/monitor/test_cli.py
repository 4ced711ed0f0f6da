"""`slopipe monitor` and `slopipe serve` as commands: wrong settings are one line, exit 2."""

import os
import subprocess
import sys

from tests.conftest import REPO


def slopipe(*args: str, home) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLOPIPE_")}
    env |= {"SLOPIPE_HOME": str(home), "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "slopipe.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_monitor_without_prometheus_says_what_to_set(tmp_path):
    done = slopipe("monitor", "--once", home=tmp_path / "home")
    assert done.returncode == 2
    assert "prometheus.url" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_serve_with_an_unset_token_variable_refuses_to_start(tmp_path):
    done = slopipe("serve", "--token-env", "NO_SUCH_TOKEN_VAR", home=tmp_path / "home")
    assert done.returncode == 2 and "NO_SUCH_TOKEN_VAR" in done.stderr
