"""Stage 6, registry: MLflow tracking, the model registry, and the promotion gate."""
