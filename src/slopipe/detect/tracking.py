"""MLflow runs of `slopipe detect`: a parent run on the client, a child run per series logged
by the worker that scored it.

A child run holds the detector's parameters and the series' figures (rows, flags, score
summary), and is tagged `mlflow.parentRunId` (MLflow shows it nested) and `slopipe.series`.
The streaming detector refits its forest along the series, so there is no one model to
log: nothing is registered from a worker, and the model registry stays the single source
of truth for served models.

A task opens its run before scoring and closes it after storing the scores; a series that
fails for a data reason while scoring leaves a FAILED run with the reason.

Retries: a task re-run after its worker died must not leave a second run. The child run is
found by its parent and a digest of the series name before one is created, so the retry
takes over the run its dead predecessor left RUNNING. Parameters are the same on every
attempt, and metrics carry the run's start time as their timestamp, so logging them again
stores nothing new. Two attempts running at once (a worker that was only presumed dead)
may both create a run: each looks again after creating, and all but the oldest are
deleted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import asdict, dataclass

from mlflow.entities import Metric, Param, Run, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from slopipe.detect.streaming import StreamingConfig
from slopipe.errors import RegistryError

log = logging.getLogger(__name__)

EXPERIMENT = "slopipe-detect"
SERIES_KEY = "slopipe.series_key"


@dataclass(frozen=True)
class Tracking:
    """Where a task logs its series' run: the server, the experiment and the parent run."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str


def series_key(series: str) -> str:
    """A filter-safe digest of a series name (names hold quotes, braces and commas)."""
    return hashlib.sha256(series.encode()).hexdigest()[:24]


def start_parent(
    tracking_uri: str, detector: str, config: StreamingConfig, experiment: str = EXPERIMENT
) -> Tracking:
    """Create the parent run of one `slopipe detect` on the client."""
    with _calling(tracking_uri):
        client = MlflowClient(tracking_uri)
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(experiment)
        tags = {"slopipe.detector": detector, "slopipe.command": "detect"}
        run = client.create_run(experiment_id, run_name=f"detect {detector}", tags=tags)
        client.log_batch(run.info.run_id, params=_params(config))
    log.info("mlflow: parent run %s in experiment %s", run.info.run_id, experiment)
    return Tracking(tracking_uri, experiment_id, run.info.run_id)


def finish_parent(tracking: Tracking, totals: dict[str, float], failed: dict[str, str]) -> None:
    with _calling(tracking.tracking_uri):
        client = MlflowClient(tracking.tracking_uri)
        run_id = tracking.parent_run_id
        client.log_batch(run_id, metrics=_metrics(totals, client.get_run(run_id)))
        if failed:
            client.log_dict(run_id, failed, "failed_series.json")
        client.set_terminated(run_id, "FINISHED")


def fail_parent(tracking: Tracking) -> None:
    with _calling(tracking.tracking_uri):
        MlflowClient(tracking.tracking_uri).set_terminated(tracking.parent_run_id, "FAILED")


def open_series_run(tracking: Tracking, series: str, detector: str, config: StreamingConfig) -> Run:
    """At the start of a task: the series' run under the parent, found or created, with
    the detector's parameters and this worker in its tags."""
    with _calling(tracking.tracking_uri):
        client = MlflowClient(tracking.tracking_uri)
        run = _series_run(client, tracking, series, detector)
        params = _params(config) + [Param("series", series), Param("detector", detector)]
        tags = [RunTag("slopipe.worker", f"{socket.gethostname()}:{os.getpid()}")]
        client.log_batch(run.info.run_id, params=params, tags=tags)
    return run


def close_series_run(
    tracking: Tracking, run: Run, figures: dict[str, float] | None, reason: str = ""
) -> None:
    """At the end: the series' figures, and FINISHED; or FAILED with the reason."""
    with _calling(tracking.tracking_uri):
        client = MlflowClient(tracking.tracking_uri)
        run_id = run.info.run_id
        if figures is None:
            client.set_tag(run_id, "slopipe.failed", reason[:5000])
            client.set_terminated(run_id, "FAILED")
            return
        client.log_batch(run_id, metrics=_metrics(figures, run))
        client.set_terminated(run_id, "FINISHED")


def series_runs(client: MlflowClient, tracking: Tracking, key: str | None = None) -> list[Run]:
    """The parent's live child runs (of one series key), oldest first."""
    query = f"tags.mlflow.parentRunId = '{tracking.parent_run_id}'"
    if key is not None:
        query += f" AND tags.`{SERIES_KEY}` = '{key}'"
    runs, token = [], None
    while True:
        page = client.search_runs(
            [tracking.experiment_id],
            query,
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1000,
            page_token=token,
        )
        runs += page
        token = page.token
        if not token:
            return sorted(runs, key=lambda r: (r.info.start_time, r.info.run_id))


def _series_run(client: MlflowClient, tracking: Tracking, series: str, detector: str) -> Run:
    key = series_key(series)
    found = series_runs(client, tracking, key)
    if not found:
        tags = {
            "mlflow.parentRunId": tracking.parent_run_id,
            "slopipe.series": series,
            SERIES_KEY: key,
            "slopipe.detector": detector,
        }
        client.create_run(tracking.experiment_id, run_name=series, tags=tags)
        found = series_runs(client, tracking, key)
    keep, *twins = found
    for twin in twins:  # a concurrent attempt created one too: keep the oldest only
        client.delete_run(twin.info.run_id)
        log.warning("mlflow: deleted run %s, a second run of series %s", twin.info.run_id, series)
    return keep


def _params(config: StreamingConfig) -> list[Param]:
    return [Param(k, str(v)) for k, v in sorted(asdict(config).items())]


def _metrics(figures: dict[str, float], run: Run) -> list[Metric]:
    """Figures as metrics at step 0, stamped with the run's start: re-logging adds nothing."""
    stamp = run.info.start_time
    return [Metric(k, float(v), stamp, 0) for k, v in sorted(figures.items())]


@contextmanager
def _calling(tracking_uri: str) -> Iterator[None]:
    """MLflow failures as a `RegistryError` naming the server; MLflow's notes ("View run
    ... at") on stderr, since stdout is for results."""
    try:
        with redirect_stdout(sys.stderr):
            yield
    except MlflowException as error:
        raise RegistryError(f"mlflow {tracking_uri}: {error.message}") from None
