"""CSV source: one file or a folder of files with columns `timestamp,value`.

One series per file, named by the file's stem; the layout of NAB's data folders. Each series
carries one label, `service`: the name of its file's folder, so the files of one folder form
one service (see `slopipe.detect.services`). Every file is read and checked before anything is
returned, so a bad file stops the run before it stores.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from slopipe.collect.samples import make_frame
from slopipe.errors import InputError

log = logging.getLogger(__name__)

HEADER = ["timestamp", "value"]
NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "-infinity"}


def find_csv_files(path: Path) -> list[Path]:
    """The CSV files named by `path`: the file itself, or every *.csv below the folder."""
    if not path.exists():
        raise InputError(f"{path}: no such file or folder (check --source csv:PATH)")
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*.csv") if p.is_file())
    if not files:
        raise InputError(f"{path}: folder holds no .csv files")
    return files


def read_csv_series(path: Path) -> pd.DataFrame:
    """Read one `timestamp,value` file as a samples frame; NaN and inf are kept for counting.

    Timestamps without a zone are taken as UTC. The label `service` is the file's folder name.
    """
    raw = _read_text_table(path)
    values = _parse_values(path, raw["value"])
    timestamps = _parse_timestamps(path, raw["timestamp"])
    labels = {"service": path.resolve().parent.name}
    return make_frame(timestamps, values, series=path.stem, kind="gauge", labels=labels)


def _read_text_table(path: Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: file is empty (expected a header `timestamp,value`)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a readable CSV file: {_first_line(err)}") from None
    header = [c.strip() for c in raw.columns]
    if header != HEADER:
        got = ",".join(raw.columns)
        raise InputError(f"{path}:1: header is `{got}`, expected `timestamp,value`")
    if raw.empty:
        raise InputError(f"{path}: file has a header but no samples")
    raw.columns = HEADER
    return raw


def _parse_values(path: Path, text: pd.Series) -> np.ndarray:
    stripped = text.str.strip()
    values = pd.to_numeric(stripped, errors="coerce").to_numpy(dtype="float64")
    unparsed = np.isnan(values) & ~stripped.str.lower().isin(NON_FINITE).to_numpy()
    if unparsed.any():
        row = int(np.argmax(unparsed))
        raise InputError(f"{path}:{row + 2}: value {text.iloc[row]!r} is not a number")
    return values


def _parse_timestamps(path: Path, text: pd.Series) -> pd.DatetimeIndex:
    parsed = pd.to_datetime(text.str.strip(), errors="coerce", utc=True, format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(
            f"{path}:{row + 2}: timestamp {text.iloc[row]!r} does not parse "
            "(use ISO 8601, e.g. 2024-05-01 12:00:00)"
        )
    return pd.DatetimeIndex(parsed)


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def read_csv_source(path: Path) -> pd.DataFrame:
    """Every series below `path` as one samples frame."""
    files = find_csv_files(path)
    names = [f.stem for f in files]
    clash = {n for n in names if names.count(n) > 1}
    if clash:
        raise InputError(f"{path}: several files would make series {sorted(clash)[0]!r}")
    frames = [read_csv_series(f) for f in files]
    log.info("read %d CSV file(s) from %s: %d rows", len(files), path, sum(map(len, frames)))
    return pd.concat(frames, ignore_index=True)
