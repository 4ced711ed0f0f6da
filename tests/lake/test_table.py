"""The lake: appends are idempotent, reads filter, the layout stays small."""

import pandas as pd

from slopipe.collect.samples import make_frame
from slopipe.lake import Lake


def samples(series: str, start: str, count: int, kind: str = "gauge") -> pd.DataFrame:
    times = pd.date_range(start, periods=count, freq="1min", tz="UTC")
    return make_frame(times, range(count), series, kind, {"job": "api"})


def test_storing_the_same_samples_twice_stores_them_once(tmp_path):
    lake = Lake(tmp_path / "lake")
    batch = pd.concat([samples("a", "2024-01-01", 100), samples("b", "2024-01-01", 50)])
    assert lake.append(batch) == 150
    assert lake.append(batch) == 0
    # "a" covers 00:00-01:39; a batch from 01:00 to 02:39 overlaps it by 40 minutes.
    assert lake.append(samples("a", "2024-01-01 01:00", 100)) == 60
    assert lake.count() == 210


def test_reading_one_series_over_a_range_returns_exactly_those_rows(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.append(pd.concat([samples("a", "2024-01-01", 100), samples("b", "2024-01-01", 100)]))
    rows = lake.read(
        "a", pd.Timestamp("2024-01-01 00:10", tz="UTC"), pd.Timestamp("2024-01-01 00:19", tz="UTC")
    )
    assert list(rows["value"]) == list(range(10, 20))
    assert set(rows["series"]) == {"a"}
    assert rows["labels"].iloc[0] == '{"job":"api"}'


def test_stats_count_rows_series_and_bounds(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.append(samples("a", "2024-01-01", 60))
    stats = lake.stats()
    assert (stats.rows, stats.series) == (60, 1)
    assert stats.last == pd.Timestamp("2024-01-01 00:59", tz="UTC")
    assert stats.files == 1 and stats.bytes > 0


def test_an_empty_lake_reads_as_empty(tmp_path):
    lake = Lake(tmp_path / "lake")
    assert lake.read("a").empty and lake.count() == 0 and lake.series_names() == []
