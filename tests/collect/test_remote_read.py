"""Decoding remote-read samples: numpy's fast path gives what the protobuf runtime gives."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from slopipe.collect.remote_read import STALE_NAN_BITS, _classes, decode_samples

STALE = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]
T0 = 1_400_000_000_000  # 2014-05-13, in ms: a 6-byte varint


def encoded(samples: list[tuple[int, float]]) -> bytes:
    """A TimeSeries of only these samples, as the protobuf runtime writes it."""
    series = _classes()["TimeSeries"]()
    for stamp, value in samples:
        series.samples.add(timestamp=stamp, value=value)
    return series.SerializeToString()


CASES = {
    "no sample": [],
    "values other than 0": [(T0, 1.5), (T0 + 300_000, -2.25), (T0 + 600_000, 1e300)],
    "only zeros": [(T0, 0.0), (T0 + 1, 0.0)],
    "zeros among other values": [(T0, 0.0), (T0 + 1, 3.0), (T0 + 2, 0.0)],
    "NaN, infinities and a staleness marker": [
        (T0, float("nan")),
        (T0 + 1, float("inf")),
        (T0 + 2, float("-inf")),
        (T0 + 3, STALE),
    ],
    "times before 1971 and negative": [(-5, 1.0), (0, 2.0), (1000, 3.0)],
    "times past 2109 (a 7-byte varint)": [(2**42 + 1, 1.0)],
}


@pytest.mark.parametrize("samples", CASES.values(), ids=CASES.keys())
def test_decoded_samples_equal_the_written_ones_bit_for_bit(samples):
    stamps, values = decode_samples(encoded(samples))
    assert stamps.dtype == np.int64 and values.dtype == np.float64
    assert stamps.tolist() == [t for t, _ in samples]
    written = np.array([v for _, v in samples], np.float64)
    assert values.view(np.uint64).tolist() == written.view(np.uint64).tolist()
