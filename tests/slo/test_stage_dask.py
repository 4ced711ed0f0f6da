"""SLO evaluation fanned out on a real Dask LocalCluster, against a PostgreSQL SLO store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from slopipe.cli.main import app
from slopipe.collect.csv_files import read_csv_source
from slopipe.collect.samples import make_frame
from slopipe.config import PrometheusSettings
from slopipe.lake import Lake
from slopipe.scale import Runner
from slopipe.slo.sources import Sources
from slopipe.slo.stage import evaluate_store
from slopipe.slo.store import SloStore
from tests.conftest import NAB

END = pd.Timestamp("2026-03-02", tz="UTC")
GAUGES = [
    "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv",
    "realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
]
REFUSED = "slo gone: its series hold no samples"


def lake_source(series: str) -> dict:
    return {"metricSource": {"type": "lake", "spec": {"series": series}}}


def ratio_slo(name: str, service: str, window: str, target: float, method="Occurrences") -> dict:
    objective = {"target": target}
    if method == "Timeslices":
        objective |= {"timeSliceTarget": 0.95, "timeSliceWindow": "5m"}
    ratio = {"bad": lake_source(f"{service}_errors"), "total": lake_source(f"{service}_requests")}
    return slo_doc(name, {"ratioMetric": ratio}, window, [objective], method)


def threshold_slo(name: str, series: str, below: float) -> dict:
    objectives = [{"target": 0.99, "op": "lt", "value": below}]
    return slo_doc(name, {"thresholdMetric": lake_source(series)}, "7d", objectives, "Timeslices")


def slo_doc(name, indicator, window, objectives, method) -> dict:
    if method == "Timeslices":
        objectives = [{"timeSliceWindow": "5m", **o} for o in objectives]
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": name},
        "spec": {
            "service": "fleet",
            "indicator": {"spec": indicator},
            "timeWindow": [{"duration": window, "isRolling": True}],
            "budgetingMethod": method,
            "objectives": objectives,
        },
    }


def counters(service: str, seed: int) -> pd.DataFrame:
    """Two days of requests and errors at one minute, with an error burst near the end."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(end=END, periods=2880, freq="1min")
    requests = rng.poisson(1000, 2880).astype(float)
    errors = rng.poisson(1 + seed, 2880).astype(float)
    errors[-30 * (seed + 1) :] += 40.0
    return pd.concat(
        [
            make_frame(times, np.cumsum(requests), f"{service}_requests", "counter"),
            make_frame(times, np.cumsum(errors), f"{service}_errors", "counter"),
        ]
    )


def documents() -> list[tuple[str, dict]]:
    docs = []
    for i in range(6):
        docs.append(ratio_slo(f"api-{i}-day", f"svc{i}", "1d", 0.99 + 0.001 * i))
        docs.append(ratio_slo(f"api-{i}-slices", f"svc{i}", "1d", 0.99, "Timeslices"))
    for path in GAUGES:
        series = path.split("/")[1].removesuffix(".csv")
        docs.append(threshold_slo(f"cpu-{series}", series, 60.0))
    docs.append(ratio_slo("gone", "gone", "1d", 0.99))  # its series are not in the lake
    return [(d["metadata"]["name"], d) for d in docs]


@pytest.fixture
def stored(tmp_path, pg_url) -> tuple[SloStore, Sources]:
    lake = Lake(tmp_path / "lake")
    lake.append(pd.concat([counters(f"svc{i}", i) for i in range(6)]))
    for path in GAUGES:
        lake.append(read_csv_source(NAB / "data" / path))
    store = SloStore(pg_url)
    first = [(n, d) for n, d in documents() if n.startswith("api-")]
    store.apply(first, "ana", "first", now=(END - pd.Timedelta(hours=30)).to_pydatetime())
    for _, doc in first[:4]:  # tightened at noon: the older objective holds before then
        doc["spec"]["objectives"][0]["target"] = 0.995
    store.apply(first[:4], "ana", "tighter", now=(END - pd.Timedelta(hours=12)).to_pydatetime())
    store.apply(documents()[12:], "ana", "cpu and gone")
    return store, Sources(lake, PrometheusSettings())


