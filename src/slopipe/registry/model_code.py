"""MLflow "model from code" entry: logged as the pyfunc's code, it names the model class."""

import mlflow.models

from slopipe.registry.pyfunc import AnomalyPyfunc

mlflow.models.set_model(AnomalyPyfunc())
