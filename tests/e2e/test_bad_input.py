"""Bad input: one clear line on stderr, exit code 2, nothing stored changed."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import SLOPIPE, slopipe

GOOD = "timestamp,value\n" + "".join(
    f"2024-01-0{1 + i // 1440} {(i % 1440) // 60:02d}:{i % 60:02d}:00,{(i % 97) / 10}\n"
    for i in range(3 * 1440)
)
SLOS = """
apiVersion: openslo/v1
kind: SLO
metadata: {name: cpu-ok}
spec:
  service: box
  indicator:
    spec:
      thresholdMetric:
        metricSource: {type: lake, spec: {series: cpu}}
  timeWindow: [{duration: 1d, isRolling: true}]
  budgetingMethod: Timeslices
  objectives: [{op: lt, value: 9, target: 0.9, timeSliceWindow: 5m}]
"""


def fingerprint(home: Path) -> str:
    """A digest of every file the home holds: the lake, the SLO store, MLflow's store."""
    digest = hashlib.sha256()
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(home)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, Path]:
    """A home that already holds one good run, and a folder for input files."""
    folder = tmp_path_factory.mktemp("bad-input")
    (folder / "good").mkdir()
    (folder / "good" / "cpu.csv").write_text(GOOD)
    (folder / "slos.yaml").write_text(SLOS)
    home = folder / "home"
    result = slopipe(
        "run",
        "--source",
        f"csv:{folder / 'good'}",
        "--slos",
        str(folder / "slos.yaml"),
        "--json",
        home=home,
    )
    assert result.returncode == 0, result.stderr
    return home, folder


CASES = [
    ("missing path", None, None, "nowhere: no such file or folder"),
    ("empty file", "", None, "cpu.csv: file is empty"),
    ("wrong header", "time,value\n2024-01-01,1\n", None, "cpu.csv:1: header is `time,value`"),
    (
        "not a number",
        "timestamp,value\n2024-01-01,1\n2024-01-02,lots\n",
        None,
        "cpu.csv:3: value 'lots' is not a number",
    ),
    (
        "bad timestamp",
        "timestamp,value\n2024-01-01,1\nsoon,2\n",
        None,
        "cpu.csv:3: timestamp 'soon' does not parse",
    ),
    (
        "slo target 100%",
        GOOD,
        SLOS.replace("target: 0.9", "target: 1.0"),
        "slo cpu-ok: spec.objectives[0].target",
    ),
    (
        "slo unknown series",
        GOOD,
        SLOS.replace("series: cpu", "series: gpu"),
        "slo cpu-ok: series 'gpu' is not in the lake",
    ),
    ("slo not yaml", GOOD, "kind: [unclosed", "slos.yaml: not valid YAML"),
    (
        "slo wrong kind",
        GOOD,
        SLOS.replace("kind: SLO", "kind: Service"),
        "slos.yaml: holds no SLO",
    ),
]


@pytest.mark.parametrize(("case", "csv", "slos", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(
    stored, tmp_path, case, csv, slos, message
):
    home, folder = stored
    before = fingerprint(home)
    source = tmp_path / "nowhere"
    if csv is not None:
        source = tmp_path / "in"
        source.mkdir()
        (source / "cpu.csv").write_text(csv)
    slo_file = tmp_path / "slos.yaml"
    slo_file.write_text(slos if slos is not None else SLOS)
    result = slopipe("run", "--source", f"csv:{source}", "--slos", str(slo_file), home=home)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in errors[0]
    assert fingerprint(home) == before


def test_a_slo_file_naming_one_slo_twice_is_refused_and_changes_nothing(stored, tmp_path):
    home, folder = stored
    before = fingerprint(home)
    twice = tmp_path / "twice.yaml"
    twice.write_text(SLOS + "---" + SLOS.replace("target: 0.9", "target: 0.95"))
    result = slopipe("run", "--source", f"csv:{folder / 'good'}", "--slos", str(twice), home=home)
    assert result.returncode == 2
    assert "document 2: SLO 'cpu-ok' is defined twice" in result.stderr
    assert fingerprint(home) == before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("collect", "--url", "http://256.1.1.1:9090", "--selector", "up"),
            2,
            "prometheus.url 'http://256.1.1.1:9090' is not a URL",
        ),
        (("collect", "--url", "ftp://x", "--selector", "up"), 2, "is not an http(s) URL"),
    ],
    ids=["not an address", "not http"],
)
def test_errors_from_below_slopipe_end_in_one_line_too(stored, args, code, message):
    home, _ = stored
    before = fingerprint(home)
    result = slopipe(*args, home=home)
    assert result.returncode == code
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in errors[0]
    assert fingerprint(home) == before


@pytest.mark.parametrize("command", ["serve", "ui", "monitor"])
def test_a_port_out_of_range_is_a_usage_error(command):
    result = slopipe(command, "--port", "99999")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "Invalid value for '--port'" in result.stderr


def test_a_damaged_lake_log_is_one_line_and_the_damage_is_left_for_the_user(tmp_path):
    home = tmp_path / "home"
    (home / "lake").mkdir(parents=True)
    ok = tmp_path / "ok"
    ok.mkdir()
    (ok / "cpu.csv").write_text(GOOD)
    assert slopipe("lake", "stats", "--json", home=home).returncode == 0
    stored = slopipe("run", "--source", f"csv:{ok}", home=home)
    assert stored.returncode == 0, stored.stderr
    first = sorted((home / "lake" / "_delta_log").glob("*.json"))[0]
    first.write_text(first.read_text()[:40])  # cut in the middle of a record
    result = slopipe("lake", "stats", "--json", home=home)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr


def test_brackets_in_a_message_are_shown_as_they_are(stored, tmp_path):
    home, _ = stored
    result = slopipe("run", "--source", f"csv:{tmp_path / 'rate[5m]'}", home=home)
    assert result.returncode == 2
    assert f"error: {tmp_path / 'rate[5m]'}: no such file or folder" in result.stderr


def test_ctrl_c_says_what_is_kept_and_exits_130(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SLOPIPE_")}
    environment.pop("MLFLOW_TRACKING_URI", None)
    environment["SLOPIPE_HOME"] = str(tmp_path / "home")
    run = subprocess.Popen(
        [*SLOPIPE, "run"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    seen = ""
    for line in run.stderr:  # interrupt it once it is at work, past its imports
        seen += line
        if "lake append" in line:
            run.send_signal(signal.SIGINT)
            break
    rest = run.stderr.read()
    assert run.wait(timeout=120) == 130, seen + rest
    assert "interrupted: what was stored so far is kept" in rest and "Traceback" not in rest
