"""The Rules pane says what the fit did and shows held-out metrics first (issue 11, items 1-2)."""

from __future__ import annotations

import asyncio

import numpy as np
from test_split import hand_fit

from tui.app import RapStudioApp


def _not_adopted(train, params, *, progress=None, cancel=None):
    """A fit whose logic polish was refused: the L1 model with four distinct weights stands."""
    coef = np.zeros(train.n_features)
    coef[[0, 3, 5, 7]] = [1.5, -0.75, 0.5, 0.25]
    return hand_fit(train, adopted=False, coef=coef, intercept=-0.2)


def test_rules_pane_says_the_polish_was_not_adopted(small_csv):
    seen = []

    def fit_fn(train, params, **kwargs):
        seen.append(train)
        return _not_adopted(train, params)

    async def body():
        app = RapStudioApp(small_csv, fit_fn=fit_fn, deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(500):  # bounded polling: the fit runs in a worker thread
                if app.state == "ready":
                    break
                await pilot.pause(0.02)
            assert app.state == "ready"
            await pilot.press("2")
            await pilot.pause()
            header = str(app.query_one("#rule-text").render())
            assert header.startswith("m-of-k not adopted: showing the L1 model, 4 votes · K=1.5")
            table = str(app.query_one("#metrics").render()).splitlines()
            assert table[1].split() == ["held", "train"] * 3, "held-out first, for each rule"
            assert table[-1].split() == ["k", "4", "4", "4"], "k = the votes shown"
            curve = str(app.query_one("#jcurve").render())
            assert curve.startswith("held-out J vs k") and "not adopted" in curve
            assert "fit L1 k=4" in str(app.query_one("#status").render())
            return app.studio

    studio = asyncio.run(body())
    assert [d.n_rows for d in seen] == [studio.split.pool.size], "the fit saw train rows only"
    assert studio.dataset.n_rows > seen[0].n_rows


def test_the_held_out_curve_is_computed_off_the_ui_thread_after_the_rule(monkeypatch):
    """A 1,000-feature fit's 256 held-out bars took 0.15 s on the way to the first editable
    frame; the rule shows first and the chart fills in when the curve is ready."""
    import threading

    from rap_core.studio import Studio

    events = []
    original_curve, original_install = Studio.j_curve, RapStudioApp._install

    def curve(self, rows="held_out", length=None):
        if not self.has_j_curve(length):
            main = threading.current_thread() is threading.main_thread()
            events.append("curve on the UI thread" if main else "curve")
        return original_curve(self, rows, length)

    def install(self, studio, state, restored=0):
        original_install(self, studio, state, restored)
        events.append(state)

    monkeypatch.setattr(Studio, "j_curve", curve)
    monkeypatch.setattr(RapStudioApp, "_install", install)

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            chart = str(app.query_one("#jcurve").render())
            assert chart.startswith("held-out J vs k"), chart

    asyncio.run(body())
    assert events == ["ready", "curve"], events
