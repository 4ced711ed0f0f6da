"""Keeping the lake small and fast, and taking data out of it.

- `compact`: rewrite each bucket that holds several files as one zstd-compressed file sorted
  by (series, timestamp), one atomic commit per bucket, then write a Delta checkpoint.
- `vacuum`: the retention policy. Delete samples older than `retention_days` (when set), then
  remove files the table no longer uses once they are `file_retention_hours` old (168 by
  default, as Delta's own default, so that a reader in flight never loses a file).
- `export`: one series as CSV (`timestamp,value`, readable by `--source csv:PATH`) or Parquet.

Every change holds the lake's writer lock.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError

from slopipe.collect.samples import COLUMNS
from slopipe.errors import LakeError
from slopipe.lake.table import COMPACT_WRITER, SCHEMA, Lake

log = logging.getLogger(__name__)

BUCKET_IN_PATH = re.compile(r"bucket=(\d+)/")


@dataclass(frozen=True)
class CompactReport:
    buckets_rewritten: int
    files_before: int
    files_after: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class VacuumReport:
    rows_deleted: int
    files_removed: int
    cutoff: datetime | None

    def as_dict(self) -> dict:
        return asdict(self)


def compact(lake: Lake) -> CompactReport:
    """One sorted file per bucket; readers see the same rows before, during and after."""
    table = _table(lake)
    with lake.writing():
        before = _files_by_bucket(table)
        rewritten = 0
        for bucket, files in sorted(before.items()):
            if len(files) < 2:
                continue
            rows = lake.dataset().to_table(filter=pa.compute.field("bucket") == bucket)
            rows = rows.sort_by([("series", "ascending"), ("timestamp", "ascending")])
            write_deltalake(
                lake.path,
                rows.cast(SCHEMA),
                mode="overwrite",
                predicate=f"bucket = {bucket}",
                partition_by=["bucket"],
                writer_properties=COMPACT_WRITER,
            )
            rewritten += 1
        table = DeltaTable(lake.path)
        table.create_checkpoint()
    after = sum(len(f) for f in _files_by_bucket(table).values())
    report = CompactReport(rewritten, sum(len(f) for f in before.values()), after)
    log.info("lake compact: %s", report)
    return report


def vacuum(
    lake: Lake, retention_days: float | None, file_retention_hours: float, now: datetime
) -> VacuumReport:
    """Apply the retention policy; see the module docstring."""
    table = _table(lake)
    cutoff = now - timedelta(days=retention_days) if retention_days else None
    with lake.writing():
        deleted = 0
        try:
            if cutoff is not None:
                stamp = cutoff.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                metrics = table.delete(f"timestamp < '{stamp}'")
                deleted = int(metrics.get("num_deleted_rows", 0))
            removed = table.vacuum(
                retention_hours=int(file_retention_hours),
                dry_run=False,
                enforce_retention_duration=False,
            )
        except DeltaError as err:
            raise LakeError(f"lake {lake.path}: vacuum failed: {err}") from None
    report = VacuumReport(deleted, len(removed), cutoff)
    log.info("lake vacuum: %s", report)
    return report


def export(
    lake: Lake,
    series: str,
    fmt: str,
    out: IO[bytes] | Path,
    start: datetime | None = None,
    end: datetime | None = None,
) -> int:
    """Write one series to `out` as csv or parquet; return the number of rows."""
    frame = lake.read(series, start, end)
    if frame.empty:
        hint = "see `slopipe lake series` for the names" if start is None else "or in that range"
        raise LakeError(f"lake {lake.path}: series {series!r} has no samples ({hint})")
    if fmt == "csv":
        csv = frame[["timestamp", "value"]].assign(
            timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        )
        data = csv.to_csv(index=False).encode()
        if isinstance(out, Path):
            out.write_bytes(data)
        else:
            out.write(data)
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pandas(frame[COLUMNS], preserve_index=False), out)
    else:
        raise LakeError(f"export format {fmt!r} is unknown: use csv or parquet")
    return len(frame)


def _table(lake: Lake) -> DeltaTable:
    if not lake.exists():
        raise LakeError(f"lake {lake.path}: no table yet (run `slopipe collect` first)")
    return DeltaTable(lake.path)


def _files_by_bucket(table: DeltaTable) -> dict[int, list[str]]:
    files: dict[int, list[str]] = {}
    for uri in table.file_uris():
        match = BUCKET_IN_PATH.search(uri)
        files.setdefault(int(match.group(1)) if match else -1, []).append(uri)
    return files
