"""The ranges table at 80 columns for data without lag numbers, and natural order (V1, V2, V10)."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
from textual.widgets._data_table import default_cell_formatter

from tests import nolag
from tui.app import RapStudioApp


async def _ready(app, pilot):
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.state == "ready"


def _column(table, index: int) -> list[str]:
    return [default_cell_formatter(table.get_row_at(r)[index]).plain
            for r in range(table.row_count)]


def test_names_without_lag_numbers_leave_the_group_empty_and_the_rates_on_screen(tmp_path):
    path = nolag.write_table(tmp_path)

    async def body():
        app = RapStudioApp(path, fit_fn=nolag.fit_fn(path), deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await _ready(app, pilot)
            await pilot.press("1")
            await pilot.pause()
            table = app.query_one("#ranges-table")
            assert set(_column(table, 1)) == {""}  # no name repeated as its own group
            header = table.render_line(0).text
            assert "in|pos" in header and "in|neg" in header, header
    asyncio.run(body())


def test_feature_and_group_columns_sort_naturally(tmp_path):
    rng = np.random.default_rng(1)
    names = ["V10", "V2", "V1", "W3", "W12"]
    frame = pd.DataFrame({n: np.round(rng.normal(size=300), 3) for n in names})
    frame["INDC"] = (frame["V1"] > 0).astype(int)
    path = tmp_path / "order.csv"
    frame.to_csv(path, index=False)
    from rap_core.dataset import load_dataset
    from rap_core.fit import FitParams, run_fit
    from rap_core.split import train_dataset

    fitted = run_fit(train_dataset(load_dataset(path)), FitParams(Cs=3))

    async def body():
        app = RapStudioApp(path, fit_fn=lambda *a, **k: fitted, deterministic=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await _ready(app, pilot)
            await pilot.press("1")
            await pilot.pause()
            table = app.query_one("#ranges-table")
            assert _column(table, 0) == ["V1", "V2", "V10", "W3", "W12"]
            await pilot.press("s")  # sort by group: V (lags 1, 2, 10), then W (3, 12)
            await pilot.pause()
            assert _column(table, 1) == ["V", "V", "V", "W", "W"]
            assert _column(table, 2) == ["1", "2", "10", "3", "12"]
    asyncio.run(body())


def test_the_histogram_is_redrawn_for_a_new_width_and_not_brought_back_by_it():
    from tui.widgets.charts import Histogram

    def widest(hist) -> int:
        return max(len(hist.render_line(y).text.rstrip()) for y in range(hist.size.height))

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await _ready(app, pilot)
            await pilot.press("1")
            await pilot.pause()
            hist = app.query_one(Histogram)
            narrow = widest(hist)
            await pilot.resize_terminal(120, 40)
            await pilot.pause()
            await pilot.pause()
            assert widest(hist) > narrow + 20  # redrawn at once, not when the cursor moves
            await pilot.press("slash", *"zzz")
            await pilot.pause()
            await pilot.resize_terminal(100, 30)
            await pilot.pause()
            assert "no feature matches" in "".join(
                hist.render_line(y).text for y in range(hist.size.height))
    asyncio.run(body())
