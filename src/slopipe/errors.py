"""Every error slopipe raises on purpose.

    SlopipeError                 root: the CLI prints its message on one line, exits 2
    ├── ConfigError              settings, paths or environment variables are wrong
    ├── InputError               a source file or sample is unusable (names file and line)
    ├── CollectError             a metric source did not answer as it should
    ├── LakeError                the data lake cannot be read or written
    ├── SloError                 SLO definitions or their evaluation
    │   ├── SloValidationError   a definition breaks a rule (names the SLO and field)
    │   └── SloConflictError     an edit was based on a version that is no longer current
    ├── DetectError              the anomaly model cannot be fitted or used
    ├── RegistryError            MLflow tracking or model registry
    └── AlertError               alerts could not be delivered

Messages name the thing that is wrong and, where we can tell, how to fix it. Lower layers
raise with the precise location; callers may add context with `wrap`.
"""

from __future__ import annotations


class SlopipeError(Exception):
    """Root of every error slopipe raises on purpose."""

    exit_code = 2


class ConfigError(SlopipeError):
    """Settings, paths or environment variables are wrong."""


class InputError(SlopipeError):
    """A source file or a sample cannot be used."""


class CollectError(SlopipeError):
    """A metric source did not answer as it should."""


class LakeError(SlopipeError):
    """The data lake cannot be read or written."""


class SloError(SlopipeError):
    """An SLO definition or its evaluation failed."""


class SloValidationError(SloError):
    """An SLO definition breaks a rule."""

    def __init__(self, slo: str, field: str, problem: str):
        self.slo, self.field, self.problem = slo, field, problem
        super().__init__(f"slo {slo}: {field}: {problem}")


class SloConflictError(SloError):
    """An edit was based on a version of the SLO that someone else has since replaced."""

    def __init__(self, slo: str, based_on_version: int, current_version: int):
        self.slo = slo
        self.based_on_version, self.current_version = based_on_version, current_version
        super().__init__(
            f"slo {slo}: not saved: your edit started from version {based_on_version}, "
            f"but version {current_version} was saved since; review it and edit again"
        )


class DetectError(SlopipeError):
    """The anomaly model cannot be fitted or used."""


class RegistryError(SlopipeError):
    """MLflow tracking or the model registry failed."""


class AlertError(SlopipeError):
    """Alerts could not be delivered."""


def wrap(context: str, error: SlopipeError) -> SlopipeError:
    """Return an error of the same class whose message starts with `context`."""
    wrapped = type(error).__new__(type(error))
    Exception.__init__(wrapped, f"{context}: {error}")
    wrapped.__dict__.update(error.__dict__)
    return wrapped


def yaml_problem(err: Exception) -> str:
    """A YAML parse error in one line, with its line and column when known."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
