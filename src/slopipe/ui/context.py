"""What every page works on: the settings, SLO store, lake and MLflow registry of one home.

The Streamlit process gets its settings like the CLI does (`load_settings`), from
`SLOPIPE_CONFIG`, `SLOPIPE_HOME` and the other `SLOPIPE_*` variables that `slopipe ui` sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from slopipe.config import Settings, load_settings
from slopipe.lake import Lake
from slopipe.slo.sources import Sources
from slopipe.slo.store import SloStore


@dataclass
class Context:
    settings: Settings
    store: SloStore
    lake: Lake
    sources: Sources

    @classmethod
    def open(cls, settings: Settings | None = None) -> Context:
        settings = settings or load_settings()
        lake = Lake(settings.lake_path)
        return cls(
            settings, SloStore(settings.slo_db_url), lake, Sources(lake, settings.prometheus)
        )

    @property
    def key(self) -> str:
        """Names the stores this context reads, for caches shared between contexts."""
        return f"{self.settings.slo_db_url} {self.lake_key}"

    @property
    def lake_key(self) -> str:
        """Names the lake alone, for caches of what only the lake decides (replays)."""
        return str(self.lake.path.resolve())

    @cached_property
    def registry(self):
        """The MLflow registry, opened on first use (importing MLflow takes seconds)."""
        from slopipe.registry.mlflow_registry import Registry

        return Registry(self.settings)

    def history_bounds(self, series: list[str]) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """First and last sample time over `series`, or None when they hold no samples."""
        frame = self.lake.read(series)
        if frame.empty:
            return None
        return frame["timestamp"].min(), frame["timestamp"].max()
