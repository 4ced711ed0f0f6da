"""The runner: the same outcomes in-process and on a real local Dask cluster."""

from __future__ import annotations

import pytest

from slopipe.errors import InputError
from slopipe.scale import Runner


def square_or_refuse(n: int) -> int:
    if n == 3:
        raise InputError("item 3: refused for a data reason")
    return n * n


@pytest.mark.parametrize("workers", [None, 2], ids=["in-process", "local-cluster"])
def test_a_data_failure_is_reported_and_the_others_finish(workers):
    with Runner(workers=workers) as runner:
        outcomes = runner.map(square_or_refuse, range(6))
    assert [o.item for o in outcomes] == list(range(6))
    assert [o.value for o in outcomes if o.ok] == [0, 1, 4, 16, 25]
    [failed] = [o for o in outcomes if not o.ok]
    assert failed.item == 3 and failed.error == "item 3: refused for a data reason"
