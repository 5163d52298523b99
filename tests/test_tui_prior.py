"""The Prior tab reads on its own: what B is, axis labels, a pair inspector that explains the
entry under the cursor, a cursor no value is drawn with, the pane's width used, and the cursor
kept where it was by `0` and by a layout switch."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from rap_core.pair_stats import pair_stats
from tests import nolag
from tui.app import RapStudioApp
from tui.widgets.heatmap import Heatmap
from tui.widgets.palette import CURSOR_GLYPH


def run(coro):
    asyncio.run(coro)


async def ready(app, pilot):
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.state == "ready"


def text_of(app, selector: str) -> str:
    widget = app.query_one(selector)
    return "\n".join(widget.render_line(y).text.rstrip() for y in range(widget.size.height))


@pytest.fixture(scope="module")
def cancer(tmp_path_factory):
    return nolag.write_table(tmp_path_factory.mktemp("cancer"))


def test_prior_tab_says_what_b_is_and_names_the_axes_at_80x24():
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(app, pilot)
            await pilot.press("3")
            await pilot.pause()
            legend = text_of(app, "#legend")
            assert legend.startswith("B=S·wᵢwⱼ") and legend.endswith("blue: in negatives")
            labels = app.studio.labels()
            top = text_of(app, "#prior-top-axis")
            left = text_of(app, "#prior-left-axis")
            assert labels[0] in top and labels[0] in left  # the cursor starts at the corner
            assert labels[-1][-3:] in top  # the last column is named (perhaps shortened)
            info = text_of(app, "#prior-info").splitlines()
            assert info[0].startswith("B ") and "×" in info[0]
            assert info[1].startswith("positives") and info[2].startswith("negatives")
    run(body())


def test_a_30_feature_prior_uses_the_pane_width_and_the_inspector_explains_a_negative_pair(
        cancer):
    async def body():
        app = RapStudioApp(cancer, fit_fn=nolag.fit_fn(cancer), deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(app, pilot)
            await pilot.press("3")
            await pilot.pause()
            heatmap = app.query_one(Heatmap)
            assert heatmap.bs == 1 and heatmap.n_blocks == 30
            assert heatmap.n_blocks * heatmap.cell_w >= 60, heatmap.cell_w  # not 30 of 78
            # walk to the most negative entry below the diagonal and read the inspector
            bias = app.studio.bias()
            lower = np.where(np.tri(30, k=-1, dtype=bool), bias, np.inf)
            i, j = np.unravel_index(int(np.argmin(lower)), bias.shape)
            assert bias[i, j] < 0
            await pilot.press(*(["down"] * int(i)), *(["right"] * int(j)))
            await pilot.pause()
            assert heatmap.cursor_position == (i, j)
            info = text_of(app, "#prior-info")
            stats = pair_stats(app.studio.prior, i, j)
            names = app.studio.labels()
            assert f"B {names[i]} × {names[j]} = {stats.b:+.3f}" in info
            assert f"both {stats.positives.both}/{stats.positives.n}" in info
            assert f"both {stats.negatives.both}/{stats.negatives.n}" in info
            assert "S < 0: more in negatives" in info.splitlines()[2]
            assert stats.positives.term < stats.negatives.term  # what the words say
    run(body())


def test_zoom_fit_and_layout_switch_keep_the_cursor_on_its_position():
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(app, pilot)
            await pilot.press("3", "l")  # lags: 8 positions, one block each
            await pilot.press("down", "down", "down", "right", "right")
            await pilot.pause()
            heatmap = app.query_one(Heatmap)
            assert heatmap.cursor_position == (3, 2)
            await pilot.press("z", "0")
            await pilot.pause()
            assert heatmap.cursor_position == (3, 2)
            await pilot.press("l")  # features: lag 3 -> its first feature, lag 2 -> its first
            await pilot.pause()
            layout = app.studio.prior.layout
            row, col = heatmap.cursor_position
            bs = heatmap.bs
            expected = (app.studio.dataset.features.index("V1_t3"),
                        app.studio.dataset.features.index("V1_t2"))
            assert (row // bs, col // bs) == (expected[0] // bs, expected[1] // bs)
            assert layout.name == "features"
    run(body())


@pytest.mark.parametrize("no_color", [False, True])
def test_the_cursor_is_a_glyph_no_value_is_drawn_with(monkeypatch, no_color):
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(app, pilot)
            await pilot.press("3", "l", "right", "down")
            await pilot.pause()
            heatmap = app.query_one(Heatmap)
            drawn = [heatmap.render_line(y) for y in range(heatmap.size.height)]
            cursor_cells = [(y, seg) for y, strip in enumerate(drawn) for seg in strip
                            if seg.style is not None and (seg.style.reverse or
                                                          CURSOR_GLYPH in seg.text)]
            assert cursor_cells, "the cursor is drawn"
            if no_color:
                assert all(seg.style.reverse for _, seg in cursor_cells)
            else:
                text = "".join(seg.text for strip in drawn for seg in strip)
                assert text.count(CURSOR_GLYPH) == 1  # one mark, in the cursor's cell only
    run(body())


def test_a_resize_keeps_the_cursor_on_its_position():
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(app, pilot)
            await pilot.press("3", *(["down"] * 20), *(["right"] * 11))
            await pilot.pause()
            heatmap = app.query_one(Heatmap)
            before_bs, position = heatmap.bs, heatmap.cursor_position
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            assert heatmap.bs != before_bs  # the blocks changed size
            bs = heatmap.bs
            row, col = heatmap.cursor_position
            assert (row // bs, col // bs) == (position[0] // bs, position[1] // bs)
    run(body())
