"""Start-up as `rap-studio` runs it (tui.__main__): the cyclic collector is paused while the
app imports and opens the data (its collections cost ~40 ms before the rule was editable), and
must run again afterwards, whatever happens: a long editing session must not pile up cycles."""

from __future__ import annotations

import asyncio
import gc

import pytest

from tui.__main__ import build_app, main


@pytest.fixture
def paused_collector():
    gc.disable()  # as main() does before the imports
    yield
    gc.enable()


def test_the_collector_runs_again_once_the_rule_is_on_screen(paused_collector):
    async def body():
        app = build_app([], deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.state == "ready"
            return gc.isenabled()

    assert asyncio.run(body()), "the collector is back on while the user edits"


def test_the_collector_runs_again_after_an_error_screen(paused_collector, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")  # no target column: an error screen, not a rule

    async def body():
        app = build_app([str(bad)], deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
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
