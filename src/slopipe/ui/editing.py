"""Editing an SLO document: the fields the UI changes, their validation, and diffs.

The UI changes objectives, the window, the budgeting method and the alert tiers of a stored
OpenSLO document and validates the result with the SLO engine's own parser, so its messages
(`slo NAME: FIELD: problem`) reach the editor unchanged. Nothing typed here becomes SQL or
PromQL: queries are not editable, and the store binds every value as a parameter.

Alert tiers are multi-window burn-rate alerts (SRE Workbook, ch. 5): a tier fires when the
burn rate over both its long and its short window reaches its threshold. The UI shows the
tiers the SLO engine would use (`slo.catalogue.resolve_tiers`): the catalogue of the SLO's
period unless the document lists its own. Saving keeps following the catalogue while the
editor only switches tiers off or on (the `slopipe.io/disable-tiers` annotation); changed or
added tiers are written as inline OpenSLO alert policies with `burnrate` conditions, named
after the tier, `lookbackWindow` the long window and `alertAfter` the short one.
"""

from __future__ import annotations

import copy
import difflib
import math
from dataclasses import dataclass, replace

import yaml

from slopipe.errors import SloValidationError
from slopipe.slo import openslo
from slopipe.slo.catalogue import catalogues, declared_tiers
from slopipe.slo.durations import format_duration
from slopipe.slo.evaluate import BURN_WINDOWS as _BURN_WINDOWS
from slopipe.slo.model import SloDefinition

SEVERITIES = ("page", "ticket")
METHODS = openslo.METHODS
DISABLE_TIERS = openslo.ANNOTATION + "disable-tiers"

#: The windows a tier may use, by their OpenSLO duration ("5m", "2h", ...): the engine's
#: reported burn windows and every window of the catalogues.
BURN_WINDOWS = {
    format_duration(w): w
    for w in sorted(
        set(_BURN_WINDOWS)
        | {
            w
            for tiers in catalogues().values()
            for t in tiers
            for w in (t.long_window, t.short_window)
        }
    )
}


@dataclass(frozen=True)
class AlertTier:
    name: str
    severity: str
    burn_rate: float
    long_window: str
    short_window: str
    enabled: bool = True

    @property
    def label(self) -> str:
        return (
            f"{self.name}: {self.severity} {self.burn_rate:g}x over "
            f"{self.long_window}/{self.short_window}"
        )

    def same_rule(self, other: AlertTier) -> bool:
        """Equal but for `enabled` (burn rates compared to 1e-9, as derived factors)."""
        return (self.name, self.severity, self.long_window, self.short_window) == (
            other.name,
            other.severity,
            other.long_window,
            other.short_window,
        ) and math.isclose(self.burn_rate, other.burn_rate, rel_tol=1e-9)


@dataclass(frozen=True)
class Proposal:
    """What an editor asks for: every field the UI edits, from `current_proposal` on."""

    objective_ratios: tuple[float, ...]
    window: str
    budgeting_method: str
    time_slice_window: str | None
    tiers: tuple[AlertTier, ...]


def tiers_of(document: dict) -> tuple[AlertTier, ...]:
    """The tiers the SLO engine reads from a document, switched-off ones with `enabled`
    False: its own alert policies, or else its period's catalogue."""
    definition = openslo.parse_slo(document)
    return _as_ui(definition)


def _as_ui(definition: SloDefinition) -> tuple[AlertTier, ...]:
    tiers = declared_tiers(definition.alerting, definition.window.duration)
    disabled = definition.alerting.disabled
    return tuple(replace(_from_engine(t), enabled=t.name not in disabled) for t in tiers)


def _from_engine(tier) -> AlertTier:
    return AlertTier(
        tier.name,
        tier.severity,
        tier.factor,
        format_duration(tier.long_window),
        format_duration(tier.short_window),
    )


def follows_catalogue(document: dict) -> bool:
    return not (document.get("spec") or {}).get("alertPolicies")


def current_proposal(document: dict) -> Proposal:
    """The stored values as a proposal: the starting point of an edit."""
    definition = openslo.parse_slo(document)
    spec = document["spec"]
    return Proposal(
        objective_ratios=tuple(o.objective_ratio for o in definition.objectives),
        window=str(spec["timeWindow"][0]["duration"]),
        budgeting_method=definition.budgeting_method,
        time_slice_window=next(
            (o.get("timeSliceWindow") for o in spec["objectives"] if "timeSliceWindow" in o),
            None,
        ),
        tiers=tiers_of(document),
    )


