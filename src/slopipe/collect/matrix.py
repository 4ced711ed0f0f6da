"""Decoding a Prometheus matrix answer into arrays, fast. Pure: bytes in, arrays out.

`json.loads` builds a Python list and a string per sample, and turning those into floats
costs more than the parsing itself. Prometheus writes a matrix answer in one fixed shape:

    {"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{...},"values":[[1396310400,"20.5"],[1396310700,"NaN"],...]}, ...]}}

so each series' `values` run is cut out of the bytes and parsed in one pass by numpy, and
only the small `metric` objects go through `json`. Inside a JSON string every quote is
escaped, so the marker `"values":[[` cannot occur within a label value, and a values run holds
only numbers, quotes, commas and brackets. Anything else falls back to `json.loads`, and a
run whose numbers do not all parse is decoded by `json` too.
"""

from __future__ import annotations

import json
import warnings

import numpy as np

PREFIX = b'{"status":"success","data":{"resultType":"matrix","result":['
METRIC = b'{"metric":'
VALUES = b',"values":[['
STRIP = b'[]"'

#: (labels, times in seconds, values)
Series = tuple[dict[str, str], np.ndarray, np.ndarray]


def decode_matrix(body: bytes) -> list[Series]:
    """Every series of a successful matrix answer."""
    if not body.startswith(PREFIX):
        return _with_json(json.loads(body)["data"]["result"])
    found: list[Series] = []
    position = len(PREFIX)
    while body.startswith(METRIC, position):
        marker = body.find(VALUES, position)
        end = body.find(b"]]}", marker)
        if marker < 0 or end < 0:
            return _with_json(json.loads(body)["data"]["result"])
        metric = json.loads(body[position + len(METRIC) : marker])
        run = body[marker + len(VALUES) - 2 : end + 2]
        found.append((metric, *_parse_run(run)))
        position = end + 3
        if body.startswith(b",", position):
            position += 1
    return found


def _parse_run(run: bytes) -> tuple[np.ndarray, np.ndarray]:
    """`[[t,"v"],[t,"v"]]` as two arrays."""
    text = run.translate(None, STRIP)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        flat = np.fromstring(text, dtype=np.float64, sep=",")
    if flat.size != text.count(b",") + 1 or flat.size % 2:
        pairs = json.loads(run)
        return _columns(pairs)
    return flat[0::2].copy(), flat[1::2].copy()


def _with_json(result: list[dict]) -> list[Series]:
    return [(item["metric"], *_columns(item.get("values", []))) for item in result]


def _columns(pairs: list) -> tuple[np.ndarray, np.ndarray]:
    times = np.array([p[0] for p in pairs], np.float64)
    values = np.array([float(p[1]) for p in pairs], np.float64)
    return times, values
