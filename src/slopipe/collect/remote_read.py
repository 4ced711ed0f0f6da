"""Prometheus's remote-read API (`POST /api/v1/read`): raw samples, stale markers included.

The query API's range selections drop staleness markers, so a collector that reads them
cannot tell "the target went away" from "no sample yet". Remote read answers what the TSDB
holds, sample for sample. Its wire format is a snappy-compressed protocol buffer; the few
messages it needs are declared here once, from the field numbers of Prometheus's
`prompb/remote.proto` and `prompb/types.proto`, and built with the protobuf runtime.

A staleness marker is one NaN bit pattern (`STALE_NAN_BITS`); any other NaN is an ordinary
NaN sample.
"""

from __future__ import annotations

from functools import cache

import cramjam
import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

__all__ = ["DecodeErrors", "decode_response", "read_request", "stale_markers"]

#: What a remote-read body that cannot be decoded raises.
DecodeErrors = (DecodeError, cramjam.DecompressionError)

#: The bits of Prometheus's staleness marker, a signalling NaN (pkg/value in Prometheus).
STALE_NAN_BITS = 0x7FF0000000000002
HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "Accept-Encoding": "snappy",
    "X-Prometheus-Remote-Read-Version": "0.1.0",
}
_F = descriptor_pb2.FieldDescriptorProto
#: message name -> [(field name, number, type, repeated, message type)]
_MESSAGES = {
    "Label": [("name", 1, _F.TYPE_STRING, False, None), ("value", 2, _F.TYPE_STRING, False, None)],
    "Sample": [
        ("value", 1, _F.TYPE_DOUBLE, False, None),
        ("timestamp", 2, _F.TYPE_INT64, False, None),
    ],
    "TimeSeries": [
        ("labels", 1, _F.TYPE_MESSAGE, True, "Label"),
        ("samples", 2, _F.TYPE_MESSAGE, True, "Sample"),
    ],
    "LabelMatcher": [
        ("type", 1, _F.TYPE_INT32, False, None),  # an enum on the wire: EQ is 0
        ("name", 2, _F.TYPE_STRING, False, None),
        ("value", 3, _F.TYPE_STRING, False, None),
    ],
    "Query": [
        ("start_timestamp_ms", 1, _F.TYPE_INT64, False, None),
        ("end_timestamp_ms", 2, _F.TYPE_INT64, False, None),
        ("matchers", 3, _F.TYPE_MESSAGE, True, "LabelMatcher"),
    ],
    "ReadRequest": [
        ("queries", 1, _F.TYPE_MESSAGE, True, "Query"),
        ("accepted_response_types", 2, _F.TYPE_INT32, True, None),  # SAMPLES is 0
    ],
    "QueryResult": [("timeseries", 1, _F.TYPE_MESSAGE, True, "TimeSeries")],
    "ReadResponse": [("results", 1, _F.TYPE_MESSAGE, True, "QueryResult")],
}
_PACKAGE = "slopipe.prompb"


@cache
def _classes() -> dict[str, type]:
    file = descriptor_pb2.FileDescriptorProto(name="slopipe_prompb.proto", package=_PACKAGE)
    file.syntax = "proto3"
    for name, fields in _MESSAGES.items():
        message = file.message_type.add(name=name)
        for field_name, number, kind, repeated, type_name in fields:
            field = message.field.add(name=field_name, number=number, type=kind)
            field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
            if type_name:
                field.type_name = f".{_PACKAGE}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
        for name in _MESSAGES
    }


def read_request(labels: dict[str, str], start_ms: int, end_ms: int) -> bytes:
    """A ReadRequest, snappy-compressed, for the one series with exactly `labels` in
    `[start_ms, end_ms]` (both ends included, as the TSDB selects)."""
    messages = _classes()
    request = messages["ReadRequest"](accepted_response_types=[0])
    query = request.queries.add(start_timestamp_ms=start_ms, end_timestamp_ms=end_ms)
    for name, value in sorted(labels.items()):
        query.matchers.add(type=0, name=name, value=value)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def decode_response(body: bytes) -> list[tuple[dict[str, str], np.ndarray, np.ndarray]]:
    """(labels, timestamps in ms, values) of every series of a snappy-compressed ReadResponse;
    raises one of `DecodeErrors` for a body cut short or not a ReadResponse."""
    message = bytes(cramjam.snappy.decompress_raw(body))
    response = _classes()["ReadResponse"].FromString(message)
    found = []
    for result in response.results:
        for series in result.timeseries:
            labels = {label.name: label.value for label in series.labels}
            stamps = np.fromiter((s.timestamp for s in series.samples), np.int64)
            values = np.fromiter((s.value for s in series.samples), np.float64)
            found.append((labels, stamps, values))
    return found


def stale_markers(values: np.ndarray) -> np.ndarray:
    """Which of `values` are Prometheus staleness markers (not ordinary NaNs)."""
    return np.asarray(values, np.float64).view(np.uint64) == np.uint64(STALE_NAN_BITS)