def statuses_of(result) -> list[dict]:
    return [s.as_dict() | {"bad_slices": s.bad_slices.tolist()} for s in result.statuses]


def stored_rows(store: SloStore) -> list[dict]:
    rows = store.evaluations().drop(columns=["evaluated_at", "id"], errors="ignore")
    return rows.sort_values(["name", "objective"]).to_dict("records")


def test_a_local_cluster_gives_the_in_process_statuses_and_reports_a_failed_slo(stored):
    store, sources = stored
    alone = evaluate_store(store, sources, sources.window_end, record=False)
    with Runner(workers=2) as runner:
        batches = runner.batches(list(range(16)))
        spread = evaluate_store(store, sources, sources.window_end, runner=runner)
    assert [len(b) for b in batches] == [2] * 8  # 16 SLOs, 2 threads: 8 tasks
    assert len(alone.evaluated) == 15
    assert alone.failed == spread.failed == {"gone": REFUSED}
    assert statuses_of(spread) == statuses_of(alone)
    assert {s["state"] for s in statuses_of(alone)} >= {"ok", "breached"}
    # The client alone wrote the store: one row per objective of each evaluated SLO.
    rows = stored_rows(store)
    assert [(r["name"], r["version"]) for r in rows] == [
        (s.name, s.version) for s in sorted(alone.statuses, key=lambda s: s.name)
    ]
    assert [json.loads(r["details"])["sli"] for r in rows] == [
        s["sli"] for s in sorted(statuses_of(alone), key=lambda s: s["name"])
    ]


def test_slo_status_with_workers_prints_the_in_process_json(stored, tmp_path, monkeypatch):
    store, sources = stored
    monkeypatch.setenv("SLOPIPE_HOME", str(tmp_path))  # its lake is tmp_path / "lake"
    monkeypatch.setenv("SLOPIPE_DB_URL", store.url)
    alone = CliRunner().invoke(app, ["-q", "slo", "status", "--json"])
    spread = CliRunner().invoke(app, ["-q", "slo", "status", "--workers", "2", "--json"])
    assert alone.exit_code == spread.exit_code == 1  # "gone" failed
    assert json.loads(spread.stdout) == json.loads(alone.stdout)
    assert len(json.loads(alone.stdout)) == 15
    assert "error: slo gone: not evaluated: its series hold no samples" in spread.stderr


def test_slo_status_on_the_cluster_named_by_the_environment(stored, tmp_path, monkeypatch):
    store, _ = stored
    monkeypatch.setenv("SLOPIPE_HOME", str(tmp_path))
    monkeypatch.setenv("SLOPIPE_DB_URL", store.url)
    alone = CliRunner().invoke(app, ["-q", "slo", "status", "--json"])
    with Runner(workers=2) as cluster:
        monkeypatch.setenv("SLOPIPE_DASK_SCHEDULER", cluster.cluster.scheduler_address)
        spread = CliRunner().invoke(app, ["-q", "slo", "status", "--json"])
        ran = cluster.client.run_on_scheduler(task_prefixes)
    assert json.loads(spread.stdout) == json.loads(alone.stdout)
    assert "evaluate_batch" in ran  # the SLO tasks went to that cluster


def task_prefixes(dask_scheduler) -> list[str]:
    return sorted(dask_scheduler.task_prefixes)


def test_an_unreachable_scheduler_is_one_line_and_exit_2(stored, tmp_path, monkeypatch):
    import dask

    from tests.fixtures.services import free_port

    store, _ = stored
    monkeypatch.setenv("SLOPIPE_HOME", str(tmp_path))
    monkeypatch.setenv("SLOPIPE_DB_URL", store.url)
    address = f"tcp://127.0.0.1:{free_port()}"
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        result = CliRunner().invoke(app, ["-q", "slo", "status", "--scheduler", address])
    assert result.exit_code == 2 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: dask scheduler {address}: cannot connect (")
    assert line.endswith("check --scheduler or SLOPIPE_DASK_SCHEDULER")
