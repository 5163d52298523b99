"""Fitting in RAP Studio: readable progress at 80 columns, escape in the footer while fitting,
and a refit (ctrl+r, or the palette) with editable options after a cancel or a failed fit."""

from __future__ import annotations

import asyncio
import threading

from rap_core.errors import FitCancelled, RapError
from rap_core.fit import FitParams, FitProgress
from rap_core.fit_process import run_fit_in_child
from tui.app import RapStudioApp
from tui.screens.modals import FitOptionsScreen

SIZE = (80, 24)


def run(coro):
    return asyncio.run(coro)


def status(app) -> str:
    return str(app.query_one("#status").render())


def footer_actions(app) -> set[str]:
    return {key.action for key in app.query("FooterKey")}


async def until(pilot, condition, what: str, tries: int = 500) -> None:
    """Bounded polling: the fit runs in a worker thread."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class StoppableFit:
    """A stand-in fit function: the first call reports progress and waits for a cancel (or
    fails); later calls run the real cutlass fit with the parameters the app passes."""

    def __init__(self, first: str = "cancel") -> None:
        self.first = first
        self.calls: list[FitParams] = []
        self.started = threading.Event()
        self.stopped = threading.Event()  # the first (stand-in) fit returned

    def __call__(self, dataset, params, *, progress=None, cancel=None):
        self.calls.append(params)
        if len(self.calls) > 1:
            return run_fit_in_child(dataset, params, progress=progress, cancel=cancel)
        progress(FitProgress("input_validation", 0, 1, 0.01, backend="cpu"))
        self.started.set()
        if self.first == "fail":
            raise RapError("small.csv: cutlass could not fit this data (test)")
        waited = threading.Event()
        for _ in range(3000):  # bounded: at most ~30 s, even if no cancel ever comes
            if cancel():
                break
            waited.wait(0.01)
        self.stopped.set()
        raise FitCancelled()


def test_progress_is_readable_at_80_columns_and_escape_is_in_the_footer(small_csv):
    fit = StoppableFit()

    async def body():
        app = RapStudioApp(small_csv, fit_fn=fit, deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, fit.started.is_set, "the fit to start")
            await until(pilot, lambda: "cross-validation" in status(app), "progress")
            line = status(app)
            assert "fitting" in line and "esc cancels" in line and len(line) <= 80
            # The footer recomposes after the bindings change: poll it (bounded).
            await until(pilot, lambda: "cancel_fit" in footer_actions(app), "esc in the footer")
            assert "refit" not in footer_actions(app)
            await pilot.press("escape")
            await until(pilot, lambda: app.state == "provisional", "the cancel")
            assert "fit cancelled" in status(app) and "ctrl+r refits" in status(app)
            await until(pilot, lambda: "refit" in footer_actions(app), "ctrl+r in the footer")
            assert "cancel_fit" not in footer_actions(app)

    run(body())


def test_refit_after_cancel_with_new_options(small_csv):
    fit = StoppableFit()

    async def body():
        app = RapStudioApp(small_csv, fit_fn=fit, deterministic=True,
                           params=FitParams(Cs=5, solver="cd"))
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, fit.started.is_set, "the fit to start")
            header = str(app.query_one("#metrics").render()).splitlines()[0]
            assert "provisional" in header and "fitted" not in header
            await pilot.press("escape")
            await until(pilot, lambda: app.state == "provisional", "the cancel")

            await pilot.press("ctrl+r")
            await until(pilot, lambda: isinstance(app.screen, FitOptionsScreen), "the dialog")
            app.screen.query_one("#fit-solver").value = "fista"
            app.screen.query_one("#fit-cv").value = "x"  # a bad value keeps the dialog open
            app.screen.query_one("#fit-Cs").focus()
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, FitOptionsScreen)
            assert "cv must be a whole number" in str(app.screen.query_one("#fit-error").render())
            app.screen.query_one("#fit-cv").value = "2"
            await pilot.press("enter")
            await until(pilot, lambda: app.state == "ready", "the refit", tries=3000)
            assert fit.calls[-1] == FitParams(Cs=5, cv=2, solver="fista")
            assert app.studio.fit is not None and app.studio.fit.params.solver == "fista"
            header = str(app.query_one("#metrics").render()).splitlines()[0]
            assert "fitted" in header and "provisional" not in header
            await until(pilot, lambda: "refit" not in footer_actions(app), "refit to leave")
            await pilot.press("plus")  # edits open once fitted
            assert len(app.studio.edits) == 1

    run(body())


def test_a_failed_fit_offers_a_refit_from_the_palette(small_csv):
    fit = StoppableFit(first="fail")

    async def body():
        app = RapStudioApp(small_csv, fit_fn=fit, deterministic=True, params=FitParams(Cs=5))
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.state == "provisional", "the failure")
            assert "fit failed" in status(app)
            commands = [c.title for c in app.get_system_commands(app.screen)]
            assert "Refit…" in commands
            await app.run_action("refit")
            await until(pilot, lambda: isinstance(app.screen, FitOptionsScreen), "the dialog")
            await pilot.press("escape")  # cancelling the dialog changes nothing
            await pilot.pause()
            assert app.state == "provisional" and len(fit.calls) == 1

    run(body())


def test_an_app_that_ends_mid_fit_stops_the_fit(small_csv):
    """However the app ends (here: exit() without ctrl+q), a running fit is cancelled, so its
    worker thread cannot hold the process's exit."""
    fit = StoppableFit()

    async def body():
        app = RapStudioApp(small_csv, fit_fn=fit, deterministic=True)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, fit.started.is_set, "the fit to start")
            app.exit()
        assert fit.stopped.wait(5.0), "the fit kept running after the app ended"

    run(body())
