"""Look and feel: the theme persists, a keymap file remaps keys by binding id, broken settings
are one toast, the prior saves as an image from the app, and 16-colour / TERM=dumb / NO_COLOR
terminals get a heatmap whose glyphs carry sign and magnitude."""

from __future__ import annotations

import asyncio
import json

import pytest
from textual.binding import Binding

from tui.actions import ACTIONS, RANGE_ACTIONS, RULE_ACTIONS, bindings
from tui.app import RapStudioApp
from tui.binding_ids import binding_ids
from tui.screens.modals import ExportScreen
from tui.user_config import config_dir
from tui.widgets.evaluate_pane import EvaluatePane
from tui.widgets.heatmap import Heatmap
from tui.widgets.palette import NEG_GLYPHS, POS_GLYPHS


async def _ready(app, pilot):
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.state == "ready"


def _toasts(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def test_every_binding_carries_a_known_id():
    declared = [*bindings(ACTIONS), *bindings(RULE_ACTIONS), *bindings(RANGE_ACTIONS),
                *Heatmap.BINDINGS, *EvaluatePane.BINDINGS]
    ids = {b.id for b in declared if isinstance(b, Binding)}
    assert None not in ids
    assert ids == binding_ids()


def test_the_chosen_theme_is_used_at_the_next_start():
    async def first():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await _ready(app, pilot)
            app.theme = "textual-light"
            await pilot.pause()

    async def second():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await _ready(app, pilot)
            assert app.theme == "textual-light"
            await pilot.press("3")
            await pilot.pause()
            heatmap = app.query_one(Heatmap)
            assert not heatmap._palette.dark  # the ramp's zero is near the light background
            assert sum(heatmap._palette.zero) > 3 * 180

    asyncio.run(first())
    saved = json.loads((config_dir() / "settings.json").read_text())
    assert saved == {"theme": "textual-light"}
    asyncio.run(second())


def test_a_keymap_file_remaps_a_key_and_a_bad_line_is_one_toast():
    config_dir().mkdir(parents=True)
    (config_dir() / "keymap.toml").write_text('export = "ctrl+e"\nno_such_thing = "x"\n')

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await _ready(app, pilot)
            assert any("no_such_thing" in t and "keymap.toml" in t for t in _toasts(app))
            await pilot.press("e")  # the old key no longer exports
            await pilot.pause()
            assert not isinstance(app.screen, ExportScreen)
            await pilot.press("ctrl+e")
            await pilot.pause()
            assert isinstance(app.screen, ExportScreen)
            from tui.actions import help_rows

            rows = help_rows(app._keymap)  # what the help screen lists
            assert ("anywhere", "ctrl+e", "Export the prior to a .pt artifact") in rows
    asyncio.run(body())


@pytest.mark.parametrize("content", ["{not json", '["a list"]', '{"theme": "no-such-theme"}'])
def test_broken_settings_never_stop_the_app(content):
    config_dir().mkdir(parents=True)
    (config_dir() / "settings.json").write_text(content)

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await _ready(app, pilot)
            assert app.theme == "textual-dark"
            if content != '["a list"]':
                assert any("settings.json" in t or "no-such-theme" in t for t in _toasts(app))
    asyncio.run(body())


def test_i_saves_the_prior_image_next_to_the_session():
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await _ready(app, pilot)
            await pilot.press("3", "i")
            await app.workers.wait_for_complete()
            await pilot.pause()
            path = app.image_path()
            assert path.parent == app.studio.session_path.parent
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert any(str(path.resolve()) in t for t in _toasts(app))
    asyncio.run(body())


@pytest.mark.parametrize("terminal", ["16 colours", "TERM=dumb", "NO_COLOR"])
def test_poor_terminals_get_a_glyph_heatmap(monkeypatch, terminal):
    monkeypatch.delenv("COLORTERM", raising=False)
    if terminal == "16 colours":
        monkeypatch.setenv("TERM", "xterm")
    elif terminal == "TERM=dumb":
        monkeypatch.setenv("TERM", "dumb")
    else:
        monkeypatch.setenv("NO_COLOR", "1")

    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await _ready(app, pilot)
            await pilot.press("3", "l")
            await pilot.pause()
            heatmap = app.query_one(Heatmap)
            assert heatmap.rows_per_line == 1
            drawn = [heatmap.render_line(y) for y in range(heatmap.size.height)]
            text = "".join(seg.text for strip in drawn for seg in strip)
            assert "▀" not in text
            assert set(text) & set(POS_GLYPHS.strip())  # the demo prior is positive: + * #
            tinted = {str(seg.style.color.name) for strip in drawn for seg in strip
                      if seg.style is not None and seg.style.color is not None}
            if terminal == "16 colours":
                assert tinted & {"red", "bright_red"}
            else:
                assert not tinted
            legend = app.query_one("#legend").render_line(0).text
            assert NEG_GLYPHS.strip()[0] in legend and POS_GLYPHS.strip()[-1] in legend
    asyncio.run(body())


def test_term_dumb_turns_colour_off_unless_the_user_chose():
    from tui.__main__ import dumb_terminal_defaults

    env = {"TERM": "dumb"}
    dumb_terminal_defaults(env)
    assert env == {"TERM": "dumb", "NO_COLOR": "1", "TEXTUAL_COLOR_SYSTEM": "standard"}
    env = {"TERM": "dumb", "TEXTUAL_COLOR_SYSTEM": "256"}
    dumb_terminal_defaults(env)
    assert env["TEXTUAL_COLOR_SYSTEM"] == "256"
    env = {"TERM": "xterm-256color"}
    dumb_terminal_defaults(env)
    assert env == {"TERM": "xterm-256color"}
