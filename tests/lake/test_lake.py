"""The lake as users meet it: stats, export, compaction, retention, other readers, one writer."""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import UTC, datetime

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from slopipe.collect.csv_files import read_csv_series
from slopipe.errors import LakeError
from slopipe.lake import Lake
from slopipe.lake.maintenance import compact, export, vacuum
from slopipe.lake.table import bucket_of
from tests.fixtures.collecting import invoke
from tests.fixtures.prometheus import NAB_DATA, read_nab_csv

FILES = [
    NAB_DATA / "artificialNoAnomaly" / "art_flatline.csv",
    NAB_DATA / "artificialNoAnomaly" / "art_noisy.csv",
    NAB_DATA / "realAWSCloudwatch" / "ec2_cpu_utilization_24ae8d.csv",
]


def expected(path) -> dict[int, float]:
    """Unix seconds -> value, straight from the CSV (the last row wins, as the lake keeps)."""
    return {stamp: float(value) for stamp, value in read_nab_csv(path)}


@pytest.fixture
def lake(home) -> Lake:
    """Three NAB series, stored in seven commits (two per file, then a repeat)."""
    lake = Lake(home / "lake")
    for path in FILES:
        frame = read_csv_series(path)
        lake.append(frame.iloc[:2000])
        lake.append(frame.iloc[2000:])
    lake.append(read_csv_series(FILES[0]).head(100))
    return lake


def test_stats_json_counts_rows_series_time_span_files_and_bytes(lake):
    done = invoke("lake", "stats", "--json")
    assert done.exit_code == 0, done.stderr
    stats = json.loads(done.stdout)
    every = [expected(p) for p in FILES]
    assert stats["rows"] == sum(len(e) for e in every) == 12_096
    assert stats["series"] == 3
    first = min(min(e) for e in every)
    last = max(max(e) for e in every)
    assert pd.Timestamp(stats["first"]).timestamp() == first
    assert pd.Timestamp(stats["last"]).timestamp() == last
    assert stats["files"] >= 3 and stats["bytes"] > 0


def test_csv_export_reads_back_exactly_and_parquet_keeps_every_column(lake, tmp_path):
    out = io.BytesIO()
    assert export(lake, "art_noisy", "csv", out) == 4032
    back = pd.read_csv(io.BytesIO(out.getvalue()))
    assert list(back.columns) == ["timestamp", "value"]
    stamps = [int(t.timestamp()) for t in pd.to_datetime(back["timestamp"], utc=True)]
    assert dict(zip(stamps, back["value"].tolist(), strict=True)) == expected(FILES[1])
    # slopipe's CSV source reads it back; a file's folder is its label `service`, so the
    # copy lies in a folder of the original's name
    copy = tmp_path / FILES[1].parent.name / "art_noisy.csv"
    copy.parent.mkdir()
    copy.write_bytes(out.getvalue())
    again = read_csv_series(copy)
    pd.testing.assert_frame_equal(again, lake.read("art_noisy"))

    done = invoke(
        "lake",
        "export",
        "--series",
        "art_flatline",
        "--format",
        "parquet",
        "--output",
        str(tmp_path / "flat.parquet"),
    )
    assert done.exit_code == 0, done.stderr
    table = pq.read_table(tmp_path / "flat.parquet")
    assert table.column_names == ["timestamp", "series", "labels", "kind", "value"]
    assert table.num_rows == 4032


def test_exporting_an_unknown_series_names_it(lake):
    done = invoke("lake", "export", "--series", "nope")
    assert done.exit_code == 2 and "series 'nope' has no samples" in done.stderr


def test_compaction_leaves_one_sorted_file_per_bucket_and_the_same_rows(lake):
    before = lake.read()
    files_before = lake.stats().files
    report = compact(lake)
    buckets = before["series"].map(bucket_of).nunique()
    assert report.files_before == files_before == 6
    assert report.files_after == buckets == 3
    pd.testing.assert_frame_equal(lake.read(), before)


def test_vacuum_deletes_samples_older_than_the_retention_and_unused_files(lake):
    now = datetime(2014, 4, 10, tzinfo=UTC)
    cutoff = now.timestamp() - 5 * 86400
    keep = sum(1 for p in FILES for stamp in expected(p) if stamp >= cutoff)
    compact(lake)
    report = vacuum(lake, retention_days=5, file_retention_hours=0, now=now)
    assert lake.count() == keep == 5760  # two series of 10 days at 5 minutes; one is older
    assert report.rows_deleted == 12_096 - keep
    assert report.files_removed > 0
    assert lake.read()["timestamp"].min() >= pd.Timestamp(cutoff, unit="s", tz="UTC")


def test_duckdb_and_pyarrow_read_the_table_without_slopipe(lake):
    dataset = DeltaTable(str(lake.path)).to_pyarrow_dataset()
    assert dataset.count_rows() == 12_096
    rows = duckdb.sql(
        "SELECT series, count(*) AS n FROM dataset GROUP BY series ORDER BY series"
    ).fetchall()
    assert rows == [
        ("art_flatline", 4032),
        ("art_noisy", 4032),
        ("ec2_cpu_utilization_24ae8d", 4032),
    ]


def test_a_second_writer_fails_cleanly_or_waits_for_the_first(lake):
    other = Lake(lake.path)
    frame = read_csv_series(FILES[0]).head(10)
    with lake.writing():
        with pytest.raises(LakeError, match="being written by another slopipe process"):
            other.append(frame)
    started = time.monotonic()
    holder = threading.Thread(target=lambda: _hold(lake, 1.0))
    holder.start()
    time.sleep(0.2)
    assert Lake(lake.path, lock_wait_seconds=10).append(frame) == 0
    assert time.monotonic() - started >= 1.0
    holder.join()


def _hold(lake: Lake, seconds: float) -> None:
    with lake.writing():
        time.sleep(seconds)
