"""Lines of text an edit rewrites, drawn through the line API: only the changed lines repaint.

The rule sentence, the metrics, the pair inspector and the prior's legend change on every
keypress. As `Static`s, each update re-parsed and re-wrapped the whole text and Textual re-rendered
every line of it in the next frame: at P = 512 that was about 4 ms of a 10 ms keypress
(docs/benchmarks/tui.md). `TextLines.update` compares the new lines with the shown ones, forgets
the strips of the lines that differ and refreshes just those screen lines; `render_line` renders a
line once (again after a resize or a theme change) and serves it from the cache afterwards.

A line never wraps: one that is wider than the widget is cut and ends in "…" (the callers wrap
what should wrap, e.g. `rules_pane.fit_lines`). Text selected with the mouse is highlighted and
copied as from a Static (the rule sentence is worth copying).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

_PLAIN = Style()  # never None: Textual's NO_COLOR filter needs a style


class TextLines(Widget):
    """Shows a multi-line rich `Text`; `update` repaints only the lines that changed."""

    DEFAULT_CSS = """
    TextLines {
        height: auto;
    }
    """

    def __init__(self, text: Text | str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self._lines: list[Text] = []
        # line -> (the widget's style and width it was drawn for, the drawn line)
        self._strips: dict[int, tuple[Style, int, Strip]] = {}
        self.update(text)

    @property
    def text(self) -> Text:
        """What it shows (the lines joined), e.g. for tests and screen readers."""
        return Text("\n").join(self._lines)

    def update(self, text: Text | str | Sequence[Text]) -> None:
        """Show `text` (or these lines); repaint only the lines that differ from what is shown.
        Callers that build lines pass them as a list: splitting a Text costs more than the
        rest of an update."""
        if isinstance(text, str):
            text = Text(text)
        if isinstance(text, Text):
            lines = ([text] if "\n" not in text.plain else
                     text.split("\n", allow_blank=True)) if text.plain else []
        else:
            lines = list(text)
        old, self._lines = self._lines, lines
        if len(lines) != len(old):
            self._strips.clear()
            self.refresh(layout=self.styles.height is None or self.styles.height.is_auto)
            return
        changed = [y for y, (before, after) in enumerate(zip(old, lines, strict=True))
                   if before != after or before.style != after.style]  # == ignores .style
        if not changed:
            return
        for y in changed:
            self._strips.pop(y, None)
        if self.is_mounted:
            width = self.size.width
            self.refresh(*(Region(0, y, width, 1) for y in changed))

    def render(self) -> Text:
        """The whole text (Textual paints through `render_line`; this is for readers)."""
        return self.text

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._lines)

    def get_content_width(self, container, viewport) -> int:
        return max((line.cell_len for line in self._lines), default=0)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style  # the widget's colour and background (CSS, the theme)
        if y >= len(self._lines):
            return Strip.blank(width, base)
        selection = self.text_selection  # text selected with the mouse: drawn, not cached
        span = selection.get_span(y) if selection is not None else None
        cached = self._strips.get(y)
        if span is None and cached is not None and cached[:2] == (base, width):
            return cached[2]
        line = self._lines[y].copy()
        line.end = ""
        if line.cell_len > width:
            line.truncate(width, overflow="ellipsis")
        if span is not None:
            start, end = span
            line.stylize(self.screen.get_component_rich_style("screen--selection"), start,
                         len(line) if end == -1 else end)
        console = self.app.console
        segments = [segment if segment.style is not None else segment._replace(style=_PLAIN)
                    for segment in line.render(console)]
        strip = Strip(segments, line.cell_len)
        if line.style:  # Text.render leaves the text's own base style out: under its spans
            strip = strip.apply_style(console.get_style(line.style, default=_PLAIN))
        strip = strip.adjust_cell_length(width).apply_style(base)
        if span is None:
            self._strips[y] = (base, width, strip)
        return strip
