"""Stage 1, collect: turn a source specification into samples.

Sources: `demo` (built-in generator) and `csv:PATH` (a file or a folder of `timestamp,value`
files) give a samples frame (`samples`); `prometheus` (URL and selectors from the settings)
is read by the raw-sample collector (`raw.collect_into`), which stores straight into the lake,
incrementally and resumably. (`raw` is not imported here: it uses the lake, whose schema
imports `samples` from this package.)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from slopipe.collect import demo
from slopipe.collect.csv_files import read_csv_source
from slopipe.config import Settings
from slopipe.errors import ConfigError

SOURCES = "demo, csv:PATH or prometheus"

__all__ = ["SOURCES", "collect"]


def collect(source: str, settings: Settings) -> pd.DataFrame:
    """Read every sample of a file-like source (`demo`, `csv:PATH`) as a samples frame."""
    if source == "demo":
        return demo.generate()
    if source.startswith("csv:"):
        path = source.removeprefix("csv:").strip()
        if not path:
            raise ConfigError("source csv: names no path (use csv:FILE or csv:FOLDER)")
        return read_csv_source(Path(path))
    if source == "prometheus":
        raise ConfigError("source prometheus stores into the lake: use raw.collect_into")
    raise ConfigError(f"source {source!r} is unknown: use {SOURCES}")
