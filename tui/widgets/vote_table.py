"""The votes table: one line per feature, drawn with `render_line` and a per-row strip cache.

Why not DataTable: any cell update there invalidates every row's render, so one `+` press
re-rendered ~40 rows of Rich text (~20 ms at P=512); the prior's 16 ms budget covers the whole
keypress. Here an edit re-renders only the rows whose vote changed, and only the lines on screen.

The keys only build `Edit`s and post them up (tui.messages); all arithmetic lives in `rap_core`.
The table is handed the Studio (`set_rows`) and told which rows changed (`rows_changed`).
"""

from __future__ import annotations

from functools import partial

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from rap_core.edits import flip, nudge, step_m, toggle
from rap_core.ranges import format_range
from tui.actions import RULE_ACTIONS, bindings
from tui.messages import EditRequested, ValueRequested

_ON = Style()
_OFF = Style(dim=True)
_PLAIN = Style()  # never None: Textual's NO_COLOR filter needs a style
_CURSOR = Style(reverse=True, bold=True)
_CURSOR_BLUR = Style(underline=True)


def header_line(name_width: int, range_width: int) -> str:
    return (f" on {'feature'.ljust(name_width)} {'critical range'.ljust(range_width)} "
            f"{'votes'.ljust(7)} {'weight':>7}")


class VoteTable(ScrollView, can_focus=True):
    """Every feature's vote; disabled votes dimmed; a row cursor."""

    BINDINGS = [
        Binding("up", "cursor(-1)", show=False), Binding("down", "cursor(1)", show=False),
        Binding("pageup", "page(-1)", show=False), Binding("pagedown", "page(1)", show=False),
        *bindings(RULE_ACTIONS),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cursor = 0
        self._studio = None
        self._order: list[int] = []
        self._row_of: dict[int, int] = {}  # feature index -> row in _order
        self._cache: dict[tuple[int, int, int], Strip] = {}  # (feature, width, cursor?) -> line
        self.name_width = 8
        self.range_width = 16

    # -- data -------------------------------------------------------------------------------
    def set_rows(self, studio, order: list[int]) -> None:
        self._studio, self._order = studio, order
        self._row_of = {feature: row for row, feature in enumerate(order)}
        names = studio.rule.features
        self.name_width = max([7, *(len(names[i]) for i in order[:2000])])
        ranges = studio.ranges
        self.range_width = max([14, *(len(format_range(float(ranges.rmin[i]),
                                                       float(ranges.rmax[i])))
                                      for i in order[:2000])])
        self.cursor = min(self.cursor, max(len(order) - 1, 0))
        self._cache.clear()
        self.virtual_size = Size(self.name_width + self.range_width + 22, len(order))
        self.refresh()

    def rows_changed(self, features: list[int]) -> None:
        """Forget the cached lines of these features and repaint just their screen lines (an
        edit changes one row; repainting all of them costs Textual's compositor a frame's
        worth of work per keypress)."""
        changed = set(features)
        for key in [k for k in self._cache if k[0] in changed]:
            del self._cache[key]
        height, top = self.size.height, self.scroll_offset.y
        if len(changed) > height or len(self._row_of) != len(self._order):
            self.refresh()
            return
        lines = [self._row_of[i] - top for i in changed if i in self._row_of]
        regions = [Region(0, y, self.size.width, 1) for y in lines if 0 <= y < height]
        if regions:
            self.refresh(*regions)

    @property
    def row_count(self) -> int:
        return len(self._order)

    def current_feature(self) -> str | None:
        if not self._order or self._studio is None:
            return None
        return self._studio.rule.features[self._order[self.cursor]]

    # -- painting ---------------------------------------------------------------------------
    def _line(self, i: int, width: int, at_cursor: int) -> Strip:
        rule, ranges = self._studio.rule, self._studio.ranges
        enabled = bool(rule.enabled[i]) and float(rule.weight[i]) > 0  # GLOSSARY: enabled
        span = format_range(float(ranges.rmin[i]), float(ranges.rmax[i]))
        text = (f" {'●' if enabled else '○'}  {rule.features[i].ljust(self.name_width)} "
                f"{span.ljust(self.range_width)} "
                f"{('inside' if rule.sign[i] > 0 else 'outside').ljust(7)} "
                f"{float(rule.weight[i]):7.2f}")
        style = _ON if enabled else _OFF
        if at_cursor == 1:
            style = style + _CURSOR
        elif at_cursor == 2:
            style = style + _CURSOR_BLUR
        return Strip([Segment(text.ljust(width)[:max(width, 0)], style)])

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        row = self.scroll_offset.y + y
        if self._studio is None or row >= len(self._order):
            return Strip.blank(width, _PLAIN)
        i = self._order[row]
        at_cursor = 0 if row != self.cursor else (1 if self.has_focus else 2)
        key = (i, width, at_cursor)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._cache[key] = self._line(i, width, at_cursor)
        return strip

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- cursor -----------------------------------------------------------------------------
    def action_cursor(self, step: int) -> None:
        if not self._order:
            return
        self.cursor = min(max(self.cursor + step, 0), len(self._order) - 1)
        height = max(self.size.height, 1)
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)
        self.refresh()

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(self.size.height - 1, 1))

    # -- editing keys -----------------------------------------------------------------------
    def _rule(self):
        return self._studio.rule if self._studio is not None else None

    def action_nudge(self, delta: float) -> None:
        feature = self.current_feature()
        if feature is not None:
            self.post_message(EditRequested(partial(nudge, feature=feature, delta=delta)))

    def action_toggle_vote(self) -> None:
        feature = self.current_feature()
        if feature is not None:
            self.post_message(EditRequested(partial(toggle, feature=feature)))

    def action_flip_sign(self) -> None:
        feature = self.current_feature()
        if feature is not None:
            self.post_message(EditRequested(partial(flip, feature=feature)))

    def action_type_weight(self) -> None:
        feature, rule = self.current_feature(), self._rule()
        if feature is not None:
            current = float(rule.weight[rule.index(feature)])
            self.post_message(ValueRequested(f"weight of {feature}", current, "weight", feature))

    def action_edit_k(self) -> None:
        if self._rule() is not None:
            self.post_message(ValueRequested("K (logit scale)", self._rule().K, "K", None))

    def action_edit_m(self) -> None:
        if self._rule() is not None:
            self.post_message(ValueRequested("m (m-of-k threshold)", self._rule().m, "m", None))

    def action_step_m(self, step: int) -> None:
        rule = self._rule()
        if rule is not None:
            self.post_message(EditRequested(partial(step_m, step=step)))
