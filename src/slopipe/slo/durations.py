"""Durations as OpenSLO, Sloth and Prometheus write them: `30s`, `5m`, `1h`, `28d`, `1w`."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SECONDS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def parse_duration(text: str) -> timedelta:
    """`5m`, `28d` or `1w` as a timedelta (months and quarters are calendar-only)."""
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30s, 5m, 1h, 28d or 1w")
    return timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})


def format_duration(duration: timedelta) -> str:
    """The largest whole unit that writes `duration` exactly: 30d, 6h, 5m (no weeks, as
    Prometheus and Sloth write periods in days)."""
    seconds = int(duration.total_seconds())
    for unit, size in _SECONDS[1:]:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: 1s divides every whole number of seconds")
