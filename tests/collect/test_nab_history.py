"""Raw samples from a Prometheus backfilled with every NAB series, checked against the CSVs."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import httpx
import numpy as np
import pandas as pd
import pytest

from slopipe.collect import remote_read
from slopipe.collect.raw import collect_into
from slopipe.lake import Lake
from tests.fixtures.collecting import invoke, lake_frame, settings_for


def expected_samples(rows: list[tuple[int, str]]) -> list[tuple[int, float]]:
    """CSV rows as Prometheus keeps them: one sample per timestamp, the first one.

    Two NAB files repeat the timestamp 2014-03-09 03:00:00 (a clock change), twelve times;
    the TSDB takes the first sample at a time and rejects later ones as duplicates.
    """
    by_time: dict[int, float] = {}
    for stamp, text in rows:
        by_time.setdefault(stamp, float(text))
    return sorted(by_time.items())


def test_every_nab_series_comes_back_exactly_as_in_its_csv_file(nab_prometheus, nab_reference):
    for nab in nab_prometheus.files:
        stored = nab_reference[nab_reference["series"] == nab.lake_name]
        got = list(
            zip(
                (stored["timestamp"].astype("int64") // 1_000_000).tolist(),
                stored["value"].tolist(),
                strict=True,
            )
        )
        assert got == expected_samples(nab_prometheus.expected(nab)), nab.name
        assert set(stored["labels"]) == {json.dumps(nab.labels, separators=(",", ":"))}


def test_nan_and_infinities_are_counted_as_rejected_and_not_stored(nab_prometheus, tmp_path):
    settings = settings_for(nab_prometheus.url, selectors=["odd_value"])
    result = collect_into(Lake(tmp_path / "lake"), settings)
    stored = lake_frame(tmp_path / "lake")
    assert (result.samples, result.new_samples, result.rejected) == (2, 2, 3)
    assert stored["value"].tolist() == [1.5, 2.0]
    assert result.watermarks == {'odd_value{case="nonfinite"}': "2014-05-13T16:57:20Z"}


def test_running_twice_stores_nothing_twice(nab_prometheus, nab_reference, tmp_path):
    lake = Lake(tmp_path / "lake")
    first = collect_into(lake, settings_for(nab_prometheus.url))
    second = collect_into(lake, settings_for(nab_prometheus.url))
    assert first.new_samples == len(nab_reference) == 112_072
    assert (second.samples, second.new_samples) == (0, 0)
    assert second.watermarks == first.watermarks
    pd.testing.assert_frame_equal(lake_frame(tmp_path / "lake"), nab_reference)


def test_a_run_up_to_a_time_then_the_rest_equals_one_run(nab_prometheus, nab_reference, tmp_path):
    lake = Lake(tmp_path / "lake")
    middle = datetime(2014, 4, 7, 12, 0, tzinfo=UTC)
    early = collect_into(lake, settings_for(nab_prometheus.url), until=middle)
    rest = collect_into(lake, settings_for(nab_prometheus.url))
    before = nab_reference["timestamp"] <= pd.Timestamp(middle)
    assert early.new_samples == int(before.sum())
    assert rest.new_samples == int((~before).sum())
    pd.testing.assert_frame_equal(lake_frame(tmp_path / "lake"), nab_reference)


def test_a_backfill_of_a_stored_range_adds_nothing(nab_prometheus, nab_reference, tmp_path):
    lake = Lake(tmp_path / "lake")
    collect_into(lake, settings_for(nab_prometheus.url))
    since = datetime(2014, 4, 1, tzinfo=UTC)
    until = datetime(2014, 4, 3, tzinfo=UTC)
    again = collect_into(lake, settings_for(nab_prometheus.url), since=since, until=until)
    in_range = nab_reference["timestamp"].between(pd.Timestamp(since), pd.Timestamp(until))
    assert (again.samples, again.new_samples) == (int(in_range.sum()), 0)
    pd.testing.assert_frame_equal(lake_frame(tmp_path / "lake"), nab_reference)


class SampleCounter(httpx.HTTPTransport):
    """A real transport that notes how many samples each answered range selection holds."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        response.read()
        if request.url.path == "/api/v1/read":
            answer = remote_read.decode_response(response.content)
            self.sizes.append(sum(len(stamps) for _, stamps, _ in answer))
            return response
        data = json.loads(response.content).get("data")
        if isinstance(data, dict) and data.get("resultType") == "matrix":
            self.sizes.append(sum(len(r.get("values", ())) for r in data["result"]))
        return response


@pytest.mark.parametrize("read_api", ["remote_read", "query"])
def test_small_chunks_give_the_same_lake_with_no_answer_above_the_budget(
    nab_prometheus, nab_reference, tmp_path, read_api
):
    settings = settings_for(
        nab_prometheus.url, chunk_samples=500, batch_samples=20_000, read_api=read_api
    )
    counter = SampleCounter()
    collect_into(Lake(tmp_path / "lake"), settings, transport=counter)
    pd.testing.assert_frame_equal(lake_frame(tmp_path / "lake"), nab_reference)
    fetched = [n for n in counter.sizes if n]
    assert max(fetched) <= 500
    # 4,032 samples or more per series, in answers of at most 500: 9 or more per series.
    assert len(fetched) >= 28 * math.ceil(4032 / 500)


def test_cli_json_reports_series_samples_and_watermarks(nab_prometheus, home, monkeypatch):
    monkeypatch.setenv("SLOPIPE_PROMETHEUS__LOOKBACK_DAYS", "7300")
    done = invoke(
        "collect",
        "--url",
        nab_prometheus.url,
        "--selector",
        "odd_value",
        "--selector",
        'nab_value{file="art_flatline"}',
        "--json",
    )
    assert done.exit_code == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["series"] == 2
    assert (report["samples"], report["new_samples"], report["rejected"]) == (4034, 4034, 3)
    flatline = 'nab_value{corpus="artificialNoAnomaly",file="art_flatline"}'
    assert report["watermarks"][flatline] == "2014-04-14T23:55:00Z"


@pytest.mark.parametrize(
    "selector, message",
    [
        ('nab_value{file="x"', "unexpected end of input"),
        ("rate(nab_value[5m])", "match[]"),
    ],
)
def test_a_selector_prometheus_rejects_is_shown_with_its_error(
    nab_prometheus, home, selector, message
):
    done = invoke("collect", "--url", nab_prometheus.url, "--selector", selector)
    assert done.exit_code == 2
    assert selector in done.stderr and message in done.stderr
    assert not (home / "lake" / "_delta_log").exists()


def test_sample_times_keep_their_milliseconds(nab_reference):
    stamps = nab_reference["timestamp"].astype("int64").to_numpy()
    assert np.all(stamps % 1_000_000 == 0)  # NAB times are whole seconds, stored in µs
