"""Stage 1, collect: turn a source specification into a samples frame.

Sources: `demo` (built-in generator), `csv:PATH` (a file or a folder of `timestamp,value`
files) and `prometheus` (URL and selectors from the settings). See `samples` for the frame.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from slopipe.collect import demo
from slopipe.collect.csv_files import read_csv_source
from slopipe.collect.prometheus import default_span, query_range_source
from slopipe.config import Settings
from slopipe.errors import ConfigError

SOURCES = "demo, csv:PATH or prometheus"


def collect(source: str, settings: Settings) -> pd.DataFrame:
    """Read every sample the source has, as a samples frame."""
    if source == "demo":
        return demo.generate()
    if source.startswith("csv:"):
        return read_csv_source(Path(source.removeprefix("csv:")))
    if source == "prometheus":
        start, end = default_span(datetime.now(UTC))
        return query_range_source(settings.prometheus, start, end)
    raise ConfigError(f"source {source!r} is unknown: use {SOURCES}")
