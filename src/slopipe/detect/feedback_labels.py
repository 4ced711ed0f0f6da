"""People's verdicts on flagged anomalies, turned into NAB-style labelled windows.

The feedback page stores one verdict per flagged sample: `true_positive` (a real problem)
or `false_positive`. For `slopipe evaluate`, a file whose series has any verdict is a
labelled file, and its windows are made from the confirmed samples alone:

1. episodes: confirmed timestamps of the series, in order; a gap longer than `episode_gap`
   starts a new episode;
2. width: NAB gives a file's windows 10 % of its rows in all, shared equally among them
   (Lavin and Ahmad 2015, "Evaluating real-time anomaly detection algorithms"), so each
   episode gets `floor(0.1 * rows / episodes)` rows, and never fewer than it spans itself;
3. place: the window is centred on the episode and kept inside the file; windows that then
   overlap are merged.

A false positive adds no window: the file is still scored, so a flag there costs what NAB
charges for a false alarm. Pure: arrays in, row windows out.
"""

from __future__ import annotations

import numpy as np

from slopipe.detect.nab import Window

#: The share of a file's rows that NAB spreads over its windows.
WINDOW_SHARE = 0.1


def episodes(confirmed: np.ndarray, episode_gap: np.timedelta64) -> list[tuple[int, int]]:
    """`(first, last)` index pairs into sorted `confirmed` timestamps, one per episode."""
    if confirmed.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(confirmed) > episode_gap) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [confirmed.size]]) - 1
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def feedback_windows(
    timestamps: np.ndarray, confirmed: np.ndarray, episode_gap: np.timedelta64
) -> tuple[Window, ...]:
    """Row windows of one file (rows at `timestamps`) from its confirmed anomaly times."""
    confirmed = np.sort(np.asarray(confirmed, dtype="datetime64[ns]"))
    n_rows = len(timestamps)
    found = episodes(confirmed, episode_gap)
    if not found or n_rows == 0:
        return ()
    share_rows = int(WINDOW_SHARE * n_rows / len(found))
    windows: list[Window] = []
    for first, last in found:
        first_row, last_row = _rows_of(timestamps, confirmed[first], confirmed[last])
        windows.append(_centred(first_row, last_row, share_rows, n_rows))
    return merge_windows(windows)


def _rows_of(timestamps: np.ndarray, start, end) -> tuple[int, int]:
    """The rows an episode covers: from the first row at or after `start` to the last row at
    or before `end` (a confirmed time between two rows falls on the next one)."""
    last_index = len(timestamps) - 1
    first_row = min(int(np.searchsorted(timestamps, start, side="left")), last_index)
    last_row = int(np.searchsorted(timestamps, end, side="right")) - 1
    return first_row, max(first_row, min(last_row, last_index))


def _centred(first_row: int, last_row: int, width_rows: int, n_rows: int) -> Window:
    width_rows = min(max(width_rows, last_row - first_row + 1), n_rows)
    start = (first_row + last_row + 1 - width_rows) // 2
    start = min(max(start, 0), n_rows - width_rows)
    return Window(start, start + width_rows - 1)


def merge_windows(windows) -> tuple[Window, ...]:
    """Windows in row order, overlapping ones joined."""
    merged: list[Window] = []
    for window in sorted(windows, key=lambda w: w.first_row):
        if merged and window.first_row <= merged[-1].last_row:
            last = max(merged[-1].last_row, window.last_row)
            merged[-1] = Window(merged[-1].first_row, last)
        else:
            merged.append(window)
    return tuple(merged)