def apply_proposal(document: dict, proposal: Proposal) -> dict:
    """A copy of `document` with the proposal's values; validate it with `validate`."""
    edited = copy.deepcopy(document)
    spec = edited.setdefault("spec", {})
    for objective, ratio in zip(
        spec.get("objectives") or [], proposal.objective_ratios, strict=False
    ):
        objective.pop("targetPercent", None)
        objective["target"] = float(ratio)
        if proposal.time_slice_window and proposal.budgeting_method != "Occurrences":
            objective["timeSliceWindow"] = proposal.time_slice_window
    spec["timeWindow"] = [{"duration": proposal.window.strip(), "isRolling": True}]
    spec["budgetingMethod"] = proposal.budgeting_method
    _write_tiers(document, edited, proposal.tiers)
    return edited


def _write_tiers(document: dict, edited: dict, tiers: tuple[AlertTier, ...]) -> None:
    """Tiers unchanged from a catalogue document's (but for switching them off) keep
    following the catalogue, also of a new period; other tiers are written out."""
    spec = edited["spec"]
    if follows_catalogue(document) and _same_rules(tiers, tiers_of(document)):
        spec.pop("alertPolicies", None)
    else:
        spec["alertPolicies"] = [_policy(t) for t in tiers]
    annotations = edited.setdefault("metadata", {}).setdefault("annotations", {})
    disabled = [t.name for t in tiers if not t.enabled]
    if disabled:
        annotations[DISABLE_TIERS] = ",".join(disabled)
    else:
        annotations.pop(DISABLE_TIERS, None)
        if not annotations:
            edited["metadata"].pop("annotations")


def _same_rules(a: tuple[AlertTier, ...], b: tuple[AlertTier, ...]) -> bool:
    return len(a) == len(b) and all(x.same_rule(y) for x, y in zip(a, b, strict=True))


def validate(document: dict) -> SloDefinition:
    """Parse with the SLO engine and check the tiers; raises `SloValidationError`."""
    definition = openslo.parse_slo(document, where="edited SLO")
    if not follows_catalogue(document):
        for i, tier in enumerate(_as_ui(definition)):
            _check_tier(definition, tier, f"spec.alertPolicies[{i}].spec.conditions[0].spec")
    return definition


def _check_tier(definition: SloDefinition, tier: AlertTier, field: str) -> None:
    def fail(part: str, problem: str) -> None:
        raise SloValidationError(definition.name, f"{field}.{part}", problem)

    usable = [k for k, v in BURN_WINDOWS.items() if v < definition.window.duration]
    if tier.severity not in SEVERITIES:
        fail("severity", f"is {tier.severity!r}; use one of {', '.join(SEVERITIES)}")
    if not tier.burn_rate > 0:
        fail("condition.threshold", "the burn rate threshold must be above 0")
    windows = (("lookbackWindow", tier.long_window), ("alertAfter", tier.short_window))
    for part, window in windows:
        if window not in usable:
            fail(
                f"condition.{part}",
                f"is {window!r}; use one of {', '.join(usable)} (shorter than the window)",
            )
    if BURN_WINDOWS[tier.short_window] >= BURN_WINDOWS[tier.long_window]:
        fail("condition.alertAfter", "must be shorter than lookbackWindow")


def _policy(tier: AlertTier) -> dict:
    condition = {
        "kind": "burnrate",
        "op": "gte",
        "threshold": float(tier.burn_rate),
        "lookbackWindow": tier.long_window,
        "alertAfter": tier.short_window,
    }
    return {
        "kind": "AlertPolicy",
        "metadata": {"name": tier.name},
        "spec": {
            "conditions": [
                {
                    "kind": "AlertCondition",
                    "metadata": {"name": tier.name},
                    "spec": {"severity": tier.severity, "condition": condition},
                }
            ]
        },
    }


def as_yaml(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def diff(old: dict, new: dict, old_label: str = "before", new_label: str = "after") -> str:
    """A unified diff of two documents as YAML (empty when they are equal)."""
    lines = difflib.unified_diff(
        yaml.safe_dump(old, sort_keys=True).splitlines(),
        yaml.safe_dump(new, sort_keys=True).splitlines(),
        fromfile=old_label,
        tofile=new_label,
        lineterm="",
    )
    return "\n".join(lines)
