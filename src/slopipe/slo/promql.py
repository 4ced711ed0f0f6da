"""PromQL for SLI sources: what slopipe reads from the lake, written for Prometheus."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from slopipe.slo.model import MetricSource, RatioIndicator, format_le

WINDOW = "{{.window}}"
#: The comparison that breaks an objective's `op`: a value is bad when it holds.
NEGATED = {"lt": ">=", "lte": ">", "gt": "<=", "gte": "<"}


def selector(source: MetricSource, spelled: Iterable[str] = ()) -> str:
    """The series selector of a lake source (lake names are selectors already). A bucket
    bound matches every client spelling, and those in `spelled` (found in the lake)."""
    if source.le is None:
        return str(source.series)
    forms = sorted(le_spellings(source.le) | set(spelled))
    if len(forms) == 1:
        le = f'le="{forms[0]}"'
    else:
        le = 'le=~"' + "|".join(re.sub(r"([.+])", r"\\\\\1", f) for f in forms) + '"'
    return f"{source.series}{{{','.join(m for m in (source.matchers, le) if m)}}}"


def le_spellings(le: float) -> set[str]:
    """How clients write a bucket bound: Go `1`, `1e+06`; Python `1.0`, and `1e+06` from a
    million on (its `floatToGoString`); Prometheus 3 rewrites scraped bounds the Python way."""
    go = format_le(le)
    if math.isinf(le) or "e" in go:
        return {go}
    return {go, repr(float(le))}


def rate(source: MetricSource, window: str) -> str:
    """Per-second rate of a counter source summed to one series, over `window`.

    A Sloth-style query holding `{{.window}}` is used as written; a plain query or a lake
    series is taken for a counter selector.
    """
    if source.type == "prometheus" and WINDOW in str(source.query):
        return str(source.query).replace(WINDOW, window)
    text = str(source.query) if source.type == "prometheus" else selector(source)
    return f"sum(rate({text}[{window}]))"


def error_rate(indicator: RatioIndicator, window: str) -> str:
    """Bad events per second. A bad series that does not exist yet counts as zero (`or
    vector(0)`): without it the ratio has no value at all until the first error."""
    if indicator.bad is not None:
        return f"({rate(indicator.bad, window)} or vector(0))"
    total, good = rate(indicator.total, window), rate(indicator.good, window)
    return f"({total} - ({good} or vector(0)))"


def error_ratio(indicator: RatioIndicator, window: str) -> str:
    """Bad over total within one window: a ratio of sums."""
    return f"{error_rate(indicator, window)}\n/\n{rate(indicator.total, window)}"


def total_increase(indicator: RatioIndicator, window: str) -> str:
    return f"({rate(indicator.total, window)} * {_seconds(window)})"


def _seconds(window: str) -> int:
    from slopipe.slo.durations import parse_duration

    return int(parse_duration(window).total_seconds())


def number(value: float) -> str:
    """A number as the rules write it: 12 significant digits (0.001, 14.4, 0.000500000001)."""
    return f"{round(value, 12):.12g}"
