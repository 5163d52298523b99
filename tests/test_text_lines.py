"""TextLines: the rule sentence, metrics, pair inspector, legend and status line. An edit must
repaint only the lines it changed, and draw every line as a Static would have."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.app import App, ComposeResult

from tui.widgets.text_lines import TextLines


class Counting(TextLines):
    """Counts the lines Textual asks it to draw."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.drawn: list[int] = []

    def render_line(self, y: int):
        self.drawn.append(y)
        return super().render_line(y)


class One(App):
    CSS = "Counting { width: 30; height: 4; }"

    def compose(self) -> ComposeResult:
        yield Counting(Text("J  0.500\nAUC 0.700\nTPR 0.600\nFPR 0.100"), id="lines")


def run(body) -> None:
    async def main():
        app = One()
        async with app.run_test(size=(40, 8)) as pilot:
            await pilot.pause()
            await body(app, pilot, app.query_one(Counting))

    asyncio.run(main())


def test_an_update_repaints_only_the_lines_that_changed():
    async def body(app, pilot, lines):
        lines.drawn.clear()
        lines.update([Text("J  0.500"), Text("AUC 0.710"), Text("TPR 0.600"), Text("FPR 0.100")])
        await pilot.pause()
        assert lines.drawn == [1], "one metric moved: one line is drawn again"
        assert lines.render_line(1).text.rstrip() == "AUC 0.710"
        lines.drawn.clear()
        lines.update(lines.text)  # the same text: nothing to draw
        await pilot.pause()
        assert lines.drawn == []

    run(body)


def test_a_line_whose_style_alone_changed_is_drawn_again():
    # rich's Text equality ignores the base style: "0.500" turning bold must still repaint.
    async def body(app, pilot, lines):
        lines.drawn.clear()
        lines.update([Text("J  0.500", style="bold"), Text("AUC 0.700"), Text("TPR 0.600"),
                      Text("FPR 0.100")])
        await pilot.pause()
        assert lines.drawn == [0]
        assert all(segment.style.bold for segment in lines.render_line(0)
                   if segment.text.strip()), "the line's own style is drawn"

    run(body)


def test_a_line_wider_than_the_widget_ends_in_an_ellipsis_and_spans_keep_their_style():
    async def body(app, pilot, lines):
        line = Text.assemble(("B ", "bold"), "V1_t0 × V2_t1 = +0.250 because both are often on")
        lines.update([line])
        await pilot.pause()
        strip = lines.render_line(0)
        assert strip.cell_length == 30 and strip.text.endswith("…")
        assert next(iter(strip)).style.bold and next(iter(strip)).text == "B "
        assert lines.render_line(3).text.strip() == "", "lines past the text are blank"

    run(body)


def test_text_selected_with_the_mouse_is_highlighted_and_copied():
    # As from a Static: the rule sentence and the metrics are worth copying.
    from textual.geometry import Offset
    from textual.selection import Selection

    async def body(app, pilot, lines):
        plain = lines.render_line(1)
        app.screen.selections = {lines: Selection(Offset(4, 1), Offset(9, 1))}
        await pilot.pause()
        assert app.screen.get_selected_text() == "0.700"
        selected = lines.render_line(1)
        assert selected.text == plain.text and list(selected) != list(plain), "highlighted"
        app.screen.selections = {}
        await pilot.pause()
        assert list(lines.render_line(1)) == list(plain), "the highlight goes with the selection"

    run(body)
