"""Stage 2, lake: the Delta Lake table that keeps every sample.

See `table` for the layout and the guarantees (atomic, idempotent appends).
"""

from slopipe.lake.table import Lake

__all__ = ["Lake"]
