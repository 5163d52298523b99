"""Change: what one edit (or undo, redo, layout switch) touched, so each view repaints only that.

One type from the prior builder up to the panes: `PriorBuilder` reports the rows/columns of B it
rewrote, the `Studio` adds which votes and which rule parameters changed, and the TUI merges the
changes of a burst of keypresses (`Change.merge`) before it repaints. A view never diffs old
state against new to find out; it reads the Change.

Fields, each a fact a view acts on:
- votes      feature indices whose vote (sign, weight or enabled) changed: rule-table rows
- positions  rows/columns of B (layout positions) whose values changed: heatmap lines (none
             before B is first read: the Studio builds it then, from the rule as it is)
- rescaled   max|B| changed, so every normalised value (every heatmap cell) changed
- params     K or m changed: the rule sentence and the metrics, no vote row
- relayout   the layout changed: B has another shape, every position is new

Metrics follow from the others: any vote or parameter change changes the current (and previous)
rule's metrics (`metrics_changed`); the fitted rule's never change.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    votes: tuple[int, ...] = ()
    positions: tuple[int, ...] = ()
    rescaled: bool = False
    params: bool = False
    relayout: bool = False

    @property
    def rule_changed(self) -> bool:
        """The rule (a vote, K or m) changed: its sentence and its metrics need a repaint."""
        return bool(self.votes) or self.params

    @property
    def metrics_changed(self) -> bool:
        return self.rule_changed

    @property
    def prior_changed(self) -> bool:
        """Some value of B (as shown, normalised) changed."""
        return bool(self.positions) or self.rescaled or self.relayout

    @property
    def empty(self) -> bool:
        return not (self.rule_changed or self.prior_changed)

    @classmethod
    def new_layout(cls, size: int) -> Change:
        """B shown in another layout of `size` positions: every position is new."""
        return cls(positions=tuple(range(size)), rescaled=True, relayout=True)

    def merge(self, other: Change) -> Change:
        """One Change covering both (the union of what either touched)."""
        return Change(
            votes=tuple(sorted(set(self.votes) | set(other.votes))),
            positions=tuple(sorted(set(self.positions) | set(other.positions))),
            rescaled=self.rescaled or other.rescaled,
            params=self.params or other.params,
            relayout=self.relayout or other.relayout,
        )


NOTHING = Change()
