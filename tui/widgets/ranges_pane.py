"""Ranges pane: every feature's critical range, sortable and filterable, with a class histogram.

The inside-rates come from `rap_core.ranges` (indicators, inside_rates); this pane only orders,
filters and draws them. Rows are rebuilt from an index list, so sorting and filtering never touch
the data.
"""

from __future__ import annotations

import math

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Input

from rap_core.natural_sort import natural_key
from rap_core.ranges import format_range
from tui.actions import RANGE_ACTIONS, bindings
from tui.messages import SortRequested
from tui.widgets.charts import Histogram

COLUMNS = (("feature", "feature"), ("group", "group"), ("lag", "lag"),
           ("range", "critical range"), ("pos", "in|pos"), ("neg", "in|neg"))


class FilterInput(Input):
    """The name filter; `escape`/`enter` hand the keys back to the table."""

    BINDINGS = [("escape", "leave", "Back to table")]

    async def _on_key(self, event) -> None:
        # `/` focuses this box synchronously (so fast typing lands here), and Textual then
        # delivers that same `/` to the new focus: drop it when it would be the first character.
        if event.character == "/" and not self.value:
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    def action_leave(self) -> None:
        self.screen.query_one(RangesTable).focus()

    async def action_submit(self) -> None:
        self.action_leave()


class RangesTable(DataTable):
    BINDINGS = bindings(RANGE_ACTIONS)

    def action_sort_next(self) -> None:
        self.post_message(SortRequested(reverse=False))

    def action_sort_reverse(self) -> None:
        self.post_message(SortRequested(reverse=True))


class RangesPane(Vertical):
    """Filter box, table of ranges, histogram of the highlighted feature."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._studio = None
        self._pos = self._neg = np.zeros(0)
        self.sort_column = 0
        self.reverse = False
        self._shown: list[int] = []

    def compose(self) -> ComposeResult:
        yield FilterInput(placeholder="/ filter features by name", id="range-filter")
        table = RangesTable(id="ranges-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Histogram(id="histogram")

    def on_mount(self) -> None:
        table = self.query_one(RangesTable)
        for key, label in COLUMNS:
            table.add_column(label + " ", key=key)  # room for the sort arrow (▲/▼)

    def load(self, studio) -> None:
        """Show `studio`'s ranges (a new dataset or the fit's ranges)."""
        self._studio = studio
        self._pos, self._neg = studio.inside_rates()
        self._rebuild()

    def _key(self, i: int):
        ranges = self._studio.ranges
        column = COLUMNS[self.sort_column][0]
        if column == "feature":
            return natural_key(ranges.features[i])  # V1, V2, …, V10
        if column == "group":
            return (natural_key(ranges.groups[i]), -1 if ranges.lags[i] is None else ranges.lags[i])
        if column == "lag":
            return (-1 if ranges.lags[i] is None else ranges.lags[i], i)
        if column == "range":
            lo = ranges.rmin[i]
            return -math.inf if math.isnan(lo) else lo
        if column == "pos":
            return self._pos[i]
        return self._neg[i]

    def _rebuild(self) -> None:
        if self._studio is None:
            return
        ranges = self._studio.ranges
        needle = self.query_one(FilterInput).value.strip().lower()
        shown = [i for i, name in enumerate(ranges.features) if needle in name.lower()]
        shown.sort(key=self._key, reverse=self.reverse)
        self._shown = shown
        table = self.query_one(RangesTable)
        table.clear()
        for i in shown:
            lag = ranges.lags[i]
            table.add_row(
                # Text, not str: a DataTable reads a str cell as markup, and feature names
                # like "weight[kg]" (or "x[/]", which raised MarkupError) are user data.
                # a name without a lag number is its own group: do not repeat it (80 columns)
                Text(ranges.features[i]), Text(ranges.groups[i] if lag is not None else ""),
                "" if lag is None else str(lag),
                format_range(float(ranges.rmin[i]), float(ranges.rmax[i])),
                Text(f"{self._pos[i]:.0%}", justify="right"),
                Text(f"{self._neg[i]:.0%}", justify="right"),
                key=ranges.features[i],
            )
        arrow = "▼" if self.reverse else "▲"
        for n, (key, label) in enumerate(COLUMNS):
            # The column was sized for label + 1 cell: the arrow never falls off a narrow column.
            table.columns[key].label = Text(label + (arrow if n == self.sort_column else " "))
        table.refresh()
        self._show_histogram(0)

    def on_sort_requested(self, message: SortRequested) -> None:
        message.stop()
        if message.reverse:
            self.reverse = not self.reverse
        else:
            self.sort_column = (self.sort_column + 1) % len(COLUMNS)
        self._rebuild()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._rebuild()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "ranges-table":
            self._show_histogram(event.cursor_row)

    def _show_histogram(self, row: int) -> None:
        hist = self.query_one(Histogram)
        if not self._shown or self._studio is None:
            hist.say("no feature matches the filter")
            return
        i = self._shown[min(max(row, 0), len(self._shown) - 1)]
        ranges, data = self._studio.ranges, self._studio.dataset
        rmin, rmax = float(ranges.rmin[i]), float(ranges.rmax[i])
        title = f"{ranges.features[i]}  critical range {format_range(rmin, rmax)}"
        hist.show(data.X[:, i], data.y, rmin, rmax, title)
