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
atomic commit, and the same input stored twice adds nothing. The collector, which asks
Prometheus only for samples newer than each series' last stored one (its watermark), appends
them without the MERGE's join; it holds the writer lock (`lock`) for its whole run so that
nobody else can store samples in between. Every write holds that lock.

docs/lake.md describes the table for users: reading it without slopipe, retention, compaction.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError

from slopipe.collect.samples import COLUMNS
from slopipe.errors import LakeError
from slopipe.lake.lock import WriterLock

log = logging.getLogger(__name__)

BUCKETS = 16
#: Snappy: the cheapest to write; `compact` rewrites files with zstd, which is smaller.
APPEND_WRITER = WriterProperties(compression="SNAPPY")
COMPACT_WRITER = WriterProperties(compression="ZSTD", compression_level=3)
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
    """The samples table at `path`; created on the first append.

    `lock_wait_seconds`: how long a write waits for another writer before failing.
    """

    def __init__(self, path: Path, lock_wait_seconds: float = 0.0):
        self.path = Path(path)
        self.lock_wait_seconds = lock_wait_seconds
        self.lock = WriterLock(self.path.parent / f"{self.path.name}.lock")
        self._table: DeltaTable | None = None

    def exists(self) -> bool:
        return (self.path / "_delta_log").is_dir()

    @contextmanager
    def writing(self, wait_seconds: float | None = None) -> Iterator[Lake]:
        """Hold the writer lock; nested uses share it."""
        wait = self.lock_wait_seconds if wait_seconds is None else wait_seconds
        self.lock.acquire(wait)
        try:
            yield self
        finally:
            self.lock.release()

    def append(self, frame: pd.DataFrame) -> int:
        """Store the samples the table does not hold yet; return how many were new."""
        if frame.empty:
            return 0
        added = self.append_arrow(to_arrow(frame), only_new=False)
        log.info("lake append: %d offered, %d new, at %s", len(frame), added, self.path)
        return added

    def append_arrow(self, table: pa.Table, only_new: bool) -> int:
        """Store a table of SCHEMA in one commit and return how many rows were added.

        `only_new=True` promises that the table holds no (series, timestamp) the lake has,
        and skips the MERGE's join; otherwise rows already stored are left out.
        """
        if table.num_rows == 0:
            return 0
        with self.writing():
            try:
                if not self.exists() or only_new:
                    self.path.mkdir(parents=True, exist_ok=True)
                    write_deltalake(
                        self.path,
                        table,
                        partition_by=["bucket"],
                        mode="append",
                        writer_properties=APPEND_WRITER,
                    )
                    return table.num_rows
                return self._merge(table)
            except DeltaError as err:
                raise LakeError(f"lake {self.path}: write failed, nothing stored: {err}") from None

    def _merge(self, table: pa.Table) -> int:
        buckets = sorted(set(table.column("bucket").to_pylist()))
        in_buckets = f"t.bucket IN ({', '.join(map(str, buckets))})"
        predicate = (
            f"{in_buckets} AND t.bucket = s.bucket AND t.series = s.series "
            "AND t.timestamp = s.timestamp"
        )
        metrics = (
            DeltaTable(self.path)
            .merge(
                table,
                predicate=predicate,
                source_alias="s",
                target_alias="t",
                writer_properties=APPEND_WRITER,
            )
            .when_not_matched_insert_all()
            .execute()
        )
        return int(metrics.get("num_target_rows_inserted", 0))

    def watermarks(self) -> dict[str, pd.Timestamp]:
        """Per series, the time of its newest stored sample.

        Read batch by batch, so memory stays small however big the lake is.
        """
        if not self.exists():
            return {}
        newest: dict[str, pd.Timestamp] = {}
        for batch in self.dataset().to_batches(columns=["series", "timestamp"]):
            grouped = pa.Table.from_batches([batch]).group_by("series")
            maxima = grouped.aggregate([("timestamp", "max")])
            stamps = maxima.column("timestamp_max").to_pandas()
            for series, stamp in zip(maxima.column("series").to_pylist(), stamps, strict=True):
                if series not in newest or stamp > newest[series]:
                    newest[series] = stamp
        return newest

    def dataset(self) -> ds.Dataset:
        """The current version's files as a pyarrow dataset."""
        try:
            if self._table is None:
                self._table = DeltaTable(self.path)
            else:
                self._table.update_incremental()  # reads only the commits since last time
            return self._table.to_pyarrow_dataset()
        except TableNotFoundError:
            raise LakeError(
                f"lake {self.path}: no table yet (run `slopipe collect` or `slopipe run` first)"
            ) from None

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
        table = self.dataset().to_table(columns=["series", "timestamp"])
        bounds = pc.min_max(table.column("timestamp")).as_py()
        files = DeltaTable(self.path).file_uris()
        return LakeStats(
            rows=table.num_rows,
            series=len(pc.unique(table.column("series"))),
            first=bounds["min"],
            last=bounds["max"],
            files=len(files),
            bytes=sum(Path(f.removeprefix("file://")).stat().st_size for f in files),
        )


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A samples frame as a table of SCHEMA, sorted, one row per (series, timestamp)."""
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
