"""SVG snapshots of every screen at 80x24 and 120x40 on the demo (bundled fit: no cutlass run).

Layout only: the behaviour is asserted in test_tui_app.py. Deterministic mode hides elapsed
times and blinking cursors; the isolated XDG dirs (conftest) mean no session is restored.
Regenerate with `pytest tests/test_tui_snapshots.py --snapshot-update` and look at the report.
"""

from __future__ import annotations

import pytest

from tui.app import RapStudioApp

SIZES = [(80, 24), (120, 40)]


async def _loaded(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


SCREENS = {
    "rules": [],
    "rules_edited": ["plus", "down", "f", "down", "down", "down", "down", "space"],
    "ranges": ["1", "down", "down", "down", "down", "down", "down", "down", "down", "down",
               "down", "down", "down", "down", "down", "down", "down", "down", "down", "down",
               "down", "down", "down", "down", "down", "down", "down", "down"],
    "prior": ["3"],
    "prior_lags": ["3", "l", "right", "down"],
    "help": ["question_mark"],
    "export": ["e"],
    "history": ["plus", "plus", "f", "ctrl+z", "h"],
    "value_refused": ["enter", "i", "n", "f", "enter"],
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare, screen, size):
    app = RapStudioApp(deterministic=True)
    assert snap_compare(app, terminal_size=size, press=SCREENS[screen], run_before=_loaded)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_error_screen(snap_compare, tmp_path, monkeypatch, size):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.csv").write_text("a,b,INDC\n1,x,0\n2,3,7\n")
    app = RapStudioApp("bad.csv", deterministic=True)
    assert snap_compare(app, terminal_size=size, run_before=_loaded)


def test_wide_terminal_shows_prior_beside_rules(snap_compare):
    app = RapStudioApp(deterministic=True)
    assert snap_compare(app, terminal_size=(160, 44), press=["plus"], run_before=_loaded)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_evaluate_tab(snap_compare, monkeypatch, size):
    """Tab 4 with a (canned) result of the current prior: chart, differences, verdicts."""
    from rap_core import quick_eval
    from tests.eval_fake import fake_doc

    monkeypatch.setattr(quick_eval, "_MEMORY", {})

    async def loaded_with_result(pilot) -> None:
        await _loaded(pilot)
        quick_eval._MEMORY[quick_eval.prior_key(pilot.app.studio)] = fake_doc()

    app = RapStudioApp(deterministic=True)
    assert snap_compare(app, terminal_size=size, press=["4"], run_before=loaded_with_result)


NO_LAG_SCREENS = {"rules": [], "ranges": ["1"], "prior": ["3", "down", "right", "right"]}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(NO_LAG_SCREENS))
def test_table_without_lag_numbers(snap_compare, tmp_path_factory, screen, size):
    """A real 30-feature table (tests/nolag.py): the prior uses the pane's width, the group
    column does not repeat the names, and in|pos / in|neg stay on screen at 80 columns."""
    from tests import nolag

    path = nolag.write_table(tmp_path_factory.mktemp("cancer"))
    app = RapStudioApp(path, fit_fn=nolag.fit_fn(path), deterministic=True)
    assert snap_compare(app, terminal_size=size, press=NO_LAG_SCREENS[screen],
                        run_before=_loaded)
