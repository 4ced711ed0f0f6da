"""Tracking runs and registering models in MLflow.

Local by default (a SQLite tracking store and artifacts under the home folder); any MLflow
server when `MLFLOW_TRACKING_URI` names one. Aliases: `champion` is the model that scores,
`challenger` the newest candidate.
"""

from __future__ import annotations

import logging
import os
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
from slopipe.errors import RegistryError
from slopipe.registry.pyfunc import AnomalyPyfunc

log = logging.getLogger(__name__)

EXPERIMENT = "slopipe"
MODEL_CODE = Path(__file__).with_name("model_code.py")
CHAMPION, CHALLENGER = "champion", "challenger"


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
        return pyfunc.unwrap_python_model().model

    def promote(self, version: str, reason: str) -> None:
        """Make `version` the champion; the reason and the time are kept as tags."""
        self._require_version(version)
        history = self._history()
        self.client.set_registered_model_alias(self.name, CHAMPION, version)
        self.client.set_model_version_tag(self.name, version, "promotion_reason", reason)
        self.client.set_model_version_tag(
            self.name, version, "promoted_at", datetime.now(UTC).isoformat()
        )
        self._set_history([*history, version])
        log.info("mlflow: %s version %s is now champion: %s", self.name, version, reason)

    def rollback(self, reason: str) -> str:
        """Give the champion alias back to the previous champion; return its version."""
        history = self._history()
        if len(history) < 2:
            raise RegistryError(f"model {self.name}: no earlier champion to roll back to")
        previous = history[-2]
        self.client.set_registered_model_alias(self.name, CHAMPION, previous)
        self.client.set_model_version_tag(self.name, history[-1], "rolled_back", reason)
        self.client.set_model_version_tag(
            self.name, previous, "promotion_reason", f"rollback: {reason}"
        )
        self._set_history(history[:-1])
        log.info("mlflow: rolled %s back from version %s to %s", self.name, history[-1], previous)
        return previous

    def _history(self) -> list[str]:
        try:
            tags = self.client.get_registered_model(self.name).tags
        except MlflowException:
            return []
        text = tags.get("champion_history", "")
        return [v for v in text.split(",") if v]

    def _set_history(self, versions: list[str]) -> None:
        self.client.set_registered_model_tag(self.name, "champion_history", ",".join(versions))

    def _require_version(self, version: str) -> None:
        try:
            self.client.get_model_version(self.name, version)
        except MlflowException:
            raise RegistryError(f"model {self.name} has no version {version!r}") from None

    def note(self, version: str, key: str, value: str) -> None:
        self.client.set_model_version_tag(self.name, version, key, value)

    def log_gate(self, run_id: str, figures: dict[str, float]) -> None:
        """Record the validation gate's figures on the candidate's training run."""
        finite = {f"gate_{k}": float(v) for k, v in figures.items() if v == v}
        self.client.log_batch(
            run_id, metrics=[Metric(k, v, _now_ms(), 0) for k, v in finite.items()]
        )

    def versions(self) -> list[dict]:
        """Every version, newest first, with aliases, tags and its run's metrics."""
        try:
            found = self.client.search_model_versions(f"name = '{self.name}'")
        except MlflowException as err:
            raise RegistryError(f"mlflow {self.tracking_uri}: {err.message}") from None
        rows = []
        for listed in sorted(found, key=lambda v: int(v.version), reverse=True):
            # Search results leave aliases out; a direct read has them.
            version = self.client.get_model_version(self.name, listed.version)
            run = self.client.get_run(version.run_id) if version.run_id else None
            rows.append(
                {
                    "version": str(version.version),
                    "aliases": sorted(version.aliases),
                    "created": datetime.fromtimestamp(version.creation_timestamp / 1000, UTC),
                    "run_id": version.run_id,
                    "tags": dict(version.tags),
                    "metrics": dict(run.data.metrics) if run else {},
                }
            )
        return rows


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
