"""The scoring API: `POST /score` with samples of one or more series returns the champion's
anomaly scores and flags, the same rows `mlflow models serve` returns for the same model.

Limits: a body over `max_body_bytes` gets 413 before it is read; over `max_samples` samples,
422. With a token, every request but `/healthz` and the docs needs `Authorization: Bearer
<token>` (401 otherwise). OpenAPI docs at `/docs` and `/openapi.json`.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable

import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from slopipe.detect.model import AnomalyModel
from slopipe.errors import DetectError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 2_000_000
MAX_SAMPLES = 50_000
RELOAD_SECONDS = 30.0


class Sample(BaseModel):
    series: str = Field(min_length=1, max_length=1000)
    timestamp: str = Field(description="ISO 8601, e.g. 2024-01-01T00:00:00Z")
    value: float
    kind: str = Field(default="gauge", pattern="^(gauge|counter|unknown)$")


class ScoreRequest(BaseModel):
    samples: list[Sample] = Field(min_length=1, max_length=MAX_SAMPLES)


class Score(BaseModel):
    series: str
    timestamp: str
    anomaly_score: float
    is_anomaly: bool


class ScoreResponse(BaseModel):
    model_version: str
    scores: list[Score]


class Champion:
    """The champion model, reloaded when the alias has moved (checked every 30 s at most)."""

    def __init__(self, load: Callable[[], tuple[str, AnomalyModel] | None]):
        self.load = load
        self.lock = threading.Lock()
        self.version: str | None = None
        self.model: AnomalyModel | None = None
        self.checked = float("-inf")

    def get(self) -> tuple[str, AnomalyModel]:
        with self.lock:
            if time.monotonic() - self.checked >= RELOAD_SECONDS:
                self.checked = time.monotonic()
                found = self.load()
                if found and found[0] != self.version:
                    self.version, self.model = found
                    log.info("serve: scoring with champion version %s", self.version)
            if self.model is None:
                raise HTTPException(503, "no champion model yet: train and promote one first")
            return self.version, self.model


def create_app(
    load: Callable[[], tuple[str, AnomalyModel] | None],
    token: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    app = FastAPI(
        title="slopipe scoring API",
        description="Anomaly scores of the champion model (higher is more anomalous).",
        version="1",
    )
    champion = Champion(load)

    @app.middleware("http")
    async def limit_size(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and int(length) > max_body_bytes:
            detail = f"body of {length} bytes is over the limit of {max_body_bytes}"
            return JSONResponse({"detail": detail}, status_code=413)
        return await call_next(request)

    def authorised(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise HTTPException(
                401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"}
            )

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/score", response_model=ScoreResponse, dependencies=[Depends(authorised)])
    def score(body: ScoreRequest) -> ScoreResponse:
        """Score samples of one or more series the champion was trained on. Scores are
        calibrated against each series' recent history: send a day and 2,028 samples of it
        with the samples you want scored (see `slopipe.detect.model`)."""
        version, model = champion.get()
        frame = pd.DataFrame([s.model_dump() for s in body.samples])
        try:
            scored = model.score(frame)
        except (DetectError, ValueError) as err:
            raise HTTPException(422, str(err)) from None
        scored["timestamp"] = scored["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = scored[["series", "timestamp", "anomaly_score", "is_anomaly"]]
        return ScoreResponse(model_version=version, scores=rows.to_dict("records"))

    return app


def registry_loader(settings) -> Callable[[], tuple[str, AnomalyModel] | None]:
    """Load the champion from the MLflow registry of `settings`."""
    from slopipe.registry.mlflow_registry import Registry

    registry = Registry(settings)

    def load() -> tuple[str, AnomalyModel] | None:
        found = registry.champion()
        return (found.version, registry.load(found)) if found else None

    return load
