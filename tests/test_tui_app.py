"""RAP Studio driven through Pilot: what a user does, and what they would notice.

Each test starts the real app headless (`run_test`) on the bundled demo (its fit ships, so no
cutlass run) or on a tiny CSV with a stand-in fit function. Async bodies run under asyncio.run.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from rap_core.errors import FitCancelled
from tui.app import RapStudioApp
from tui.screens.modals import ConfirmScreen, ErrorScreen, ExportScreen, HelpScreen, MessageScreen

SIZE = (100, 30)


def run(coro):
    return asyncio.run(coro)


async def ready(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


async def press(pilot, *keys: str) -> None:
    """Press keys, then let the messages they post (an edit travels up from the table to the
    app, tui.messages) be handled: a bounded number of pauses, never a sleep."""
    await pilot.press(*keys)
    for _ in range(3):
        await pilot.pause()


def current_vote(app):
    feature = app.query_one("#votes").current_feature()
    rule = app.studio.rule
    i = rule.index(feature)
    return feature, float(rule.weight[i]), bool(rule.enabled[i]), int(rule.sign[i])


def test_demo_opens_with_the_fitted_rule_without_torch_cutlass_pandas_or_other_extras():
    # In a fresh interpreter: other tests in the suite may have imported torch already.
    code = (
        "import asyncio, sys\n"
        "from tui.app import RapStudioApp\n"
        "async def main():\n"
        "    app = RapStudioApp(deterministic=True)\n"
        "    async with app.run_test(size=(80, 24)) as pilot:\n"
        "        for _ in range(100):  # the loader starts after the first refresh\n"
        "            await app.workers.wait_for_complete(); await pilot.pause()\n"
        "            if app.state != 'loading':\n"
        "                break\n"
        "        heavy = [m for m in ('torch', 'cutlass', 'pandas', 'numpy.random', 'tomllib')\n"
        "                 if m in sys.modules]\n"
        "        print(app.state, len(app.studio.rule.votes()), heavy or 'none')\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    # torch (export), cutlass (fitting) and pandas (parsing a file) cost start-up time the demo
    # does not need: its fit and its parsed table ship with the package. So do numpy.random
    # (drawing the split: it ships too) and tomllib (read only when a keymap file exists).
    assert out.stdout.split() == ["ready", "4", "none"], out.stdout + out.stderr


def test_a_held_key_applies_every_press_and_repaints_once():
    """Key events arriving faster than the views redraw: each edit lands, the prior's blocks,
    the rule sentence and the metrics catch up once, and show the final state."""
    from textual import events

    from tui.widgets.prior_pane import PriorPane

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(160, 44)) as pilot:
            await ready(app, pilot)
            feature, weight, _, _ = current_vote(app)
            calls = []
            pane = app.query_one(PriorPane)
            original = pane.changed
            pane.changed = lambda change: (calls.append(change), original(change))
            for _ in range(6):  # as a terminal's auto-repeat delivers them: all at once
                event = events.Key("plus", "+")
                event.set_sender(app)
                app._driver.send_message(event)
            for _ in range(20):  # bounded: the edits travel up as messages
                if len(app.studio.edits) == 6:
                    break
                await pilot.pause()
            await pilot.pause()
            assert current_vote(app)[1] == pytest.approx(weight + 0.6)
            assert len(app.studio.edits) == 6  # every press is an edit (undo steps back one)
            assert len(calls) < 6
            raw = app.studio.bias_raw()
            heatmap = app.query_one("#heatmap")
            bs, means = heatmap.bs, heatmap.block_means()
            for block in range(heatmap.n_blocks):
                lo, hi = block * bs, min((block + 1) * bs, raw.shape[0])
                assert means[block, block] == pytest.approx(
                    float(raw[lo:hi, lo:hi].mean()), abs=1e-6)
            table = app.query_one("#votes")
            assert f"{weight + 0.6:7.2f}" in "".join(
                table.render_line(y).text for y in range(table.size.height))

    run(body())


def test_after_edits_every_heatmap_and_rule_line_on_screen_is_current():
    """Edits repaint only the lines whose content changed; none may be left stale."""
    from tui.widgets.heatmap import Heatmap
    from tui.widgets.vote_table import VoteTable

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(160, 44)) as pilot:
            await ready(app, pilot)
            shown: dict[tuple[str, int], object] = {}
            for widget_id, cls in (("heatmap", Heatmap), ("votes", VoteTable)):
                widget = app.query_one(f"#{widget_id}", cls)
                original = widget.render_line

                def record(y, _original=original, _id=widget_id):
                    strip = _original(y)
                    shown[(_id, y)] = strip
                    return strip

                widget.render_line = record
                widget.refresh()
            await pilot.pause()
            for keys in (("plus",) * 3, ("right_square_bracket",), ("f",), ("down", "space"),
                         ("down", "minus", "minus")):
                await press(pilot, *keys)
            heatmap, table = app.query_one(Heatmap), app.query_one(VoteTable)
            heatmap.invalidate(everything=True)  # paint every line afresh, to compare
            table.rows_changed(list(range(table.row_count)))
            for (widget_id, y), strip in shown.items():
                widget = heatmap if widget_id == "heatmap" else table
                assert strip == type(widget).render_line(widget, y), (widget_id, y)

    run(body())


def test_weight_keys_edit_the_rule_and_repaint_the_prior():
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            feature, weight, enabled, sign = current_vote(app)
            assert (weight, enabled, sign) == (1.0, True, 1)
            heatmap = app.query_one("#heatmap")
            before = heatmap.block_means()
            await press(pilot, "plus", "plus", "right_square_bracket")
            assert current_vote(app)[1] == pytest.approx(2.2)
            await press(pilot, "minus")
            assert current_vote(app)[1] == pytest.approx(2.1)
            await press(pilot, "f")
            assert current_vote(app)[3] == -1
            await press(pilot, "space")
            assert current_vote(app)[2] is False
            # what the heatmap shows follows the studio's prior exactly
            raw, means = app.studio.bias_raw(), heatmap.block_means()
            assert not np.allclose(before, means)
            bs = heatmap.bs
            lo, hi = 0, min(bs, raw.shape[0])
            assert means[0, 0] == pytest.approx(float(raw[lo:hi, lo:hi].mean()), abs=1e-6)
            status = str(app.query_one("#status").render())
            assert "6 edits" in status
    run(body())


def test_undo_and_redo_walk_the_history():
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await pilot.press("plus")
            assert current_vote(app)[1] == pytest.approx(1.1)
            await pilot.press("ctrl+z")
            assert current_vote(app)[1] == pytest.approx(1.0)
            assert "as fitted" in str(app.query_one("#status").render())
            await pilot.press("ctrl+y")
            assert current_vote(app)[1] == pytest.approx(1.1)
            # ctrl+z still undoes while the ranges filter has focus
            # typed fast: `/` focuses the filter at once, and `e` is a letter there, not export
            await pilot.press("slash", "V", "2", "e")
            assert app.focused.id == "range-filter"
            assert app.query_one("#range-filter").value == "V2e"
            assert not isinstance(app.screen, ExportScreen)
            await pilot.press("backspace", "ctrl+z")
            assert app.studio.edits == ()
            assert app.query_one("#range-filter").value == "V2"
            assert app.query_one("#ranges-table").row_count == 8
            await pilot.press("f1")
            assert isinstance(app.screen, HelpScreen)
    run(body())


def test_typed_values_for_weight_k_and_m():
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await pilot.press("enter")
            await pilot.press(*"2.5", "enter")
            assert current_vote(app)[1] == pytest.approx(2.5)
            await pilot.press("m", "3", "enter")
            assert app.studio.rule.m == 3
            await pilot.press("less_than_sign")
            assert app.studio.rule.m == 2
            await pilot.press("k", "nope", "enter")
            assert app.studio.rule.K == 10  # a bad number keeps the modal open
            await pilot.press("escape")
            assert app.studio.metrics("current").k == 4
    run(body())


def test_every_invalid_typed_value_keeps_the_dialog_open_with_plain_words():
    from tui.screens.modals import ValueScreen

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await press(pilot, "enter")
            for typed, words in (("nan", "got nan"), ("inf", "got inf"),
                                 ("-1", "from 0 to 100 (0 turns the vote off)"),
                                 ("abc", "'abc' is not a number"), ("", "press escape")):
                field = app.screen.query_one("#value")
                field.value = typed
                await press(pilot, "enter")
                assert isinstance(app.screen, ValueScreen), typed
                error = str(app.screen.query_one("#value-error").render())
                assert words in error, (typed, error)
                assert field.value == typed, "what was typed stays to be corrected"
            assert app.studio.edits == ()
            app.screen.query_one("#value").value = "1e308"
            await press(pilot, "enter")
            assert current_vote(app)[1] == 100.0
            notes = [n.message for n in app._notifications]
            assert any("1e+308 is above the maximum; set to 100" in n for n in notes), notes

    run(body())


def test_a_vote_with_weight_zero_is_shown_off():
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            table = app.query_one("#votes")
            assert table.render_line(0).text.startswith(" ●")
            await press(pilot, "enter")
            app.screen.query_one("#value").value = "0"
            await press(pilot, "enter")
            assert current_vote(app)[1:3] == (0.0, True)
            assert table.render_line(0).text.startswith(" ○"), "0 turns the vote off"

    run(body())


def test_history_jumps_to_any_point_and_keeps_notes(tmp_path):
    from tui.screens.history import HistoryScreen
    from tui.screens.modals import TextScreen

    session = tmp_path / "s.json"

    async def body():
        app = RapStudioApp(session=session, deterministic=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(app, pilot)
            await press(pilot, "plus", "plus", "f")
            await press(pilot, "h")
            assert isinstance(app.screen, HistoryScreen)
            lines = app.screen.lines
            assert [line.position for line in lines] == [0, 1, 2, 3]
            assert lines[-1].current and lines[3].what.endswith("votes outside")
            assert lines[0].what == "as fitted" and lines[0].j == pytest.approx(
                app.studio.metrics("fitted").j)
            await press(pilot, "up", "up")  # to edit 1
            await press(pilot, "enter")
            assert len(app.studio.edits) == 1 and app.studio.can_redo
            assert [line.current for line in app.screen.lines] == [False, True, False, False]
            assert not app.screen.lines[3].done, "later edits are on the redo side"
            await press(pilot, "n")
            assert isinstance(app.screen, TextScreen)
            app.screen.query_one("#text").value = "too strong"
            await press(pilot, "enter")
            assert isinstance(app.screen, HistoryScreen)
            assert app.screen.lines[1].note == "too strong"
            await press(pilot, "escape")
            assert not isinstance(app.screen, HistoryScreen)
            await app.workers.wait_for_complete()
            app.studio.flush()
        saved = json.loads(session.read_text())
        assert saved["edits"][0]["note"] == "too strong" and len(saved["redo"]) == 2

    run(body())


def test_replaying_a_session_of_other_columns_is_refused_in_the_dialog(tmp_path):
    from tui.screens.modals import TextScreen

    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "rap-session", "version": 1, "data_sha256": "ab",
                                 "target": "INDC", "edits": [
                                     {"kind": "weight", "feature": "Q1_t0", "value": 2}]}))

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await press(pilot, "ctrl+o")
            assert isinstance(app.screen, TextScreen)
            app.screen.query_one("#text").value = str(other)
            await press(pilot, "enter")
            assert isinstance(app.screen, TextScreen), "a refusal keeps the dialog open"
            error = str(app.screen.query_one("#text-error").render())
            assert "this data has no feature Q1_t0" in error, error
            assert app.studio.edits == ()

    run(body())


def test_edits_survive_a_kill_and_are_restored(tmp_path):
    session = tmp_path / "s.json"

    async def first():
        app = RapStudioApp(session=session, deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await pilot.press("plus", "down", "f", "down", "space")
            # autosaved already: the file holds every edit before any exit
            saved = json.loads(session.read_text())
            assert len(saved["edits"]) == 3

    async def second():
        app = RapStudioApp(session=session, deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            assert len(app.studio.edits) == 3
            messages = [n.message for n in app._notifications]
            assert any(m.startswith("restored 3 edits from") for m in messages), messages
            assert "3 edits" in str(app.query_one("#status").render())

    run(first())
    run(second())


def test_sighup_flushes_the_session_and_exits(tmp_path):
    import signal

    session = tmp_path / "s.json"

    async def body():
        app = RapStudioApp(session=session, deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await pilot.press("plus")
            session.unlink()  # pretend the autosave had not happened yet
            app.studio._dirty = True
            app._on_signal(signal.SIGHUP)
            await pilot.pause()
            assert session.is_file()
        assert app.return_code == 128 + signal.SIGHUP

    run(body())


def _export_via_modal(pilot, path: Path):
    return pilot.press("e", *str(path), "enter")


def test_export_writes_what_rap_export_writes_with_the_saved_session(tmp_path, monkeypatch):
    from rap_core.cli import main as rap_main
    from rap_core.demo import demo_path
    from rap_nanochat.rap_prior import load_prior

    monkeypatch.chdir(tmp_path)
    session = tmp_path / "s.json"
    out = tmp_path / "tui.pt"

    async def body():
        app = RapStudioApp(session=session, deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await pilot.press("plus", "down", "down", "down", "down", "space", "f")
            await _export_via_modal(pilot, out)
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert isinstance(app.screen, MessageScreen)
            body_text = str(app.screen.query_one("#message-body").render())
            assert "tui.pt" in body_text and "80 × 80" in body_text
            return app.studio.bias().copy()

    bias = run(body())
    cli_out = tmp_path / "cli.pt"
    assert rap_main(["export", str(demo_path()), "--session", str(session),
                     "--out", str(cli_out)]) == 0
    ours, theirs = load_prior(out), load_prior(cli_out)
    assert ours["bias_sha256"] == theirs["bias_sha256"]
    assert np.array_equal(ours["bias"].numpy(), bias)


def test_export_asks_before_overwriting(tmp_path):
    out = tmp_path / "exists.pt"
    out.write_bytes(b"keep me")

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await _export_via_modal(pilot, out)
            assert isinstance(app.screen, ConfirmScreen)
            await press(pilot, "n")
            await app.workers.wait_for_complete()
            assert out.read_bytes() == b"keep me"
            assert isinstance(app.screen, ExportScreen), "no keeps the dialog and the path"
            assert app.screen.query_one("#export-path").value == str(out)
            assert "not overwritten" in str(app.screen.query_one("#export-error").render())
            await press(pilot, "enter")
            assert isinstance(app.screen, ConfirmScreen)
            await press(pilot, "y")
            await app.workers.wait_for_complete()
            await press(pilot)
            assert isinstance(app.screen, MessageScreen)
        assert out.read_bytes() != b"keep me"

    run(body())


def test_export_asks_before_creating_a_directory_and_leads_on(tmp_path):
    out = tmp_path / "new" / "dir" / "p.pt"

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(app, pilot)
            await _export_via_modal(pilot, out)
            assert isinstance(app.screen, ConfirmScreen)
            assert "does not exist. Create it?" in str(app.screen.query_one("#question").render())
            await press(pilot, "n")
            assert not (tmp_path / "new").exists(), "nothing is created without a yes"
            assert isinstance(app.screen, ExportScreen)
            await press(pilot, "enter")
            await press(pilot, "y")
            await app.workers.wait_for_complete()
            await press(pilot)
            assert out.exists() and isinstance(app.screen, MessageScreen)
            body_text = str(app.screen.query_one("#message-body").render())
            assert str(out.resolve()) in body_text, "the absolute path"
            assert "python dev/train_rap.py --prior" in body_text and "base_train" in body_text

    run(body())


def test_a_refused_export_keeps_the_dialog_and_the_typed_path(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    target = locked / "p.pt"
    target.mkdir()  # a directory where the file would go: refused whoever runs the test

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await _export_via_modal(pilot, target)
            assert isinstance(app.screen, ExportScreen)
            assert app.screen.query_one("#export-path").value == str(target)
            error = str(app.screen.query_one("#export-error").render())
            assert "is a directory" in error and "--out" not in error, error

    run(body())


def test_escape_cancels_a_running_fit(small_csv):
    started = threading.Event()

    def slow_fit(dataset, params, *, progress=None, cancel=None):
        started.set()
        for _ in range(3000):  # bounded: 30 s at most, a cancel ends it within 10 ms
            if cancel():
                raise FitCancelled()
            threading.Event().wait(0.01)
        raise AssertionError("the fit was never cancelled")

    async def body():
        app = RapStudioApp(small_csv, fit_fn=slow_fit, deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(500):  # bounded: the loader and the preview take well under 10 s
                if started.is_set():
                    break
                await pilot.pause(0.02)
            assert started.is_set(), "the fit never started"
            await pilot.pause()
            assert app.state == "fitting"
            assert app.studio is not None and app.studio.fit is None  # provisional preview
            assert app.query_one("#heatmap").block_means() is not None
            await pilot.press("escape")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.state == "provisional"
            assert "fit cancelled" in str(app.query_one("#status").render())
            await pilot.press("plus")  # edits stay off without a fit
            assert app.studio.edits == ()

    run(body())


def test_bad_csv_opens_the_error_screen(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,INDC\n1,x,0\n2,3,7\n")

    async def body():
        app = RapStudioApp(bad, deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            assert isinstance(app.screen, ErrorScreen)
            message = str(app.screen.query_one("#error-message").render())
            assert "bad.csv" in message and "Traceback" not in message
            assert "\n" not in message.strip()
            await pilot.press("q")
        assert app.return_code in (0, None)

    run(body())


def test_layout_switch_and_heatmap_cursor():
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await pilot.press("3")
            assert app.focused.id == "heatmap"
            await pilot.press("l")
            await pilot.pause()
            assert app.studio.layout == "lags"
            assert app.query_one("#heatmap").n_blocks == 8
            await pilot.press("right", "down")
            await pilot.pause()
            info = str(app.query_one("#prior-info").render())
            assert "× " in info and "=" in info
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape", "e")
            assert isinstance(app.screen, ExportScreen)
    run(body())


def test_the_ranges_histogram_is_redrawn_for_a_new_width():
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(app, pilot)
            await press(pilot, "1")
            histogram = app.query_one("#histogram")
            narrow = max(len(line) for line in str(histogram.render()).splitlines()[1:])
            await pilot.resize_terminal(130, 30)
            await press(pilot)
            wide = max(len(line) for line in str(histogram.render()).splitlines()[1:])
            assert wide > narrow + 20, (narrow, wide)

    run(body())


def test_the_history_shows_edits_typed_just_before_it_opened():
    """Found in tmux: `+ down space h` typed at once opened the history before the edits (in
    flight as messages) landed, and it showed none of them."""
    from textual import events

    from tui.screens.history import HistoryScreen

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(app, pilot)
            for key, char in (("plus", "+"), ("down", None), ("space", " "), ("h", "h")):
                event = events.Key(key, char)
                event.set_sender(app)
                app._driver.send_message(event)  # as a terminal delivers a burst
            for _ in range(20):  # bounded
                if isinstance(app.screen, HistoryScreen) and len(app.screen.lines) == 3:
                    break
                await pilot.pause()
            assert isinstance(app.screen, HistoryScreen)
            assert [line.position for line in app.screen.lines] == [0, 1, 2]
            assert app.screen.lines[-1].current

    run(body())


def test_the_sort_arrow_shows_on_a_narrow_column():
    """Found in a drill: sorting by `lag` (a 3-cell column) clipped its arrow."""
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(app, pilot)
            await press(pilot, "1", "s", "s")  # feature -> group -> lag
            table = app.query_one("#ranges-table")
            header = table.render_line(0).text
            assert "lag▲" in header, header

    run(body())


def test_exporting_onto_the_session_file_is_refused_before_any_question(tmp_path):
    """The dialog checked the target against the data only, so it asked "overwrite?" about the
    session file and was refused only after a yes; it now checks what the write checks."""
    session = tmp_path / "s.json"

    async def body():
        app = RapStudioApp(session=session, deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await press(pilot, "plus")
            app.studio.flush()
            before = session.read_bytes()
            await _export_via_modal(pilot, session)
            assert isinstance(app.screen, ExportScreen), "no overwrite question"
            error = str(app.screen.query_one("#export-error").render())
            assert "is the input" in error, error
            assert session.read_bytes() == before

    run(body())
