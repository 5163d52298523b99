"""The tab bar (tui.widgets.tab_bar): what a user sees and clicks. It replaced Textual's `Tabs`
for start-up time (issue 13); the snapshots show it draws the same cells as `Tabs` did."""

from __future__ import annotations

import asyncio

from textual.app import App

from tui.app import RapStudioApp
from tui.widgets.tab_bar import TabBar

TABS = (("ranges", "1 Ranges"), ("rules", "2 Rules"), ("prior", "3 Prior"))


class OneBar(App):
    def __init__(self) -> None:
        super().__init__()
        self.clicked: list[str] = []

    def compose(self):
        yield TabBar(*TABS, active="rules")

    def on_tab_bar_activated(self, message: TabBar.Activated) -> None:
        self.clicked.append(message.tab_id)


def rows(bar: TabBar) -> list[str]:
    return [bar.render_line(y).text for y in (0, 1)]


def test_labels_are_padded_and_the_bar_is_lit_under_the_active_label_only():
    async def body():
        app = OneBar()
        async with app.run_test(size=(40, 4)) as pilot:
            await pilot.pause()
            bar = app.query_one(TabBar)
            labels, underline = rows(bar)
            assert labels == " 1 Ranges  2 Rules  3 Prior ".ljust(40)
            start = labels.index("2 Rules")
            assert underline[start - 1] == "╸" and underline[start + len("2 Rules")] == "╺"
            lit = {seg.style.color for seg in bar.render_line(1)
                   if seg.text.strip("━") == "" and seg.text}
            assert len(lit) == 2  # the plain bar and the highlight differ
            bar.active = "prior"
            await pilot.pause()
            labels, underline = rows(bar)
            start = labels.index("3 Prior")
            assert underline[start - 1] == "╸" and underline[start + len("3 Prior")] == "╺"
            assert "╸" not in underline[:start - 1]

    asyncio.run(body())


def test_a_click_on_a_label_or_under_it_posts_its_id_and_a_click_elsewhere_nothing():
    async def body():
        app = OneBar()
        async with app.run_test(size=(40, 4)) as pilot:
            await pilot.click(TabBar, offset=(3, 0))  # "1 Ranges"
            await pilot.click(TabBar, offset=(22, 1))  # under "3 Prior"
            await pilot.click(TabBar, offset=(35, 0))  # past the labels
            await pilot.pause()
            assert app.clicked == ["ranges", "prior"]

    asyncio.run(body())


def test_the_label_under_the_mouse_is_brighter_until_the_mouse_leaves():
    async def body():
        app = OneBar()
        async with app.run_test(size=(40, 4)) as pilot:
            await pilot.pause()
            bar = app.query_one(TabBar)

            def colour(label: str):
                return next(seg.style.color for seg in bar.render_line(0)
                            if seg.text.strip() == label)

            plain = colour("3 Prior")
            await pilot.hover(TabBar, offset=(22, 0))
            assert colour("3 Prior") != plain
            assert colour("3 Prior") == colour("2 Rules")  # as bright as the active label
            await pilot.hover(TabBar, offset=(35, 3))  # off the bar
            await pilot.pause()
            assert colour("3 Prior") == plain

    asyncio.run(body())


def test_clicking_a_tab_in_the_app_shows_its_pane_and_moves_the_underline():
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            bar = app.query_one(TabBar)
            x = rows(bar)[0].index("3 Prior")
            await pilot.click(TabBar, offset=(x, 0))
            await pilot.pause()
            assert app.query_one("#prior-pane").display
            assert not app.query_one("#rules-pane").display
            assert app.focused.id == "heatmap"
            assert bar.active == "prior"
            await pilot.press("2")  # the keys move the bar too
            assert bar.active == "rules" and app.query_one("#rules-pane").display

    asyncio.run(body())
