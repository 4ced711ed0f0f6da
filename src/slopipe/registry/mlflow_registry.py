"""Tracking runs and registering models in MLflow.

Local by default (a SQLite tracking store and artifacts under the home folder); any MLflow
server when `MLFLOW_TRACKING_URI` names one. Aliases: `champion` is the model that scores,
`challenger` the newest candidate.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import joblib
import mlflow
import pandas as pd
import sklearn
from matplotlib.figure import Figure
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from slopipe.config import Settings
from slopipe.detect.model import AnomalyModel
from slopipe.errors import DetectError, RegistryError
from slopipe.registry.pyfunc import AnomalyPyfunc

log = logging.getLogger(__name__)

EXPERIMENT = "slopipe"
MODEL_CODE = Path(__file__).with_name("model_code.py")
CHAMPION, CHALLENGER = "champion", "challenger"


PLOT = "series_with_anomalies.png"


@dataclass(frozen=True)
class VersionInfo:
    """One registered version as the UI lists it."""

    version: str
    run_id: str
    created_at: pd.Timestamp
    aliases: tuple[str, ...]
    tags: dict[str, str]
    metrics: dict[str, float]
    params: dict[str, str]


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    run_id: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


class Registry:
    """MLflow tracking and registry for one model name."""

    def __init__(self, settings: Settings):
        self.name = settings.model_name
        self.tracking_uri = settings.tracking_uri
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        self.client = MlflowClient(self.tracking_uri, self.tracking_uri)
        local = self.tracking_uri.startswith("sqlite:")
        artifacts = settings.artifact_root.as_uri() if local else None
        self.experiment_id = self._experiment(artifacts)

    def _experiment(self, artifact_location: str | None) -> str:
        try:
            found = self.client.get_experiment_by_name(EXPERIMENT)
            if found:
                return found.experiment_id
            return self.client.create_experiment(EXPERIMENT, artifact_location=artifact_location)
        except MlflowException as err:
            raise RegistryError(f"mlflow {self.tracking_uri}: {err.message}") from None

    def log_candidate(
        self,
        model: AnomalyModel,
        params: dict,
        metrics: dict,
        example: pd.DataFrame,
        figures: dict[str, Figure] | None = None,
        documents: dict[str, object] | None = None,
    ) -> RegisteredModel:
        """Log a training run and register its model as a new version aliased challenger.

        `figures` are logged as PNG files and `documents` as JSON files, by artifact name.
        """
        try:
            with self._start_run() as run:
                mlflow.log_params(params)
                mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
                for name, figure in (figures or {}).items():
                    mlflow.log_figure(figure, name)
                for name, document in (documents or {}).items():
                    mlflow.log_dict(document, name)
                version = self._log_model(model, example)
            self.client.set_registered_model_alias(self.name, CHALLENGER, version)
        except MlflowException as err:
            raise RegistryError(f"mlflow {self.tracking_uri}: {err.message}") from None
        log.info(
            "mlflow: logged run %s, registered %s version %s", run.info.run_id, self.name, version
        )
        return RegisteredModel(self.name, version, run.info.run_id)

    def _start_run(self):
        """A new run in slopipe's experiment, or the run `mlflow run` started for us."""
        project_run = os.environ.get("MLFLOW_RUN_ID")
        if project_run:
            return mlflow.start_run(run_id=project_run)
        return mlflow.start_run(experiment_id=self.experiment_id)

    def _log_model(self, model: AnomalyModel, example: pd.DataFrame) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "anomaly_model.joblib"
            joblib.dump(model, path)
            output = AnomalyPyfunc(model).predict(None, example)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(MODEL_CODE),
                artifacts={"model": str(path)},
                signature=infer_signature(example, output),
                input_example=example.head(5),
                registered_model_name=self.name,
                pip_requirements=[
                    "mlflow==3.17.2",
                    f"scikit-learn=={sklearn.__version__}",
                    f"pandas=={pd.__version__}",
                ],
            )
        return str(info.registered_model_version)

    def champion(self) -> RegisteredModel | None:
        return self._by_alias(CHAMPION)

    def _by_alias(self, alias: str) -> RegisteredModel | None:
        try:
            found = self.client.get_model_version_by_alias(self.name, alias)
        except MlflowException:
            return None
        return RegisteredModel(self.name, str(found.version), found.run_id)

    def load(self, registered: RegisteredModel) -> AnomalyModel:
        try:
            pyfunc = mlflow.pyfunc.load_model(registered.uri)
        except MlflowException as err:
            raise RegistryError(f"mlflow: cannot load {registered.uri}: {err.message}") from None
        except DetectError as err:
            raise RegistryError(f"mlflow: cannot load {registered.uri}: {err}") from None
        return pyfunc.unwrap_python_model().model

    def promote(self, version: str, reason: str, author: str = "slopipe run") -> None:
        """Make `version` the champion, noting why, who decided and when."""
        history = self._history()
        self._set_champion(version, "promotion_reason", reason, author)
        self._set_history([*history, version])

    def _set_champion(self, version: str, key: str, reason: str, author: str) -> None:
        try:
            self.client.get_model_version(self.name, version)
            self.client.set_registered_model_alias(self.name, CHAMPION, version)
            tags = ((key, reason), ("champion_set_by", author))
            tags += (("promoted_at", datetime.now(UTC).isoformat()),)
            for tag, value in tags:
                self.client.set_model_version_tag(self.name, version, tag, value)
        except MlflowException as err:
            raise RegistryError(f"mlflow: {self.name} version {version}: {err.message}") from None
        log.info(
            "mlflow: %s version %s is now champion (%s): %s", self.name, version, author, reason
        )

    def versions(self) -> list[VersionInfo]:
        """Every registered version, newest first, with its aliases, tags and run metrics."""
        try:
            found = self.client.search_model_versions(f"name = '{_quoted(self.name)}'")
            runs = {v.run_id: self.client.get_run(v.run_id) for v in found if v.run_id}
            aliases = self.client.get_registered_model(self.name).aliases if found else {}
        except MlflowException as err:
            raise RegistryError(f"mlflow {self.tracking_uri}: {err.message}") from None
        infos = [_version_info(v, runs.get(v.run_id), aliases) for v in found]
        return sorted(infos, key=lambda v: int(v.version), reverse=True)

    def plot(self, version: VersionInfo, folder: Path) -> Path | None:
        """Download the version's series plot into `folder`; None when it has none."""
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=version.run_id,
                artifact_path=PLOT,
                dst_path=str(folder),
                tracking_uri=self.tracking_uri,
            )
        except (MlflowException, OSError):
            return None
        return Path(path)

    def rollback(self, version: str | None, reason: str, author: str = "slopipe") -> str:
        """Make an earlier version the champion again; return it.

        Without `version`, the champion before the current one (the promotion history);
        a named `version` must be older than the champion (use `promote` otherwise)."""
        champion = self.champion()
        history = self._history()
        if version is None:
            if len(history) < 2 or champion is None:
                raise RegistryError(f"model {self.name}: no earlier champion to roll back to")
            version = history[-2]
        elif champion is None or int(version) >= int(champion.version):
            now = champion.version if champion else "none"
            raise RegistryError(
                f"model {self.name}: roll back goes to a version older than the champion "
                f"({now}); use promote for version {version}"
            )
        self.note(version, "rolled_back_from", champion.version)
        self._set_champion(version, "rollback_reason", reason, author)
        kept = history[: history.index(version) + 1] if version in history else [*history, version]
        self._set_history(kept)
        return version

    def _history(self) -> list[str]:
        try:
            tags = self.client.get_registered_model(self.name).tags
        except MlflowException:
            return []
        text = tags.get("champion_history", "")
        return [v for v in text.split(",") if v]

    def _set_history(self, versions: list[str]) -> None:
        self.client.set_registered_model_tag(self.name, "champion_history", ",".join(versions))

    def note(self, version: str, key: str, value: str) -> None:
        self.client.set_model_version_tag(self.name, version, key, value)

    def log_service_model(self, run_id: str, service: str, model: object, document: dict) -> str:
        """Log a service model (joblib) and a JSON document describing it on a training run,
        under `services/<service>/`; return that artifact folder.

        Beside the per-series model of the same run, not registered: the validation gate and
        the champion alias are per-series (TODO: register service models once a gate judges
        them).
        """
        folder = f"services/{_safe_path(service)}"
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "service_model.joblib"
                joblib.dump(model, path)
                self.client.log_artifact(run_id, str(path), folder)
            self.client.log_dict(run_id, document, f"{folder}/service.json")
        except MlflowException as err:
            raise RegistryError(f"mlflow {self.tracking_uri}: {err.message}") from None
        log.info("mlflow: logged service model %s on run %s", service, run_id)
        return folder

    def log_gate(self, run_id: str, figures: dict[str, float]) -> None:
        """Record the validation gate's figures on the candidate's training run."""
        finite = {f"gate_{k}": float(v) for k, v in figures.items() if v == v}
        self.client.log_batch(
            run_id, metrics=[Metric(k, v, _now_ms(), 0) for k, v in finite.items()]
        )


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _safe_path(name: str) -> str:
    """A name as one artifact folder: anything but letters, digits, `.`, `-`, `_` becomes `_`."""
    return re.sub(r"[^\w.-]", "_", name)


def _quoted(name: str) -> str:
    """A model name inside a single-quoted MLflow filter string."""
    return name.replace("\\", "\\\\").replace("'", "\\'")


def _version_info(version, run, aliases: dict[str, str]) -> VersionInfo:
    return VersionInfo(
        version=str(version.version),
        run_id=version.run_id,
        created_at=pd.Timestamp(version.creation_timestamp, unit="ms", tz="UTC"),
        aliases=tuple(sorted(a for a, v in aliases.items() if str(v) == str(version.version))),
        tags=dict(version.tags or {}),
        metrics=dict(run.data.metrics) if run else {},
        params=dict(run.data.params) if run else {},
    )
