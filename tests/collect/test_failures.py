"""Failures between collector and Prometheus, and collectors killed or started twice.

Faults come from `FaultProxy`, a fake proxy in front of the real NAB Prometheus: a real
server cannot be made to cut an answer in half or answer 503 on demand.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time

import pandas as pd
import pytest

from slopipe.collect.raw import collect_into
from slopipe.errors import CollectError, LakeError
from slopipe.lake import Lake
from tests.fixtures.collecting import cli_command, cli_env, invoke, lake_frame, settings_for
from tests.fixtures.fault_proxy import FaultProxy
from tests.fixtures.prometheus import free_port, wait_for


@pytest.fixture
def proxy(nab_prometheus):
    with FaultProxy(nab_prometheus.url) as running:
        yield running


def assert_prefix_of(stored: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Each stored series is the start of the reference series: no gap, no duplicate."""
    for series, rows in stored.groupby("series"):
        full = reference[reference["series"] == series].reset_index(drop=True)
        pd.testing.assert_frame_equal(rows.reset_index(drop=True), full.head(len(rows)))


def test_503s_and_answers_cut_in_the_middle_are_retried(proxy, nab_reference, tmp_path):
    proxy.faults.extend(["503", "cut", None, "503", "cut", "cut"])
    result = collect_into(Lake(tmp_path / "lake"), settings_for(proxy.url, retries=3))
    assert not proxy.faults
    assert result.new_samples == len(nab_reference)
    pd.testing.assert_frame_equal(lake_frame(tmp_path / "lake"), nab_reference)


def test_a_slow_answer_times_out_and_is_retried(proxy, nab_reference, tmp_path):
    proxy.faults.extend([None, "slow"])
    proxy.slow_seconds = 6.0
    settings = settings_for(proxy.url, timeout_seconds=2.0)
    collect_into(Lake(tmp_path / "lake"), settings)
    pd.testing.assert_frame_equal(lake_frame(tmp_path / "lake"), nab_reference)


def test_prometheus_failing_for_good_keeps_what_was_stored_and_a_rerun_completes(
    proxy, nab_reference, tmp_path
):
    # The two count queries and 10 sample requests pass, then every request gets a 503.
    proxy.faults.extend([None] * 12)
    proxy.after_faults = "503"
    settings = settings_for(proxy.url, batch_samples=8_000, parallel=1)
    with pytest.raises(CollectError, match="HTTP 503.*gave up after retries"):
        collect_into(Lake(tmp_path / "lake"), settings)
    kept = lake_frame(tmp_path / "lake")
    assert 8_000 <= len(kept) < len(nab_reference)
    assert kept["series"].nunique() == 10
    assert_prefix_of(kept, nab_reference)

    proxy.after_faults = None
    again = collect_into(Lake(tmp_path / "lake"), settings)
    assert again.new_samples == len(nab_reference) - len(kept)
    pd.testing.assert_frame_equal(lake_frame(tmp_path / "lake"), nab_reference)


def test_prometheus_down_is_a_clear_error_and_exit_code_2(home, monkeypatch):
    monkeypatch.setenv("SLOPIPE_PROMETHEUS__RETRIES", "1")
    down = f"http://127.0.0.1:{free_port()}"
    done = invoke("collect", "--url", down, "--selector", "up", "--timeout", "1")
    assert done.exit_code == 2
    assert "ConnectError" in done.stderr and "is Prometheus up" in done.stderr


KILL_SETTINGS = {
    "lookback_days": "7300",
    "chunk_samples": "2000",
    "batch_samples": "8000",
    "parallel": "2",
    "retries": "1",
}


def start_collector(home, url, *extra):
    command = cli_command(
        "collect", "--url", url, "--selector", "nab_value", "--selector", "odd_value", *extra
    )
    return subprocess.Popen(
        command,
        env=cli_env(home, **KILL_SETTINGS),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def commits(home) -> int:
    log = home / "lake" / "_delta_log"
    return len(list(log.glob("*.json"))) if log.exists() else 0


def test_collectors_killed_mid_run_leave_the_lake_of_one_uninterrupted_run(
    proxy, nab_reference, tmp_path
):
    proxy.delay_seconds = 0.1
    rng = random.Random(3)
    home = tmp_path / "home"
    killed = 0
    for _ in range(2):
        before = commits(home)
        collector = start_collector(home, proxy.url)
        wait_for(lambda b=before: commits(home) > b, 60, "a commit")
        time.sleep(rng.uniform(0.0, 1.0))
        collector.send_signal(signal.SIGKILL)
        killed += collector.wait(timeout=10) == -signal.SIGKILL
        assert_prefix_of(lake_frame(home / "lake"), nab_reference)
    assert killed == 2, "a collector finished before it could be killed"
    proxy.delay_seconds = 0.0
    last = start_collector(home, proxy.url, "--json")
    out, err = last.communicate(timeout=120)
    assert last.returncode == 0, err
    pd.testing.assert_frame_equal(lake_frame(home / "lake"), nab_reference)
    assert json.loads(out)["new_samples"] < len(nab_reference)


def test_a_second_collector_fails_cleanly_or_waits_while_one_runs(proxy, nab_reference, tmp_path):
    proxy.delay_seconds = 0.05
    home = tmp_path / "home"
    first = start_collector(home, proxy.url)
    lock = home / "lake.lock"
    wait_for(lambda: lock.exists() and "pid" in lock.read_text(), 30, "the first one's lock")
    second = Lake(home / "lake")
    with pytest.raises(LakeError, match=f"another slopipe process \\(pid {first.pid} .*--wait"):
        collect_into(second, settings_for(proxy.url))
    waited = collect_into(second, settings_for(proxy.url), wait_seconds=120)
    assert first.wait(timeout=10) == 0
    assert waited.new_samples == 0
    pd.testing.assert_frame_equal(lake_frame(home / "lake"), nab_reference)
