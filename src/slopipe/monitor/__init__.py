"""Stage 7, monitor: score what is new with the champion model."""
