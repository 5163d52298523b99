"""Start-up structure (issue 13): what the first screen needs is built first, the rest later,
and nothing the user sees changes. Behaviour only; the timings are in dev/bench_tui.py."""

from __future__ import annotations

import asyncio
import gc

import numpy as np
import pytest

from tui.__main__ import build_app, main
from tui.app import RapStudioApp
from tui.widgets.charts import j_curve_text


async def ready(app, pilot) -> None:
    """The loader and the fit done, and their results on screen."""
    await app.workers.wait_for_complete()
    await pilot.pause()


def test_the_demo_is_editable_in_the_first_frame():
    """rap-studio opens the demo (or a parsed and fitted table: tests/test_open_cached.py)
    before it takes over the terminal: no "loading" screen first, a rule to edit at once."""
    async def body():
        app = build_app([], deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            first = (app.state, str(app.query_one("#status").render()))
            await pilot.press("plus")
            await pilot.pause()
            return first, len(app.studio.edits)

    (state, status), edits = asyncio.run(body())
    assert state == "ready" and "loading" not in status, status
    assert edits == 1


def test_b_is_counted_off_the_ui_thread_after_the_first_frame(monkeypatch):
    """At 80 columns the first screen shows no prior, so B waits for that frame, and is then
    built on a thread: built by the Prior pane's mount, its n x P x P counts held up a key
    pressed just after the rule appeared (0.16-0.19 s at 5,000 x 1,000)."""
    import threading

    from rap_core.statistic import CoactivationCounts

    threads: list = []
    count = CoactivationCounts.from_indicators.__func__

    def counted(cls, *args):
        threads.append(threading.current_thread())
        return count(cls, *args)

    monkeypatch.setattr(CoactivationCounts, "from_indicators", classmethod(counted))

    async def body():
        app = build_app([], deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            at_first_frame = list(threads)
            for _ in range(200):  # bounded: the build starts after the first frame
                if threads:
                    break
                await pilot.pause(0.01)
            await ready(app, pilot)
            return at_first_frame, list(threads)

    at_first_frame, later = asyncio.run(body())
    assert at_first_frame == []
    assert len(later) == 1 and later[0] is not threading.main_thread(), later


def test_quitting_while_b_is_built_in_the_background_ends_cleanly(monkeypatch):
    """A quit just after the rule appeared, while B is still being counted on its thread: the
    background mounts end quietly (the app ended with an error raised out of `run_test`)."""
    import threading

    from rap_core.statistic import CoactivationCounts

    started, release = threading.Event(), threading.Event()
    count = CoactivationCounts.from_indicators.__func__

    def slow(cls, *args):
        started.set()
        release.wait(10)
        return count(cls, *args)

    monkeypatch.setattr(CoactivationCounts, "from_indicators", classmethod(slow))

    async def body():
        app = build_app([], deterministic=True)
        try:
            async with app.run_test(size=(80, 24)) as pilot:
                for _ in range(200):  # bounded: the build starts after the first frame
                    if started.is_set():
                        break
                    await pilot.pause(0.01)
                assert started.is_set()
                app.exit()
                await pilot.pause()
        finally:
            release.set()
        return app.return_code

    assert asyncio.run(body()) == 0


def test_an_interrupt_while_opening_ends_quietly(monkeypatch, capsys):
    """ctrl+c before the terminal is taken over (imports, opening the data): exit 130, no
    traceback."""
    import tui.__main__ as entry

    def interrupted(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(entry, "build_app", interrupted)
    assert main([]) == 130
    assert capsys.readouterr().err == ""


def test_hidden_panes_mount_after_the_rule_or_with_their_tab():
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(app, pilot)
            assert app.state == "ready"
            panes = {name: app.query_one(f"#{name}-pane")
                     for name in ("rules", "prior", "evaluate")}
            assert [name for name, pane in panes.items() if pane.display] == ["rules"]
            assert app.query_one("#heatmap").block_means() is not None  # loaded while hidden
            assert not app.query("#ranges-pane")  # mounted when its tab is first shown
            await pilot.press("1")
            ranges = app.query_one("#ranges-pane")
            assert ranges.display and not panes["rules"].display
            assert app.focused.id == "ranges-table"
            await pilot.press("2", "plus")
            await pilot.pause()
            assert len(app.studio.edits) == 1

    asyncio.run(body())


def test_wide_terminal_starts_with_rules_and_prior_side_by_side():
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(160, 40)) as pilot:
            await ready(app, pilot)
            shown = [pane.id for pane in app.query("#panes > *") if pane.display]
            assert shown == ["rules-pane", "prior-pane"]

    asyncio.run(body())


@pytest.fixture
def held_loader(monkeypatch):
    """The data load waits until the test sets the returned event (at most 10 s)."""
    import threading

    from rap_core import opening

    release = threading.Event()
    load = opening.load_data

    def slow_load(*args, **kwargs):
        release.wait(10)
        return load(*args, **kwargs)

    monkeypatch.setattr(opening, "load_data", slow_load)
    return release


def test_the_status_line_says_loading_until_the_rule_is_there(held_loader):
    """A big table takes seconds to open: the line said only "RAP Studio" meanwhile."""
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert app.state == "loading"
            assert "loading…" in app.query_one("#status").text.plain
            held_loader.set()
            await ready(app, pilot)
            status = app.query_one("#status").text.plain
            assert "loading" not in status and "as fitted" in status

    asyncio.run(body())


def test_a_tab_chosen_while_the_data_loads_is_the_one_shown_and_focused(held_loader):
    """`3` before the data: the bar moves at once, the Prior pane shows and has the focus when
    the Studio arrives, and `2` and an edit work after."""
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("3")  # no pane to focus yet: not an error
            assert app.query_one("#tabs").active == "prior"
            held_loader.set()
            await ready(app, pilot)
            assert app.query_one("#prior-pane").display and app.focused.id == "heatmap"
            assert not app.query_one("#rules-pane").display
            await pilot.press("2", "plus")
            await pilot.pause()
            assert app.query_one("#rules-pane").display and len(app.studio.edits) == 1

    asyncio.run(body())


def test_a_rules_command_from_the_palette_shows_the_rules_and_runs(held_loader):
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            held_loader.set()
            await ready(app, pilot)
            await pilot.press("3")
            (command,) = [c for c in app.get_system_commands(app.screen)
                          if c.title.lower().startswith("flip")]
            await command.callback()
            await pilot.pause()
            assert app.query_one("#rules-pane").display and app.focused.id == "votes"
            assert len(app.studio.edits) == 1

    asyncio.run(body())


def test_a_cut_j_curve_says_so():
    curve = np.linspace(0.1, 0.9, 40)
    assert "k=40…" in j_curve_text(curve, None, width=40, total=1000).plain
    assert "…" not in j_curve_text(curve, None, width=40).plain


def test_a_pane_being_mounted_is_not_handed_out_until_it_is_composed():
    """Seen in CI: a fit that ended while the Prior pane was being mounted in the background
    loaded the pane before its heatmap existed ("No nodes match 'Heatmap'") and the fit was
    reported as failed. `Panes.get` hands out a pane only once its mount is complete."""
    import asyncio

    from tui.panes import Panes

    async def body():
        release = asyncio.Event()
        loaded = []

        class SlowContainer:
            async def mount(self, pane, before=None):
                await release.wait()

        panes = Panes(lambda: SlowContainer(), lambda name, pane: loaded.append(name))
        mounting = asyncio.create_task(panes.ensure("prior"))
        for _ in range(5):  # bounded: let the task reach its await
            await asyncio.sleep(0)
        assert panes.get("prior") is None and loaded == [], "not composed yet"
        release.set()
        await asyncio.wait_for(mounting, 5)
        assert panes.get("prior") is not None and loaded == ["prior"]

    asyncio.run(body())

# -- the collector paused for start-up (tui.__main__.main) and the footer's keys held back ------
# The cyclic collector is paused while the app imports and opens the data (its collections cost
# ~40 ms before the rule was editable); it must run again afterwards, whatever happens: a long
# editing session must not pile up cycles.


@pytest.fixture
def paused_collector():
    gc.disable()  # as main() does before the imports
    yield
    gc.enable()


def test_the_collector_runs_again_once_the_rule_is_on_screen(paused_collector):
    async def body():
        app = build_app([], deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(app, pilot)
            assert app.state == "ready"
            return gc.isenabled()

    assert asyncio.run(body()), "the collector is back on while the user edits"


def test_the_collector_runs_again_after_an_error_screen(paused_collector, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")  # no target column: an error screen, not a rule

    async def body():
        app = build_app([str(bad)], deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(app, pilot)
            assert app.state == "error"
            return gc.isenabled()

    assert asyncio.run(body())


def test_a_refused_argument_leaves_the_collector_on(capsys):
    assert main(["--cv", "0"]) == 2
    assert "rap-studio:" in capsys.readouterr().err
    assert gc.isenabled()


def test_the_footer_shows_the_keys_once_the_rule_is_on_screen():
    # Start-up holds the footer's key widgets back until the first rule is drawn (~10 ms of
    # the UI thread on the way there); they must then appear, and list the editing keys.
    from textual.widgets._footer import FooterKey

    async def body():
        app = build_app([], deterministic=True)
        async with app.run_test(size=(100, 24)) as pilot:
            await app.workers.wait_for_complete()
            for _ in range(3):
                await pilot.pause()
            return [key.description for key in app.query(FooterKey)]

    shown = asyncio.run(body())
    assert len(shown) >= 5 and "Help" in shown and "Export" in shown, shown
