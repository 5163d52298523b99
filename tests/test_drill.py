"""What a user drill of the merged main found, kept fixed.

User text on screen is text, never markup: a column named `x[/]` crashed the app with a
MarkupError traceback (the ranges table read the name as Rich markup), and `weight[kg]` showed as
`weight`. Feature names, paths and error lines come from the user; every place that shows them
must show them verbatim. Questions must be readable at 80 columns, and a refused write names the
user's file.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
from textual.widgets._data_table import default_cell_formatter

from rap_core.dataset import load_dataset
from rap_core.fit import FitParams, run_fit
from rap_core.split import train_dataset
from tui.app import RapStudioApp
from tui.screens.modals import FitOptionsScreen, MessageScreen, ValueScreen

NAMES = ["weight[kg]", "dose[mg/l]", "age", "x[/]"]


def bracket_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({
        "weight[kg]": np.round(rng.normal(70, 10, n), 3),
        "dose[mg/l]": np.round(rng.random(n), 4),
        "age": rng.integers(20, 80, n),
        "x[/]": np.round(rng.random(n), 4),
    })
    frame["INDC"] = ((frame["weight[kg]"] > 75) & (frame["dose[mg/l]"] < 0.5)).astype(int)
    path = tmp_path / "brackets[1].csv"
    frame.to_csv(path, index=False)
    return path


def test_feature_names_with_brackets_show_verbatim_and_never_crash(tmp_path):
    data = bracket_csv(tmp_path)
    # the app fits on the training rows of the split (issue 11), so the stand-in does too
    fitted = run_fit(train_dataset(load_dataset(data)), FitParams(Cs=4))

    def fit_fn(dataset, params, *, progress=None, cancel=None):
        return fitted

    async def body():
        app = RapStudioApp(data, fit_fn=fit_fn, deterministic=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.state == "ready"
            await pilot.press("1")
            await pilot.pause()
            table = app.query_one("#ranges-table")
            # what each cell draws (a str cell is read as markup), not only what it stores
            drawn = {default_cell_formatter(table.get_row_at(r)[0]).plain
                     for r in range(table.row_count)}
            assert drawn == set(NAMES), drawn
            # the weight dialog names the feature verbatim
            await pilot.press("2")
            app.query_one("#votes").focus()
            for _ in range(len(NAMES)):  # bounded: the feature is one of NAMES
                if app.query_one("#votes").current_feature() == "x[/]":
                    break
                await pilot.press("down")
            await pilot.press("enter")
            for _ in range(3):  # the request travels up to the app as a message
                await pilot.pause()
            assert isinstance(app.screen, ValueScreen)
            label = str(app.screen.query("Label").first().render())
            assert "x[/]" in label, label
            await pilot.press("escape")
            await pilot.pause()
            assert app.state == "ready" and app.is_running

    asyncio.run(body())


def test_dialog_text_with_brackets_is_not_eaten(tmp_path):
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            app.push_screen(FitOptionsScreen(FitParams()))
            await pilot.pause()
            labels = " ".join(str(label.render()) for label in app.screen.query("Label"))
            assert "rap-studio[cuda12]" in labels
            # a typed value that looks like a closing tag is reported, not a crash
            app.screen.query_one("#fit-Cs").value = "[/]"
            app.screen.query_one("#fit-Cs").focus()
            await pilot.pause()
            await pilot.press("enter")
            await pilot.pause()
            assert "'[/]'" in str(app.screen.query_one("#fit-error").render())
            await pilot.press("escape")
            await pilot.pause()
            app.push_screen(MessageScreen("Exported", "path    out[/]/p[1].pt"))
            await pilot.pause()
            assert "out[/]/p[1].pt" in str(app.screen.query_one("#message-body").render())
            assert app.is_running

    asyncio.run(body())


def test_the_quit_question_is_readable_at_80_columns():
    """A read-only session's reason is long; at 80 columns the question it ends with ("Quit
    anyway?") was cut off, so `y` answered a question the user never saw."""
    from textual.geometry import Region

    from tui.screens.modals import ConfirmScreen

    reason = ("your edits are not saved (edits cannot be saved: cannot write /sys/kernel "
              "(Permission denied); you can edit, but the edits stay in this window (give "
              "--session in a writable place to keep them)).")

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            app.push_screen(ConfirmScreen(f"{reason} Quit anyway?"))
            await pilot.pause()
            question = app.screen.query_one("#question")
            width, height = question.size
            shown = " ".join(strip.text.strip() for strip in
                             question.render_lines(Region(0, 0, width, height)))
            assert "Quit anyway?" in shown and "/sys/kernel" in shown, shown
            assert width <= 80

    asyncio.run(body())


