"""The promotion gate: does a model flag the periods that breach SLOs? Pure: no I/O.

The unit is the SLO's time slice over the held-out span. A slice is *breaching* when the SLO
burned budget faster than allowed in it (see `SloStatus.bad_periods`), and *flagged* when the
model marked an anomaly on any series the SLO reads during it. From the 2x2 table:

- with no champion, a candidate passes when flagged slices breach more often than the rest
  and a one-sided Fisher exact test rejects chance at `alpha`;
- against a champion, it passes when it also catches at least as many breaching slices, with
  an F1 no lower than the champion's;
- either way, its false alarms must fit the alert budget: false-alarm *episodes* (flagged
  healthy slices, those less than `EPISODE_GAP` apart merged, as alert grouping merges
  them) per SLO and day of held-out data may not exceed `false_alarms_per_day`. The default,
  2, follows the Google SRE book's on-call guidance of at most two incidents a shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact

from slopipe.slo.math import slice_index

EPISODE_GAP = timedelta(minutes=30)
FALSE_ALARMS_PER_DAY = 2.0


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
    false_alarm_episodes: int = 0
    slo_days: float = 0.0

    @property
    def false_alarms_per_day(self) -> float:
        return self.false_alarm_episodes / self.slo_days if self.slo_days else 0.0

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
            "false_alarm_episodes": self.false_alarm_episodes,
            "false_alarms_per_day": self.false_alarms_per_day,
        }


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    candidate: GateScore | None
    champion: GateScore | None


def score_slices(slices: list[SloSlices], flagged: pd.DataFrame) -> GateScore:
    """Confusion table of flagged vs breaching slices; `flagged` has series and timestamp."""
    tp = fp = fn = tn = episodes = 0
    days = 0.0
    for slo in slices:
        hit = _flagged_slices(slo, flagged)
        breaching = slo.breaching
        tp += len(hit & breaching)
        fp += len(hit - breaching)
        fn += len(breaching - hit)
        tn += slo.count - len(hit | breaching)
        gap = math.ceil(EPISODE_GAP / slo.slice_length)
        episodes += _episodes(sorted(hit - breaching), gap)
        days += slo.count * slo.slice_length / timedelta(days=1)
    if tp + fp + fn + tn == 0:
        return GateScore(0, 0, 0, 0, 1.0)
    _, p_value = fisher_exact([[tp, fp], [fn, tn]], alternative="greater")
    return GateScore(tp, fp, fn, tn, float(p_value), episodes, days)


def with_feedback(slices: list[SloSlices], feedback: pd.DataFrame) -> list[SloSlices]:
    """People's verdicts on flagged anomalies, folded into the gate's labels.

    `feedback` has series, timestamp and verdict (`true_positive` or `false_positive`, as
    `SloStore.feedback()` gives it). A slice holding a confirmed anomaly of an SLO's series
    counts as one the model should flag; a slice holding only rejected ones, as healthy.
    """
    if feedback is None or feedback.empty:
        return slices
    confirmed = feedback[feedback["verdict"] == "true_positive"]
    rejected = feedback[feedback["verdict"] == "false_positive"]
    folded = []
    for slo in slices:
        positive = _flagged_slices(slo, confirmed)
        negative = _flagged_slices(slo, rejected) - positive
        folded.append(replace(slo, breaching=frozenset((slo.breaching | positive) - negative)))
    return folded


def _episodes(slice_numbers: list[int], gap: int) -> int:
    """Runs of slice numbers, a run ending where the next number is more than `gap` on."""
    return sum(1 for i, n in enumerate(slice_numbers) if i == 0 or n - slice_numbers[i - 1] > gap)


def _flagged_slices(slo: SloSlices, flagged: pd.DataFrame) -> set[int]:
    rows = flagged[flagged["series"].isin(slo.series)]
    index = slice_index(rows["timestamp"], slo.start, slo.slice_length)
    return {int(i) for i in index if 0 <= i < slo.count}


def decide(
    slices: list[SloSlices],
    candidate_flags: pd.DataFrame,
    champion_flags: pd.DataFrame | None,
    alpha: float = 0.05,
    false_alarms_per_day: float = FALSE_ALARMS_PER_DAY,
) -> GateDecision:
    """Promote the candidate or not, with the reason in words."""
    if not any(s.breaching for s in slices):
        reason = "held-out span has no SLO-breaching slice to validate on"
        return GateDecision(False, reason, None, None)
    candidate = score_slices(slices, candidate_flags)
    champion = score_slices(slices, champion_flags) if champion_flags is not None else None
    noise = candidate.false_alarms_per_day
    if noise > false_alarms_per_day:
        reason = (
            f"candidate raises {noise:.1f} false alarms per SLO-day, over the alert budget "
            f"of {false_alarms_per_day:g}"
        )
        return GateDecision(False, reason, candidate, champion)
    if champion is None:
        better = candidate.lift > 1.0 and candidate.p_value < alpha
        verdict = "flags SLO breaches better than chance" if better else "no better than chance"
        reason = (
            f"first model {verdict} (lift {candidate.lift:.2f}, p={candidate.p_value:.3g}, "
            f"{noise:.1f} false alarms per SLO-day)"
        )
        return GateDecision(better, reason, candidate, None)
    better = candidate.tp >= champion.tp and _f1(candidate) >= _f1(champion)
    verdict = "catches SLO breaches at least as well as" if better else "does worse than"
    reason = (
        f"candidate {verdict} the champion "
        f"(recall {candidate.recall:.2f} vs {champion.recall:.2f}, "
        f"F1 {_f1(candidate):.2f} vs {_f1(champion):.2f}, "
        f"{noise:.1f} false alarms per SLO-day)"
    )
    return GateDecision(better, reason, candidate, champion)


def _f1(score: GateScore) -> float:
    return 0.0 if np.isnan(score.f1) else score.f1
