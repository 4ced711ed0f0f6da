"""The scores table: anomaly scores per series and sample, next to the samples table.

| column        | Arrow type             | notes                                       |
|---------------|------------------------|---------------------------------------------|
| bucket        | int32                  | partition: crc32(series) mod 16, as samples |
| series        | string                 |                                             |
| timestamp     | timestamp[us, tz=UTC]  |                                             |
| anomaly_score | float64                | in [0, 1], higher is more anomalous         |
| is_anomaly    | bool                   | at the detector's fixed threshold           |
| detector      | string                 | a digest of the detector's configuration   |

Writes are MERGEs keyed on (series, timestamp, detector), so a task re-run after a worker
died stores nothing twice. Concurrent writers from several workers retry on commit conflicts.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from slopipe.errors import LakeError
from slopipe.lake.table import bucket_of

log = logging.getLogger(__name__)

SCHEMA = pa.schema(
    [
        ("bucket", pa.int32()),
        ("series", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("anomaly_score", pa.float64()),
        ("is_anomaly", pa.bool_()),
        ("detector", pa.string()),
    ]
)
COLUMNS = [f.name for f in SCHEMA][1:]


class ScoreTable:
    def __init__(self, path: Path):
        self.path = Path(path)

    def exists(self) -> bool:
        return (self.path / "_delta_log").is_dir()

    def append(self, frame: pd.DataFrame) -> None:
        """Store scores not stored yet; safe to repeat and to run from many workers."""
        if frame.empty:
            return
        table = _to_arrow(frame)
        try:
            _write(self.path, table)
        except DeltaError as err:
            raise LakeError(f"scores {self.path}: write failed, nothing stored: {err}") from None

    def read(self, series: str | list[str] | None = None) -> pd.DataFrame:
        if not self.exists():
            return SCHEMA.empty_table().to_pandas()[COLUMNS]
        condition = None
        if series is not None:
            names = [series] if isinstance(series, str) else list(series)
            buckets = sorted({bucket_of(n) for n in names})
            condition = ds.field("bucket").isin(buckets) & ds.field("series").isin(names)
        dataset = DeltaTable(self.path).to_pyarrow_dataset()
        frame = dataset.to_table(filter=condition, columns=COLUMNS).to_pandas()
        return frame.sort_values(["series", "timestamp"], ignore_index=True)


@retry(
    retry=retry_if_exception_type(CommitFailedError),
    stop=stop_after_attempt(20),
    wait=wait_random_exponential(multiplier=0.05, max=2),
    reraise=True,
)
def _write(path: Path, table: pa.Table) -> None:
    if not (path / "_delta_log").is_dir():
        path.mkdir(parents=True, exist_ok=True)
        try:
            write_deltalake(path, table.slice(0, 0), partition_by=["bucket"], mode="append")
        except DeltaError:
            pass  # another writer created it first
    buckets = ", ".join(map(str, sorted(set(table.column("bucket").to_pylist()))))
    predicate = (
        f"t.bucket IN ({buckets}) AND t.bucket = s.bucket AND t.series = s.series "
        "AND t.timestamp = s.timestamp AND t.detector = s.detector"
    )
    (
        DeltaTable(path)
        .merge(table, predicate=predicate, source_alias="s", target_alias="t")
        .when_not_matched_insert_all()
        .execute()
    )


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    frame = frame[COLUMNS].drop_duplicates(["series", "timestamp", "detector"], keep="last")
    frame = frame.assign(
        bucket=frame["series"].map(bucket_of).astype("int32"),
        timestamp=pd.to_datetime(frame["timestamp"], utc=True).dt.as_unit("us"),
    )
    return pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False)
