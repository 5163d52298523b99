"""The Evaluate tab (key 4) through Pilot: run, progress, result, stale after an edit, cached
after undo, cancel. The quick evaluation itself is replaced by a canned result (no training)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from rap_core import quick_eval
from rap_core.errors import RapError
from tests.eval_fake import fake_doc
from tui.app import RapStudioApp
from tui.widgets.evaluate_pane import EvaluatePane, loss_chart, summary_lines


def status(app) -> str:
    return str(app.query_one("#eval-status").render())


@pytest.fixture
def fake_run(monkeypatch):
    calls = []

    def run(self, progress=None):
        calls.append(self.key)
        progress(quick_eval.QuickProgress(0, 9, "9 runs (0 cached)"))
        progress(quick_eval.QuickProgress(9, 9, "done"))
        doc = fake_doc()
        quick_eval._MEMORY[self.key] = doc
        return doc

    monkeypatch.setattr(quick_eval.QuickEval, "run", run)
    monkeypatch.setattr(quick_eval, "_MEMORY", {})
    return calls


def test_evaluate_runs_marks_stale_after_an_edit_and_finds_the_cache_after_undo(fake_run):
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("4")
            pane = app.query_one(EvaluatePane)
            assert app.focused is pane and "Press r" in status(app)
            await pilot.press("r")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert fake_run and "helps" in status(app)
            assert "your prior" in str(app.query_one("#eval-summary").render())
            await pilot.press("2", "plus", "4")  # an edit changes the prior
            await pilot.pause()
            assert "stale" in status(app)
            await pilot.press("ctrl+z")  # back to the evaluated prior: its result, at once
            pane.sync()
            await pilot.pause()
            assert "stale" not in status(app) and "helps" in status(app)
            assert len(fake_run) == 1

    asyncio.run(body())


def test_a_failed_or_cancelled_evaluation_says_so(monkeypatch):
    started = threading.Event()

    def run(self, progress=None):
        started.set()
        self._cancelled.wait(5)
        raise RapError("evaluation cancelled; finished runs are kept for next time")

    monkeypatch.setattr(quick_eval.QuickEval, "run", run)

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("4", "r")
            assert started.wait(5)
            await pilot.press("c")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert "cancelled" in status(app)

    asyncio.run(body())


def test_chart_and_summary_render_every_arm():
    doc = fake_doc()
    lines = [line.plain for line in loss_chart(doc, 60, 8, no_color=True)]
    assert len(lines) == 10 and all(len(line) <= 60 for line in lines[:-1])
    body = "\n".join(lines)
    assert "n" in body and "p" in body and "s" in body and "your prior" in lines[-1]
    text = "\n".join(line.plain for line in summary_lines(doc))
    assert "helps" in text and "[" in text and "gates 4.00 4.20" in text


def test_quick_eval_command_is_rap_eval_quick_on_the_edited_prior():
    from rap_core.cli import build_parser
    from rap_core.dataset import load_dataset
    from rap_core.demo import demo_path
    from rap_core.edits import Edit
    from rap_core.fit_process import load_or_fit
    from rap_core.session import load_session
    from rap_core.split import train_dataset
    from rap_core.studio import Studio

    dataset = load_dataset(demo_path())
    studio = Studio.from_fit(dataset, load_or_fit(train_dataset(dataset)))
    before = quick_eval.prior_key(studio)
    studio.apply(Edit("weight", "V2_t3", 2.0))
    job = quick_eval.QuickEval(studio, demo_path(), "INDC")
    assert job.key != before  # the cache key follows the edited prior
    command = job.command()
    assert command[1:3] == ["-m", "rap_core.guarded"]  # the eval child dies with the app
    args = build_parser().parse_args(command[command.index("eval"):])
    assert args.command == "eval" and args.quick and args.arms == "none,session,shuffled"
    assert [e.feature for e in load_session(args.session).edits] == ["V2_t3"]
    assert quick_eval.cached(job.key) is None
