"""The promotion gate: does a model flag the periods that breach SLOs? Pure: no I/O.

The unit is the SLO's time slice over the held-out span. A slice is *breaching* when the SLO
burned budget faster than allowed in it (see `SloStatus.bad_periods`), and *flagged* when the
model marked an anomaly on any series the SLO reads during it. From the 2x2 table:

- with no champion, a candidate passes when flagged slices breach more often than the rest
  and a one-sided Fisher exact test rejects chance at `alpha`;
- against a champion, it passes when it also catches at least as many breaching slices, with
  an F1 no lower than the champion's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact

from slopipe.slo.math import slice_index


@dataclass(frozen=True)
class SloSlices:
    """One SLO's held-out slices: which breached, and which series it reads.

    Slice k is (start + k*slice_length, start + (k+1)*slice_length], as in `slo.math`.
    """

    slo: str
    series: tuple[str, ...]
    start: pd.Timestamp
    slice_length: timedelta
    count: int
    breaching: frozenset[int]


@dataclass(frozen=True)
class GateScore:
    tp: int
    fp: int
    fn: int
    tn: int
    p_value: float

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def f1(self) -> float:
        total = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / total if total else float("nan")

    @property
    def lift(self) -> float:
        """Breach rate among flagged slices over the overall breach rate."""
        n = self.tp + self.fp + self.fn + self.tn
        base = (self.tp + self.fn) / n if n else 0.0
        return self.precision / base if base and self.tp + self.fp else 0.0

    def as_dict(self) -> dict:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "lift": self.lift,
            "p_value": self.p_value,
        }


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    candidate: GateScore | None
    champion: GateScore | None


def score_slices(slices: list[SloSlices], flagged: pd.DataFrame) -> GateScore:
    """Confusion table of flagged vs breaching slices; `flagged` has series and timestamp."""
    tp = fp = fn = tn = 0
    for slo in slices:
        hit = _flagged_slices(slo, flagged)
        breaching = slo.breaching
        tp += len(hit & breaching)
        fp += len(hit - breaching)
        fn += len(breaching - hit)
        tn += slo.count - len(hit | breaching)
    if tp + fp + fn + tn == 0:
        return GateScore(0, 0, 0, 0, 1.0)
    _, p_value = fisher_exact([[tp, fp], [fn, tn]], alternative="greater")
    return GateScore(tp, fp, fn, tn, float(p_value))


def _flagged_slices(slo: SloSlices, flagged: pd.DataFrame) -> set[int]:
    rows = flagged[flagged["series"].isin(slo.series)]
    index = slice_index(rows["timestamp"], slo.start, slo.slice_length)
    return {int(i) for i in index if 0 <= i < slo.count}


def decide(
    slices: list[SloSlices],
    candidate_flags: pd.DataFrame,
    champion_flags: pd.DataFrame | None,
    alpha: float = 0.05,
) -> GateDecision:
    """Promote the candidate or not, with the reason in words."""
    if not any(s.breaching for s in slices):
        return GateDecision(
            False, "held-out span has no SLO-breaching slice to validate on", None, None
        )
    candidate = score_slices(slices, candidate_flags)
    if champion_flags is None:
        better = candidate.lift > 1.0 and candidate.p_value < alpha
        verdict = "flags SLO breaches better than chance" if better else "no better than chance"
        reason = f"first model {verdict} (lift {candidate.lift:.2f}, p={candidate.p_value:.3g})"
        return GateDecision(better, reason, candidate, None)
    champion = score_slices(slices, champion_flags)
    better = candidate.tp >= champion.tp and _f1(candidate) >= _f1(champion)
    verdict = "catches SLO breaches at least as well as" if better else "does worse than"
    reason = (
        f"candidate {verdict} the champion "
        f"(recall {candidate.recall:.2f} vs {champion.recall:.2f}, "
        f"F1 {_f1(candidate):.2f} vs {_f1(champion):.2f})"
    )
    return GateDecision(better, reason, candidate, champion)


def _f1(score: GateScore) -> float:
    return 0.0 if np.isnan(score.f1) else score.f1
