"""Tracking runs and registering models in MLflow.

Local by default (a SQLite tracking store and artifacts under the home folder); any MLflow
server when `MLFLOW_TRACKING_URI` names one. Aliases: `champion` is the model that scores,
`challenger` the newest candidate.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import joblib
import mlflow
import pandas as pd
import sklearn
from matplotlib.figure import Figure
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
        figure: Figure | None,
        example: pd.DataFrame,
    ) -> RegisteredModel:
        """Log a training run and register its model as a new version aliased challenger."""
        try:
            with mlflow.start_run(experiment_id=self.experiment_id) as run:
                mlflow.log_params(params)
                mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
                if figure is not None:
                    mlflow.log_figure(figure, "series_with_anomalies.png")
                version = self._log_model(model, example)
            self.client.set_registered_model_alias(self.name, CHALLENGER, version)
        except MlflowException as err:
            raise RegistryError(f"mlflow {self.tracking_uri}: {err.message}") from None
        log.info(
            "mlflow: logged run %s, registered %s version %s", run.info.run_id, self.name, version
        )
        return RegisteredModel(self.name, version, run.info.run_id)

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
        try:
            found = self.client.get_model_version_by_alias(self.name, CHAMPION)
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
        self.client.set_registered_model_alias(self.name, CHAMPION, version)
        self.client.set_model_version_tag(self.name, version, "promotion_reason", reason)
        log.info("mlflow: %s version %s is now champion: %s", self.name, version, reason)

    def note(self, version: str, key: str, value: str) -> None:
        self.client.set_model_version_tag(self.name, version, key, value)