def test_a_refused_write_names_the_users_file_not_our_temporary(tmp_path, capsys,
                                                                monkeypatch):
    """Found in a user drill: `rap eval-data --out /sys/x.csv` said
    "cannot complete: /sys/.x.csv.mw2zg78v.tmp: Permission denied"."""
    import tempfile

    from rap_core.cli import main

    def refuse(prefix="", suffix="", dir=None):
        raise PermissionError(13, "Permission denied", f"{dir}/{prefix}q1w2e3{suffix}")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    out = tmp_path / "n.csv"
    assert main(["eval-data", "--rows", "300", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"rap: cannot complete: {out}: Permission denied", err
    assert not out.exists()


def _summary_doc(name: str) -> dict:
    """A results.json as `rap eval` writes it: one size, three arms, the bag baselines."""
    summary = []
    for arm, loss, diff, verdict in (("none", 0.577, None, None),
                                     ("rap", 0.414, -0.162, "helps"),
                                     ("shuffled", 0.586, 0.010, "no detectable effect")):
        for metric, mean in (("test_loss", loss), ("test_acc", 0.741), ("test_auc", 0.571),
                             ("samples_to_threshold", None)):
            row = {"arm": arm, "size": 1000, "metric": metric, "n": 3, "mean": mean,
                   "ci95": 0.031, "diff_vs_none": None, "diff_ci95": None, "verdict": None}
            if metric == "test_loss":
                row.update(diff_vs_none=diff, diff_ci95=None if diff is None else 0.141,
                           verdict=verdict)
            if metric == "samples_to_threshold":
                row.update(reached=0)
            summary.append(row)
    base = {"test_loss": 0.5, "test_acc": 0.8, "test_auc": 0.9}
    return {"data": {"name": name}, "seeds": 3, "sizes": [1000],
            "arms": ["none", "rap", "shuffled"], "summary": summary,
            "baselines": {"1000": {"bag": base, "onehot": base}}, "verdict": {"1000": "helps"}}


def test_eval_summary_is_whole_at_80_columns(capsys, monkeypatch):
    """Found in a user drill: piped or in an 80-column terminal the table cut the arm and the
    verdict ("shuffl…", "detect…"), and a data name in brackets was read as markup."""
    from rap_core.eval_report import print_summary

    monkeypatch.setenv("COLUMNS", "80")
    print_summary(_summary_doc("runs[2].csv"))
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80, out
    assert "…" not in out, out
    assert "runs[2].csv" in out and "shuffled" in out and "onehot" in out
    assert "detectable" in out and "reached" in out, out


def test_one_restored_edit_is_one_edit(tmp_path):
    """Found in a user drill: relaunching after one edit said "restored 1 edits"."""
    import json

    session = tmp_path / "s.json"

    async def first():
        app = RapStudioApp(session=session, deterministic=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("plus")
            assert len(json.loads(session.read_text())["edits"]) == 1

    async def second():
        app = RapStudioApp(session=session, deterministic=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            messages = [n.message for n in app._notifications]
            assert any(m.startswith("restored 1 edit from") for m in messages), messages

    asyncio.run(first())
    asyncio.run(second())


def test_every_help_page_reads_as_written(capsys):
    """Found in a user drill: `rap eval --help` said "95%% intervals" (a description is not
    %-formatted by argparse, so the escape was printed)."""
    import pytest

    from rap_core.cli import main

    for command in ("export", "rules", "inspect", "demo", "eval", "eval-data"):
        with pytest.raises(SystemExit) as done:
            main([command, "--help"])
        assert done.value.code == 0
        out = capsys.readouterr().out
        assert "%%" not in out and "%(" not in out, (command, out)


def test_rap_studio_refuses_a_directory_as_session_before_starting(tmp_path, capsys,
                                                                   monkeypatch):
    """Found in a user drill: `rap-studio --session /tmp` locked `/tmp.lock`, reported "fit
    failed" and advised removing /tmp."""
    from tui.__main__ import main

    def started(self, *args, **kwargs):
        raise AssertionError("the app started with a directory as its session")

    monkeypatch.setattr(RapStudioApp, "run", started)
    folder = tmp_path / "sessions"
    folder.mkdir()
    assert main(["--session", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is a directory" in err and "remove" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "xdg-cache"
                  and p.name != "xdg-state") == ["sessions"]


def test_a_refused_export_in_the_app_does_not_mention_out(tmp_path, monkeypatch):
    """Found in a user drill: exporting from the app to an unwritable place said "choose another
    path with --out"; the app has no --out."""
    import tempfile

    def refuse(prefix="", suffix="", dir=None):
        raise PermissionError(13, "Permission denied", f"{dir}/{prefix}q1w2e3{suffix}")

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            monkeypatch.setattr(tempfile, "mkstemp", refuse)
            await pilot.press("e")  # the export dialog, as a user opens it
            app.screen.query_one("#export-path").value = str(tmp_path / "p.pt")
            await pilot.press("enter")
            for _ in range(3):  # the request travels up to the app as a message
                await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            error = str(app.screen.query_one("#export-error").render())  # shown in the dialog
            assert "p.pt" in error and "Permission denied" in error, error
            assert "--out" not in error, error

    asyncio.run(body())


def test_a_flushed_hangup_leaves_no_lock_to_take_over(tmp_path):
    """Found in a user drill: after every dropped connection (SIGHUP: flush, then os._exit) the
    next launch said the session was "taken over from pid N, which ended without releasing
    it" — the flushed exit left its owner record behind."""
    from rap_core.session_lock import lock_path, open_session, read_owner

    session = tmp_path / "s.json"

    async def body():
        app = RapStudioApp(session=session, deterministic=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("plus")
            assert read_owner(lock_path(session)) is not None  # held while it runs
            assert app.flush_for_exit(1.0) is None  # what the exit guard does on SIGHUP
            assert read_owner(lock_path(session)) is None
            app.session_access.lock._lock.release(force=True)  # what the kernel does at exit
            app.session_access = None

    asyncio.run(body())
    again = open_session(session)
    try:
        assert again.mode == "write" and again.notice is None, again.notice
    finally:
        again.release()
