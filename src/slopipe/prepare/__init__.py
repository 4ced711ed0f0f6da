"""Stage 3, prepare: clean samples into regular series, then build detector features."""

from slopipe.prepare.clean import PrepareReport, prepare
from slopipe.prepare.features import FEATURES, build_features

__all__ = ["FEATURES", "PrepareReport", "build_features", "prepare"]
