"""Decoding matrix answers: the fast path gives what json.loads gives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from slopipe.collect.matrix import decode_matrix


def answer(result: list[dict]) -> bytes:
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    return json.dumps(body, separators=(",", ":")).encode()


CASES = {
    "plain": [{"metric": {"__name__": "a"}, "values": [[1400000000, "1.5"], [1400000060, "2"]]}],
    "non-finite and milliseconds": [
        {"metric": {"__name__": "a"}, "values": [[1.5, "NaN"], [2.25, "+Inf"], [3.125, "-Inf"]]}
    ],
    "a label value that looks like the marker": [
        {"metric": {"__name__": "a", "k": 'x","values":[[1,"2"]]}'}, "values": [[7, "0.1"]]},
        {"metric": {"__name__": "b"}, "values": [[8, "1e-300"]]},
    ],
    "no series": [],
}


@pytest.mark.parametrize("name", CASES)
def test_the_fast_decoding_equals_json(name):
    result = CASES[name]
    decoded = decode_matrix(answer(result))
    assert [m for m, _, _ in decoded] == [r["metric"] for r in result]
    for (_, times, values), item in zip(decoded, result, strict=True):
        assert times.tolist() == [float(t) for t, _ in item["values"]]
        np.testing.assert_array_equal(values, [float(v) for _, v in item["values"]])


def test_an_answer_of_another_shape_is_decoded_by_json():
    body = json.dumps(
        {
            "status": "success",
            "data": {"result": [{"metric": {}, "values": [[1, "3"]]}], "resultType": "matrix"},
        }
    ).encode()
    [(metric, times, values)] = decode_matrix(body)
    assert (metric, times.tolist(), values.tolist()) == ({}, [1.0], [3.0])
