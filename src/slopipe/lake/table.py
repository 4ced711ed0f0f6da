"""The samples table: one Delta Lake table under `<home>/lake`.

Schema (the samples frame of `slopipe.collect.samples`, plus the partition column):

| column    | Arrow type              | notes                                           |
|-----------|-------------------------|-------------------------------------------------|
| bucket    | int32                   | partition: crc32(series) mod 16                 |
| series    | string                  | series name                                     |
| timestamp | timestamp[us, tz=UTC]   | sample time                                     |
| labels    | string                  | JSON object, keys sorted                        |
| kind      | string                  | counter, gauge or unknown                       |
| value     | float64                 | finite values only                              |

Layout: sixteen hash buckets keep the number of folders fixed however many series there are;
inside a bucket each file is sorted by (series, timestamp), so reading one series over a time
range opens one folder and skips row groups by their statistics.

Appends are a Delta MERGE that inserts only the (series, timestamp) pairs the table lacks: one
atomic commit, and the same input stored twice adds nothing.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError

from slopipe.collect.samples import COLUMNS
from slopipe.errors import LakeError

log = logging.getLogger(__name__)

BUCKETS = 16
SCHEMA = pa.schema(
    [
        ("bucket", pa.int32()),
        ("series", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("labels", pa.string()),
        ("kind", pa.string()),
        ("value", pa.float64()),
    ]
)


def bucket_of(series: str) -> int:
    return zlib.crc32(series.encode()) % BUCKETS


@dataclass(frozen=True)
class LakeStats:
    rows: int
    series: int
    first: datetime | None
    last: datetime | None
    files: int
    bytes: int


class Lake:
    """The samples table at `path`; created on the first append."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def exists(self) -> bool:
        return (self.path / "_delta_log").is_dir()

    def append(self, frame: pd.DataFrame) -> int:
        """Store the samples the table does not hold yet; return how many were new."""
        if frame.empty:
            return 0
        table = _to_arrow(frame)
        before = self.count()
        try:
            if not self.exists():
                self.path.mkdir(parents=True, exist_ok=True)
                write_deltalake(self.path, table, partition_by=["bucket"], mode="append")
            else:
                self._merge(table)
        except DeltaError as err:
            raise LakeError(f"lake {self.path}: append failed, nothing stored: {err}") from None
        added = self.count() - before
        log.info("lake append: %d offered, %d new, at %s", len(frame), added, self.path)
        return added

    def _merge(self, table: pa.Table) -> None:
        buckets = sorted(set(table.column("bucket").to_pylist()))
        in_buckets = f"t.bucket IN ({', '.join(map(str, buckets))})"
        predicate = (
            f"{in_buckets} AND t.bucket = s.bucket AND t.series = s.series "
            "AND t.timestamp = s.timestamp"
        )
        (
            DeltaTable(self.path)
            .merge(table, predicate=predicate, source_alias="s", target_alias="t")
            .when_not_matched_insert_all()
            .execute()
        )

    def dataset(self) -> ds.Dataset:
        try:
            return DeltaTable(self.path).to_pyarrow_dataset()
        except TableNotFoundError:
            raise LakeError(f"lake {self.path}: no table yet (run `slopipe run` first)") from None

    def read(
        self,
        series: str | list[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pd.DataFrame:
        """Samples as a frame sorted by series and time; `end` is inclusive."""
        if not self.exists():
            return _empty()
        table = self.dataset().to_table(filter=_filter(series, start, end), columns=COLUMNS)
        if series is not None:
            names = [series] if isinstance(series, str) else list(series)
            table = table.filter(pc.is_in(table.column("series"), pa.array(names, pa.string())))
        frame = table.to_pandas()
        return frame.sort_values(["series", "timestamp"], ignore_index=True)

    def count(self) -> int:
        return self.dataset().count_rows() if self.exists() else 0

    def series_names(self) -> list[str]:
        if not self.exists():
            return []
        names = self.dataset().to_table(columns=["series"]).column("series")
        return sorted(pc.unique(names).to_pylist())

    def stats(self) -> LakeStats:
        if not self.exists():
            return LakeStats(0, 0, None, None, 0, 0)
        table = DeltaTable(self.path)
        stamps = self.dataset().to_table(columns=["timestamp"]).column("timestamp")
        bounds = pc.min_max(stamps).as_py() if len(stamps) else {"min": None, "max": None}
        files = table.file_uris()
        return LakeStats(
            rows=len(stamps),
            series=len(self.series_names()),
            first=bounds["min"],
            last=bounds["max"],
            files=len(files),
            bytes=sum(Path(f.removeprefix("file://")).stat().st_size for f in files),
        )


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    frame = frame[COLUMNS].sort_values(["series", "timestamp"])
    frame = frame.drop_duplicates(["series", "timestamp"], keep="last")
    bucket = frame["series"].map(bucket_of).astype("int32")
    frame = frame.assign(bucket=bucket, timestamp=frame["timestamp"].dt.as_unit("us"))
    return pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False)


def _filter(
    series: str | list[str] | None, start: datetime | None, end: datetime | None
) -> ds.Expression | None:
    conditions = []
    if series is not None:
        names = [series] if isinstance(series, str) else list(series)
        buckets = sorted({bucket_of(n) for n in names})
        # Series are matched after the scan: files a MERGE wrote keep string_view statistics
        # that pyarrow cannot compare with a string filter (ArrowNotImplementedError).
        conditions.append(ds.field("bucket").isin(buckets))
    if start is not None:
        conditions.append(ds.field("timestamp") >= pa.scalar(pd.Timestamp(start), SCHEMA[2].type))
    if end is not None:
        conditions.append(ds.field("timestamp") <= pa.scalar(pd.Timestamp(end), SCHEMA[2].type))
    expression = None
    for condition in conditions:
        expression = condition if expression is None else expression & condition
    return expression


def _empty() -> pd.DataFrame:
    return SCHEMA.empty_table().to_pandas()[COLUMNS]
