"""`slopipe ui`, `slopipe ui hash-password` and `slopipe feedback export`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from slopipe.cli import ui as ui_cli
from slopipe.cli.main import app
from slopipe.config import load_settings
from slopipe.slo.store import SloStore
from slopipe.ui.auth import verify_password

runner = CliRunner()


def test_slopipe_ui_starts_streamlit_headless_on_the_given_address_with_the_home(home, monkeypatch):
    started = {}
    monkeypatch.setattr(
        ui_cli.os, "execve", lambda path, args, env: started.update(args=args, env=env)
    )
    result = runner.invoke(app, ["ui", "--port", "9123", "--host", "0.0.0.0", "--home", "h"])
    assert result.exit_code == 0, result.output
    args = started["args"]
    assert args[1:5] == ["-m", "streamlit", "run", str(ui_cli.APP)]
    options = dict(zip(args[5::2], args[6::2], strict=True))
    assert options["--server.address"] == "0.0.0.0"
    assert options["--server.port"] == "9123"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"
    assert started["env"]["SLOPIPE_HOME"].endswith("/h")


def test_slopipe_ui_refuses_a_missing_config_file_before_starting(home, tmp_path):
    result = runner.invoke(app, ["ui", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "config file not found" in result.output


def test_hash_password_prints_a_hash_for_the_settings():
    result = runner.invoke(app, ["ui", "hash-password"], input="s3cret\ns3cret\n")
    assert result.exit_code == 0, result.output
    assert verify_password("s3cret", result.stdout.strip())
    given = runner.invoke(app, ["ui", "hash-password", "--password", "other"])
    assert verify_password("other", given.stdout.strip())


def test_feedback_export_prints_every_verdict_as_csv_or_json(home):
    home.mkdir(parents=True)
    store = SloStore(load_settings().slo_db_url)
    at = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    store.record_feedback("cpu_utilization", at, "true_positive", "saturated", "ann")
    csv = runner.invoke(app, ["feedback", "export", "--format", "csv"])
    assert csv.exit_code == 0, csv.output
    lines = csv.stdout.splitlines()
    assert lines[0] == "series,timestamp,verdict,comment,author,created_at"
    assert lines[1].startswith("cpu_utilization,2026-11-28T11:00:00+00:00,true_positive,")
    as_json = runner.invoke(app, ["feedback", "export", "--format", "json"])
    assert json.loads(as_json.stdout)[0]["author"] == "ann"
