"""The tab bar: one row of labels and an underline under the active one, drawn in one pass.

Why not Textual's `Tabs`: it is nine widgets (a scroll container, two layout containers, a `Tab`
per label and an animated `Underline`) whose underline is placed from the labels' laid-out
regions, so it needs a second layout pass after the first. On the first screen that was ~30 ms
of a ~340 ms start (issue 13: `docs/benchmarks/tui.md`), for a bar whose labels never change
and which never takes the focus here (the keys `1`-`4` switch panes). `TabBar` is one widget
that knows its labels' widths before any layout: it looks the same (the same CSS variables as
`Tabs`, so themes and the 16-colour path draw it alike), a click on a label or under it posts
`TabBar.Activated`, and the app (state flows down) sets `active`.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

BAR = "━"
BEFORE = "╸"  # the cell left of the highlight: the plain bar ends half-way, as in `Tabs`
AFTER = "╺"  # the cell right of it


class TabBar(Widget):
    """Labels `(id, label)` with the active one highlighted and underlined."""

    DEFAULT_CSS = """
    TabBar {
        width: 1fr;
        height: 2;
    }
    TabBar > .tab-bar--tab {
        color: $foreground 50%;
    }
    TabBar > .tab-bar--hover {
        color: $foreground;
    }
    TabBar > .tab-bar--active {
        color: $foreground;
    }
    TabBar > .tab-bar--underline {
        color: $block-cursor-background;
        background: $foreground 10%;
    }
    TabBar:ansi > .tab-bar--tab {
        text-style: dim;
    }
    TabBar:ansi > .tab-bar--active {
        text-style: not dim bold;
    }
    TabBar:ansi > .tab-bar--underline {
        color: $block-cursor-background;
        background: $border-blurred;
    }
    """

    COMPONENT_CLASSES = {"tab-bar--tab", "tab-bar--hover", "tab-bar--active",
                         "tab-bar--underline"}
    ALLOW_SELECT = False

    # Reactives repaint the bar when they change.
    active: reactive[str] = reactive("")
    hovered: reactive[str | None] = reactive(None)

    class Activated(Message):
        """A label (or the bar under it) was clicked."""

        def __init__(self, tab_id: str) -> None:
            super().__init__()
            self.tab_id = tab_id

    def __init__(self, *tabs: tuple[str, str], active: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        # Each label is padded by one cell on each side, as a `Tab` is: (id, text, start, end).
        self._spans: list[tuple[str, str, int, int]] = []
        x = 0
        for tab_id, label in tabs:
            text = f" {label} "
            self._spans.append((tab_id, text, x, x + len(text)))
            x += len(text)
        self.set_reactive(TabBar.active, active if active is not None else tabs[0][0])

    def tab_at(self, x: int) -> str | None:
        """The tab whose label spans column `x`, if any."""
        for tab_id, _text, start, end in self._spans:
            if start <= x < end:
                return tab_id
        return None

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            segments = []
            for tab_id, text, _start, _end in self._spans:
                which = ("active" if tab_id == self.active else
                         "hover" if tab_id == self.hovered else "tab")
                segments.append(Segment(text, self.get_component_rich_style(f"tab-bar--{which}")))
            strip = Strip(segments)
        elif y == 1:
            strip = Strip(self._underline())
        else:
            strip = Strip.blank(width, self.rich_style)
        return strip.crop_extend(0, width, self.rich_style).apply_style(self.rich_style)

    def _underline(self) -> list[Segment]:
        bar = self.get_component_rich_style("tab-bar--underline")
        plain = Style.from_color(bar.bgcolor)
        lit = Style.from_color(bar.color)
        width = self.size.width
        span = next(((s, e) for tab_id, _t, s, e in self._spans if tab_id == self.active), None)
        if span is None:
            return [Segment(BAR * width, plain)]
        start, end = span[0] + 1, span[1] - 1  # under the label, not its padding (as `Tabs`)
        # The first label starts at 0, so `start` >= 1: there is always a cell for BEFORE.
        segments = [Segment(BAR * (start - 1), plain), Segment(BEFORE, plain),
                    Segment(BAR * (end - start), lit)]
        if end < width:
            segments.append(Segment(AFTER, plain))
            segments.append(Segment(BAR * max(0, width - end - 1), plain))
        return segments

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self.hovered = self.tab_at(event.x)

    def on_leave(self, _event: events.Leave) -> None:
        self.hovered = None

    def on_click(self, event: events.Click) -> None:
        event.stop()
        tab_id = self.tab_at(event.x)
        if tab_id is not None:
            self.post_message(self.Activated(tab_id))
