"""Edits are data: one change to a rule, named by feature so a saved log replays on any fit.

An `Edit` is (kind, feature, value): "weight" (float >= 0), "enable" (bool), "sign" (+1 / -1),
"K" (> 0) or "m" (>= 0); K and m have no feature. Values are validated and normalised when the
edit is made, so a bad edit never reaches a rule, and a session file with a bad edit is refused
with one line when it is loaded.

Design choices:
- Features by name, not index: a session replays onto a refit (same data) even if a later
  version orders votes differently.
- A flip is not its own kind: `flip(rule, feature)` is a "sign" edit to minus the current sign,
  so replaying a log never depends on the state a flip was made in.
- Turning on a vote that has no weight gives it weight 1 (a disabled vote carries weight 0, and
  an "on" vote with no weight would change nothing a user could see). `vote_state` records the
  whole vote before an edit, so undo restores exactly what was there.
- Weights are clamped to MAX_WEIGHT: the prior is normalised by max|B|, so one huge weight would
  flatten every other entry to zero; 100x the default is far beyond any useful emphasis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rap_core.errors import RapError

EDIT_KINDS = ("weight", "enable", "sign", "K", "m")
FEATURE_KINDS = ("weight", "enable", "sign")
MAX_WEIGHT = 100.0
MAX_K = 1e6


WHAT = {  # how each value is named to a user, in the words of the rules pane
    "weight": "a vote's weight",
    "K": "K (the logit scale)",
    "m": "m (the vote threshold)",
}
ALLOWED = {
    "weight": f"a number from 0 to {MAX_WEIGHT:g} (0 turns the vote off)",
    "K": f"a number above 0 (at most {MAX_K:g})",
    "m": "a number of 0 or more (the rule says positive when the enabled votes "
         "that agree reach m - 1/2)",
}


def _number(kind: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)  # numpy scalars, numeric strings from a JSON hand-edit
        except (TypeError, ValueError):
            raise RapError(f"{WHAT[kind]} must be {ALLOWED[kind]}; {value!r} is not a "
                           f"number") from None
    value = float(value)
    if not math.isfinite(value):
        raise RapError(f"{WHAT[kind]} must be {ALLOWED[kind]}; got {value!r}")
    return value


def normalise_value(kind: str, value: Any):
    """The validated value of an edit of `kind` (RapError naming the allowed values).

    Too large a weight or K is clamped to MAX_WEIGHT / MAX_K (`clamp_note` says so to a user)."""
    if kind == "weight":
        value = _number(kind, value)
        if value < 0:
            raise RapError(f"{WHAT[kind]} must be {ALLOWED[kind]}; got {value:g}")
        return min(value, MAX_WEIGHT)
    if kind == "enable":
        if isinstance(value, bool):
            return value
        if value in (0, 1):
            return bool(value)
        raise RapError(f"edit 'enable' needs true or false, got {value!r}")
    if kind == "sign":
        if not isinstance(value, bool) and value in (1, -1):
            return int(value)
        raise RapError(f"a vote's sign must be +1 (inside) or -1 (outside), got {value!r}")
    if kind == "K":
        value = _number(kind, value)
        if not value > 0:
            raise RapError(f"{WHAT[kind]} must be {ALLOWED[kind]}; got {value:g}")
        return min(value, MAX_K)
    if kind == "m":
        value = _number(kind, value)
        if value < 0:
            raise RapError(f"{WHAT[kind]} must be {ALLOWED[kind]}; got {value:g}")
        return value
    raise RapError(f"unknown edit kind {kind!r}; use one of {', '.join(EDIT_KINDS)}")


def parse_value(kind: str, text: str) -> tuple[float, str | None]:
    """A typed value for `kind` ("weight", "K", "m"): (the value, a note if it was clamped).

    Raises RapError with what is allowed, in plain words: the dialog shows it and stays open.
    """
    text = text.strip()
    if not text:
        raise RapError(f"type {ALLOWED[kind]}, or press escape to keep the value")
    try:
        raw = float(text)
    except ValueError:
        raise RapError(f"{WHAT[kind]} must be {ALLOWED[kind]}; {text!r} is not a "
                       f"number") from None
    value = normalise_value(kind, raw)
    return value, clamp_note(kind, raw, value)


def clamp_note(kind: str, raw: float, value: float) -> str | None:
    """One line when `raw` was clamped to `value`, else None."""
    if value == raw:
        return None
    return f"{WHAT[kind]} {raw:g} is above the maximum; set to {value:g}"


@dataclass(frozen=True)
class Edit:
    """One change to a rule. `feature` names the vote (None for K and m)."""

    kind: str
    feature: str | None
    value: Any

    def __post_init__(self) -> None:
        if self.kind not in EDIT_KINDS:
            raise RapError(f"unknown edit kind {self.kind!r}; use one of {', '.join(EDIT_KINDS)}")
        if self.kind in FEATURE_KINDS:
            if not isinstance(self.feature, str) or not self.feature:
                raise RapError(f"edit {self.kind!r} needs a feature name")
        elif self.feature is not None:
            raise RapError(f"edit {self.kind!r} applies to the whole rule, not to a feature")
        object.__setattr__(self, "value", normalise_value(self.kind, self.value))

    def describe(self) -> str:
        """One line for a history list: "V3_t2 weight 1.5", "m = 2"."""
        if self.kind == "weight":
            return f"{self.feature} weight {self.value:g}"
        if self.kind == "enable":
            return f"{self.feature} {'on' if self.value else 'off'}"
        if self.kind == "sign":
            return f"{self.feature} votes {'inside' if self.value > 0 else 'outside'}"
        return f"{self.kind} = {self.value:g}"

    def to_json(self) -> dict:
        return {"kind": self.kind, "feature": self.feature, "value": self.value}

    @classmethod
    def from_json(cls, data: Any) -> Edit:
        if not isinstance(data, dict) or "kind" not in data or "value" not in data:
            raise RapError(f"an edit must be an object with kind, feature and value, "
                           f"got {str(data)[:60]!r}")
        return cls(str(data["kind"]), data.get("feature"), data["value"])


def flip(rule, feature: str) -> Edit:
    """The edit that makes `feature`'s vote point the other way."""
    return Edit("sign", feature, -int(rule.sign[rule.index(feature)]))


