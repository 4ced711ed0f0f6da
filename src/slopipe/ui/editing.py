"""Editing an SLO document: the fields the UI changes, their validation, and diffs.

The UI changes objectives, the window, the budgeting method and the alert tiers of a stored
OpenSLO document and validates the result with the SLO engine's own parser, so its messages
(`slo NAME: FIELD: problem`) reach the editor unchanged. Nothing typed here becomes SQL or
PromQL: queries are not editable, and the store binds every value as a parameter.

Alert tiers are multi-window burn-rate alerts (SRE Workbook, ch. 5): a tier fires when the
burn rate over both its long and its short window reaches its threshold. They are kept in
the document as inline OpenSLO alert policies with `burnrate` conditions; `lookbackWindow`
is the long window and `alertAfter` the short one, as the SLO engine reads them.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass

import yaml

from slopipe.errors import SloValidationError
from slopipe.slo import openslo
from slopipe.slo.durations import format_duration
from slopipe.slo.evaluate import BURN_WINDOWS as _BURN_WINDOWS
from slopipe.slo.model import SloDefinition

# TODO: read and write tiers through the SLO engine's burn-rate tier catalogue once it is
# merged (issue 4); until then the UI owns this inline format.
SEVERITIES = ("page", "ticket")
METHODS = openslo.METHODS

#: The burn-rate windows a tier may use, by their OpenSLO duration ("5m", "1h", ...).
BURN_WINDOWS = {format_duration(w): w for w in _BURN_WINDOWS}


@dataclass(frozen=True)
class AlertTier:
    severity: str
    burn_rate: float
    long_window: str
    short_window: str

    @property
    def label(self) -> str:
        return f"{self.severity} {self.burn_rate:g}x over {self.long_window}/{self.short_window}"


#: The SRE Workbook's three tiers: 2 % of the budget in 1 h, 5 % in 6 h, 10 % in 3 d.
DEFAULT_TIERS = (
    AlertTier("page", 14.4, "1h", "5m"),
    AlertTier("page", 6.0, "6h", "30m"),
    AlertTier("ticket", 1.0, "3d", "6h"),
)


@dataclass(frozen=True)
class Proposal:
    """What an editor asks for: every field the UI edits, from `current_proposal` on."""

    objective_ratios: tuple[float, ...]
    window: str
    budgeting_method: str
    time_slice_window: str | None
    tiers: tuple[AlertTier, ...]


def tiers_of(document: dict) -> tuple[AlertTier, ...]:
    """The alert tiers stored in a document, or the default tiers when it has none."""
    policies = (document.get("spec") or {}).get("alertPolicies") or []
    tiers = []
    for policy in policies:
        for condition in _get(policy, "spec", "conditions") or []:
            spec = _get(condition, "spec") or {}
            found = spec.get("condition") or {}
            if found.get("kind") == "burnrate":
                tiers.append(
                    AlertTier(
                        str(spec.get("severity", "page")),
                        float(found.get("threshold", 0)),
                        str(found.get("lookbackWindow", "")),
                        str(found.get("alertAfter", found.get("shortWindow", ""))),
                    )
                )
    return tuple(tiers) or DEFAULT_TIERS


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
    spec["alertPolicies"] = [_policy(edited, i, t) for i, t in enumerate(proposal.tiers)]
    return edited


def validate(document: dict) -> SloDefinition:
    """Parse with the SLO engine and check the tiers; raises `SloValidationError`."""
    definition = openslo.parse_slo(document, where="edited SLO")
    for i, tier in enumerate(tiers_of(document)):
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


def _policy(document: dict, index: int, tier: AlertTier) -> dict:
    name = f"{_get(document, 'metadata', 'name')}-{tier.severity}-{index + 1}"
    condition = {
        "kind": "burnrate",
        "op": "gte",
        "threshold": float(tier.burn_rate),
        "lookbackWindow": tier.long_window,
        "alertAfter": tier.short_window,
    }
    return {
        "kind": "AlertPolicy",
        "metadata": {"name": name},
        "spec": {
            "conditions": [
                {
                    "kind": "AlertCondition",
                    "metadata": {"name": f"{name}-burn-rate"},
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


def _get(doc, *keys):
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc
