"""Request planning from window counts (pure)."""

from __future__ import annotations

import pytest

from slopipe.collect.plan import Chunk, Grid, grid_for, plan_chunks


def test_a_grid_has_whole_second_windows_and_at_most_the_asked_number():
    grid = grid_for(0, 86_400_000, max_windows=1000)
    assert (grid.window_ms, grid.windows) == (87_000, 994)
    assert grid.last_end_ms >= 86_400_000
    assert grid_for(0, 5_000, max_windows=1000).window_ms == 1000


GRID = Grid(start_ms=0, window_ms=10, windows=6)  # windows end at 10, 20, ..., 60


@pytest.mark.parametrize(
    "counts, budget, chunks",
    [
        # everything fits: one chunk from the start to the last non-empty window
        ({10: 3, 20: 4}, 10, [(0, 20, 7)]),
        # empty windows between are carried along, trailing empty ones are not fetched
        ({10: 3, 40: 4}, 10, [(0, 40, 7)]),
        # the budget closes a chunk
        ({10: 6, 20: 6, 30: 6}, 12, [(0, 20, 12), (20, 30, 6)]),
        # a window above the budget is split evenly
        ({20: 25}, 10, [(10, 13, 9), (13, 16, 9), (16, 20, 9)]),
        # nothing counted: nothing to fetch
        ({}, 10, []),
    ],
)
def test_chunks_follow_the_counts(counts, budget, chunks):
    planned = plan_chunks("s", 0, 60, GRID, counts, budget)
    assert [(c.start_ms, c.end_ms, c.estimate) for c in planned] == chunks


def test_chunks_start_at_the_watermark_and_stop_at_the_end():
    planned = plan_chunks("s", 15, 55, GRID, {20: 2, 60: 1}, 100)
    assert planned == [Chunk("s", 15, 55, 3)]


def test_a_window_above_the_budget_is_handed_to_dense_and_closes_the_chunk_before_it():
    asked = []

    def dense(low, high, count):
        asked.append((low, high, count))
        return [Chunk("s", low, 25, 8), Chunk("s", 25, high, 7)]

    planned = plan_chunks("s", 0, 60, GRID, {10: 2, 30: 15, 40: 1}, 10, dense)
    assert asked == [(20, 30, 15)]
    assert [(c.start_ms, c.end_ms) for c in planned] == [(0, 10), (20, 25), (25, 30), (30, 40)]