def toggle(rule, feature: str) -> Edit:
    """The edit that turns `feature`'s vote on or off."""
    return Edit("enable", feature, not bool(rule.enabled[rule.index(feature)]))


def nudge(rule, feature: str, delta: float) -> Edit | None:
    """The edit a `+`/`-` key means: the weight moved by `delta` (not below 0); raising a
    disabled vote turns it on (weight 1 if it had none); lowering one changes nothing (None)."""
    i = rule.index(feature)
    if not rule.enabled[i]:
        return toggle(rule, feature) if delta > 0 else None
    return Edit("weight", feature, max(0.0, round(float(rule.weight[i]) + delta, 6)))


def step_m(rule, step: int) -> Edit:
    """The edit a `[`/`]` key means: m moved by `step` (not below 0)."""
    return Edit("m", None, max(0.0, rule.m + step))


def vote_state(rule, edit: Edit) -> Edit | tuple:
    """What `edit` is about to overwrite: (sign, weight, enabled) of its vote, or the old K / m."""
    if edit.kind == "K":
        return Edit("K", None, rule.K)
    if edit.kind == "m":
        return Edit("m", None, rule.m)
    i = rule.index(edit.feature)
    return (int(rule.sign[i]), float(rule.weight[i]), bool(rule.enabled[i]))


def restore(rule, edit: Edit, state):
    """Undo `edit` given what `vote_state` recorded before it (exact: the values are copied)."""
    if edit.kind in ("K", "m"):
        return apply_edit(rule, state)
    sign, weight, enabled = state
    return rule.with_vote(rule.index(edit.feature), sign=sign, weight=weight, enabled=enabled)


def apply_edit(rule, edit: Edit):
    """A new Rule with `edit` applied (O(P): the vote arrays are copied)."""
    if edit.kind == "K":
        return rule.with_params(K=edit.value)
    if edit.kind == "m":
        return rule.with_params(m=edit.value)
    i = rule.index(edit.feature)
    if edit.kind == "weight":
        return rule.with_vote(i, weight=edit.value)
    if edit.kind == "sign":
        return rule.with_vote(i, sign=edit.value)
    if edit.value and rule.weight[i] == 0:  # an "on" vote with no weight would do nothing
        return rule.with_vote(i, enabled=True, weight=1.0)
    return rule.with_vote(i, enabled=edit.value)
