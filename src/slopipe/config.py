"""Settings: a YAML file, then `SLOPIPE_*` environment variables, then command-line flags.

Every piece of local state lives under one home folder (`--home`, `SLOPIPE_HOME`, default
`.slopipe` in the working directory):

    <home>/lake/       the Delta Lake table of samples
    <home>/scores/     the Delta Lake table of anomaly scores (`slopipe detect`)
    <home>/slo.db      the SQLite SLO store (unless SLOPIPE_DB_URL names another database)
    <home>/mlflow.db   the MLflow tracking store (unless MLFLOW_TRACKING_URI names a server)
    <home>/mlartifacts MLflow artifacts of the local store
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from slopipe.errors import ConfigError, yaml_problem


class PrometheusSettings(BaseModel):
    """Where and how `slopipe collect` reads Prometheus; see docs/collect.md."""

    url: str | None = None
    selectors: list[str] = Field(default_factory=list)
    step_seconds: int = 60
    timeout_seconds: float = Field(default=30.0, gt=0)
    username: str | None = None
    password: SecretStr | None = None
    bearer_token_file: Path | None = None
    bearer_token_env: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    #: First run of a series without --since: start this far back.
    lookback_days: float = Field(default=15.0, gt=0)
    #: At most this many samples per request (Prometheus's query.max-samples is 50M).
    chunk_samples: int = Field(default=100_000, ge=100)
    #: Requests in flight at once.
    parallel: int = Field(default=4, ge=1, le=32)
    #: Commit to the lake after this many samples or this many seconds, whichever first.
    batch_samples: int = Field(default=500_000, ge=1)
    commit_seconds: float = Field(default=30.0, gt=0)
    #: How raw samples are read: Prometheus's remote-read endpoint (staleness markers
    #: included, so they can be counted) or the query API (for servers without remote read).
    read_api: Literal["remote_read", "query"] = "remote_read"
    #: Retries of a failed request (connection errors, timeouts, 5xx, 429) with backoff.
    retries: int = Field(default=4, ge=0)
    backoff_seconds: float = Field(default=0.5, ge=0)


class LakeSettings(BaseModel):
    """Retention of the lake; see docs/lake.md."""

    #: `slopipe lake vacuum` deletes samples older than this (None: keep every sample).
    retention_days: float | None = Field(default=None, gt=0)
    #: ... and removes files no longer in the table once they are this old.
    file_retention_hours: float = Field(default=168.0, ge=0)


class MonitorSettings(BaseModel):
    """`slopipe monitor`: the cycle, its HTTP endpoints, alert delivery and retraining."""

    interval_seconds: float = Field(default=60.0, gt=0.0)
    #: A series the lake does not hold yet is collected from this far back.
    collect_span_seconds: int = Field(default=600, gt=0)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    repost_seconds: float = Field(default=60.0, gt=0.0)
    backoff_max_seconds: float = Field(default=300.0, gt=0.0)
    anomaly_group_seconds: float = Field(default=1800.0, gt=0.0)
    #: An anomaly episode on an SLO's series this long, while the SLO burns faster over 5m
    #: than over 1h, escalates (AnomalyEscalated).
    escalate_after_seconds: float = Field(default=120.0, gt=0.0)
    runbook_url: str = "https://runbooks.example/slopipe"
    drift_psi: float = Field(default=0.25, gt=0.0)
    anomaly_rate_factor: float = Field(default=10.0, gt=1.0)
    retrain: bool = True
    retrain_every_seconds: float | None = None
    retrain_cooldown_seconds: float = Field(default=3600.0, ge=0.0)
    drift_min_samples: int = Field(default=200, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SLOPIPE_",
        env_nested_delimiter="__",
        extra="forbid",
        populate_by_name=True,
    )

    home: Path = Path(".slopipe")
    db_url: str | None = None
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SLOPIPE_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI"),
    )
    alertmanager_url: str | None = None
    ui_url: str = "http://127.0.0.1:8501"
    #: Editors of the UI: name -> scrypt hash from `slopipe ui hash-password`.
    ui_editors: dict[str, str] = Field(default_factory=dict)
    model_name: str = "slopipe-anomaly"
    holdout_fraction: float = Field(default=0.3, gt=0.0, lt=1.0)
    #: Expected share of anomalous samples; the monitor's anomaly_rate trigger fires at
    #: `monitor.anomaly_rate_factor` times it.
    contamination: float = Field(default=0.003, gt=0.0, le=0.5)
    false_alarms_per_day: float = Field(default=2.0, ge=0.0)
    #: NAB labels (combined_windows.json) of the series, for the training runs' NAB metrics.
    labels_file: Path | None = None
    #: Series that agree on these labels (and on `service_name_label`) form one service,
    #: modelled jointly; see docs/services.md.
    service_labels: list[str] = Field(default_factory=lambda: ["job", "instance"])
    #: A service is named by this label's value; without it, by its `service_labels` values.
    service_name_label: str = "service"
    dask_scheduler: str | None = None
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    lake: LakeSettings = Field(default_factory=LakeSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)

    @property
    def lake_path(self) -> Path:
        return self.home / "lake"

    @property
    def scores_path(self) -> Path:
        return self.home / "scores"

    @property
    def slo_db_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.home / 'slo.db').resolve()}"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> Path:
        return (self.home / "mlartifacts").resolve()


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from an optional YAML file, the environment and explicit overrides.

    The environment wins over the file, and explicit overrides (command-line flags) win over
    both. `config_file` defaults to `SLOPIPE_CONFIG` when that is set.
    """
    config_file = config_file or _env_path("SLOPIPE_CONFIG")
    from_file = _read_yaml(config_file) if config_file else {}
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        from_env = Settings()
        merged = {**from_file, **from_env.model_dump(exclude_unset=True), **given}
        return Settings.model_validate(merged) if merged else from_env
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        variable = "SLOPIPE_" + where.upper().replace(".", "__")
        raise ConfigError(
            f"setting {where} ({variable} or the config file) is {first.get('input')!r}: "
            f"{first['msg']}"
        ) from None
    except SettingsError as err:
        cause = str(err.__cause__ or err).splitlines()[0]
        raise ConfigError(
            f"{err}: {cause} (lists and mappings in SLOPIPE_* variables are JSON, "
            "e.g. SLOPIPE_PROMETHEUS__SELECTORS='[\"up\"]')"
        ) from None


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (check --config or SLOPIPE_CONFIG)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {yaml_problem(err)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return data
