"""Services from series labels, the span a service model sees, and what it flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slopipe.detect.multivariate import ServiceScores
from slopipe.detect.services import (
    Service,
    common_span,
    flagged_rows,
    group_services,
    labels_of,
    split_time,
)

DEMO = {"service": "checkout", "job": "checkout-api", "instance": "checkout-0:9100"}


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        pytest.param(
            {"cpu": DEMO, "latency": DEMO},
            [Service("checkout", ("cpu", "latency"), "checkout")],
            id="series sharing job, instance and service are one service named by its label",
        ),
        pytest.param(
            {"cpu": {"job": "api", "instance": "a:1"}, "mem": {"job": "api", "instance": "b:1"}},
            [Service("api/a:1", ("cpu",), "api/a:1"), Service("api/b:1", ("mem",), "api/b:1")],
            id="without a service label a service is named by its job and instance",
        ),
        pytest.param(
            {
                "cpu": {"service": "shop", "job": "api", "instance": "a:1"},
                "mem": {"service": "shop", "job": "api", "instance": "b:1"},
            },
            [
                Service("shop/api/a:1", ("cpu",), "shop"),
                Service("shop/api/b:1", ("mem",), "shop"),
            ],
            id="two instances of one service get their labels after the name; SLOs link both",
        ),
        pytest.param(
            {"a": {"service": "nab"}, "b": {"service": "nab"}, "c": {"service": "other"}},
            [Service("nab", ("a", "b"), "nab"), Service("other", ("c",), "other")],
            id="CSV files of one folder (label service) are one service",
        ),
        pytest.param(
            {"a": {}, "b": {}},
            [Service("unlabelled", ("a", "b"), "unlabelled")],
            id="series without labels are one service",
        ),
    ],
)
def test_services_are_series_agreeing_on_their_labels(labels, expected):
    assert group_services(labels, ["job", "instance"], "service") == expected


def test_the_grouping_labels_are_configurable():
    labels = {"cpu": {"job": "api", "instance": "a:1"}, "mem": {"job": "api", "instance": "b:1"}}
    (service,) = group_services(labels, ["job"], "service")
    assert (service.name, service.series) == ("api", ("cpu", "mem"))


def test_labels_are_read_from_each_series_newest_sample():
    samples = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-01"], utc=True),
            "series": ["cpu", "cpu", "mem"],
            "labels": ['{"job":"new"}', '{"job":"old"}', "{}"],
        }
    )
    assert labels_of(samples) == {"cpu": {"job": "new"}, "mem": {}}


def long_frame(spans: dict[str, tuple[str, str]]) -> pd.DataFrame:
    parts = []
    for series, (start, end) in spans.items():
        stamps = pd.date_range(start, end, freq="1min", tz="UTC")
        parts.append(pd.DataFrame({"timestamp": stamps, "series": series, "value": 1.0}))
    return pd.concat(parts, ignore_index=True)


def test_the_common_span_runs_from_the_latest_start_to_the_earliest_end():
    frame = long_frame(
        {
            "a": ("2024-01-01 00:00", "2024-01-01 10:00"),
            "b": ("2024-01-01 02:00", "2024-01-01 12:00"),
        }
    )
    start, end = common_span(frame)
    assert (start, end) == (
        pd.Timestamp("2024-01-01 02:00", tz="UTC"),
        pd.Timestamp("2024-01-01 10:00", tz="UTC"),
    )


def test_series_that_do_not_overlap_have_no_common_span():
    frame = long_frame(
        {
            "a": ("2024-01-01 00:00", "2024-01-01 01:00"),
            "b": ("2024-02-01 00:00", "2024-02-01 01:00"),
        }
    )
    assert common_span(frame) is None


def test_the_split_holds_out_the_newest_share_of_distinct_timestamps():
    stamps = pd.Series(pd.date_range("2024-01-01", periods=10, freq="1min", tz="UTC"))
    # 10 stamps, 30 % held out: the first 7 train, the split is the 8th (index 7).
    assert split_time(pd.concat([stamps, stamps]), 0.3) == stamps[7]


def test_flagged_rows_keep_the_top_ranked_metrics_of_flagged_steps_only():
    index = pd.date_range("2024-01-01", periods=3, freq="1min", tz="UTC")
    ranked = pd.DataFrame(
        [["a", "b", "c"], ["c", "a", "b"], ["b", "c", "a"]], index=index, columns=[1, 2, 3]
    )
    scores = ServiceScores(
        anomaly_score=pd.Series([0.1, 0.9, 0.8], index=index),
        flag=pd.Series([False, True, True], index=index),
        top_metrics=ranked,
    )
    rows = flagged_rows(scores, top=2)
    assert list(rows["timestamp"]) == list(index[1:])
    assert np.allclose(rows["anomaly_score"], [0.9, 0.8])
    assert list(rows["top_metrics"]) == [["c", "a"], ["b", "c"]]
