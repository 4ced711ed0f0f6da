"""`slopipe doctor`: is this machine ready, and is every configured service reachable?

Each check gives a status (ok, fail, skip), what it found, and how to fix a failure.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata

import httpx
import sqlalchemy as sa

from slopipe.config import Settings

PACKAGES = (
    "mlflow",
    "scikit-learn",
    "pandas",
    "pyarrow",
    "deltalake",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "streamlit",
    "dask",
    "distributed",
)
BINARIES = {
    "promtool": "apt-get install prometheus (needed by tests and rule checks)",
    "prometheus": "apt-get install prometheus",
    "prometheus-alertmanager": "apt-get install prometheus-alertmanager",
}


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, fail or skip
    detail: str
    fix: str = ""


def run_checks(settings: Settings) -> list[Check]:
    checks = [_python(), *(_package(p) for p in PACKAGES), _home(settings)]
    checks += [_binary(name, fix) for name, fix in BINARIES.items()]
    checks += [_slo_store(settings), _mlflow(settings)]
    checks.append(
        _http(
            "alertmanager",
            settings.alertmanager_url,
            "/api/v2/status",
            _am_version,
            "check SLOPIPE_ALERTMANAGER_URL, or unset it to keep alerts in the store",
        )
    )
    checks.append(
        _http(
            "prometheus",
            settings.prometheus.url,
            "/api/v1/status/buildinfo",
            _prom_version,
            "check SLOPIPE_PROMETHEUS__URL",
        )
    )
    return checks


def as_dicts(checks: list[Check]) -> list[dict]:
    return [asdict(c) for c in checks]


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 11)
    return Check(
        "python", "ok" if ok else "fail", version, "" if ok else "use Python 3.11 or newer"
    )


def _package(name: str) -> Check:
    try:
        return Check(f"package {name}", "ok", metadata.version(name))
    except metadata.PackageNotFoundError:
        return Check(f"package {name}", "fail", "not installed", "run `make venv`")


def _binary(name: str, fix: str) -> Check:
    path = shutil.which(name)
    return Check(
        f"binary {name}", "ok" if path else "skip", path or "not found", "" if path else fix
    )


def _home(settings: Settings) -> Check:
    try:
        settings.home.mkdir(parents=True, exist_ok=True)
        probe = settings.home / ".doctor"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        return Check(
            "home", "fail", f"{settings.home}: {err.strerror}", "set --home or SLOPIPE_HOME"
        )
    return Check("home", "ok", str(settings.home.resolve()))


def _slo_store(settings: Settings) -> Check:
    url = settings.slo_db_url
    try:
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                version = connection.execute(sa.text("show server_version")).scalar()
            else:
                version = connection.execute(sa.text("select sqlite_version()")).scalar()
    except Exception as err:  # noqa: BLE001 - any driver error is reported as a failed check
        fix = "check SLOPIPE_DB_URL (e.g. postgresql+psycopg://user@host:5432/db)"
        return Check("slo store", "fail", str(err).splitlines()[0], fix)
    where = sa.make_url(url).render_as_string(hide_password=True)
    return Check("slo store", "ok", f"{engine.dialect.name} {version} at {where}")


def _mlflow(settings: Settings) -> Check:
    uri = settings.tracking_uri
    if not uri.startswith("http"):
        return Check("mlflow", "ok", f"local store {uri}")
    return _http(
        "mlflow",
        uri,
        "/version",
        lambda r: f"mlflow server {r.text.strip()}",
        "check MLFLOW_TRACKING_URI, or unset it to use the local store",
    )


def _http(name: str, url: str | None, path: str, version: Callable, fix: str) -> Check:
    if not url:
        return Check(name, "skip", "not configured")
    try:
        response = httpx.get(url.rstrip("/") + path, timeout=5)
        response.raise_for_status()
        return Check(name, "ok", f"{version(response)} at {url}")
    except (httpx.HTTPError, ValueError, KeyError) as err:
        return Check(name, "fail", f"{url}: {err}", fix)


def _am_version(response: httpx.Response) -> str:
    return f"alertmanager {response.json()['versionInfo']['version']}"


def _prom_version(response: httpx.Response) -> str:
    return f"prometheus {response.json()['data']['version']}"
