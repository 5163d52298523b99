"""The TUI never claims a save it did not make: a session that cannot be written is announced at
start (and where), the status line shows what the file holds at every width, a second instance
says it forked, and quitting with unsaved edits asks first."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from rap_core.errors import RapError
from rap_core.session_lock import SessionLock
from tui.app import RapStudioApp
from tui.screens.modals import ConfirmScreen

UNWRITABLE = Path("/sys/rap-studio-test/session.json")  # not writable, even by root
NARROW = (80, 24)


def run(coro):
    return asyncio.run(coro)


async def ready(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


def status(app):
    """The status line as drawn: its text, and whether it fits the line."""
    widget = app.query_one("#status")
    text = widget.text  # all of it: a line too wide would be drawn cut, ending in "…"
    return text.plain, text.cell_len <= widget.content_size.width


def messages(app) -> list[str]:
    return [n.message for n in app._notifications]


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs /sys (Linux)")
def test_unwritable_session_is_announced_shown_and_quitting_asks():
    async def body():
        app = RapStudioApp(session=UNWRITABLE, deterministic=True)
        async with app.run_test(size=NARROW) as pilot:
            await ready(app, pilot)
            notes = [m for m in messages(app) if m.startswith("edits cannot be saved")]
            assert notes and "/sys/rap-studio-test" in notes[0], messages(app)
            plain, fits = status(app)
            assert plain.endswith("as fitted · read-only") and fits, plain
            await pilot.press("plus")
            plain, fits = status(app)
            assert plain.endswith("● 1 edit · ✗ not saved (read-only)") and fits, plain
            await pilot.press("ctrl+q")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")
            assert not isinstance(app.screen, ConfirmScreen) and app.is_running
            await pilot.press("ctrl+q")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await pilot.pause()
        assert app.return_code == 0
        assert not UNWRITABLE.exists()

    run(body())


def test_saved_shows_at_80_columns_and_quitting_does_not_ask(tmp_path):
    session = tmp_path / "s.json"

    async def body():
        app = RapStudioApp(session=session, deterministic=True)
        async with app.run_test(size=NARROW) as pilot:
            await ready(app, pilot)
            await pilot.press("plus", "plus", "f")
            app.studio.flush()
            app._watch_save_state()
            plain, fits = status(app)
            assert plain.endswith("● 3 edits · saved") and fits, plain
            await pilot.press("ctrl+q")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
        assert len(json.loads(session.read_text())["edits"]) == 3

    run(body())


def test_a_second_instance_forks_and_says_where(tmp_path):
    session = tmp_path / "s.json"
    other = SessionLock(session).acquire()  # the first instance, still open

    async def body():
        app = RapStudioApp(session=session, deterministic=True)
        async with app.run_test(size=NARROW) as pilot:
            await ready(app, pilot)
            fork = app.studio.session_path
            assert fork is not None and fork != session
            notes = [m for m in messages(app) if "is open in pid" in m]
            assert notes and str(fork) in notes[0], messages(app)
            await pilot.press("plus")
            app.studio.flush()
        return fork

    try:
        fork = run(body())
    finally:
        other.release()
    assert len(json.loads(fork.read_text())["edits"]) == 1
    assert not session.exists()  # the first instance's session is untouched


def test_a_failed_write_shows_in_the_status_line(tmp_path, monkeypatch):
    import rap_core.session as session_module

    def full_disk(path, session):
        raise RapError(f"cannot save session {path}: No space left on device")

    monkeypatch.setattr(session_module, "save_session", full_disk)

    async def body():
        app = RapStudioApp(session=tmp_path / "s.json", deterministic=True)
        async with app.run_test(size=NARROW) as pilot:
            await ready(app, pilot)
            await pilot.press("plus")
            app._watch_save_state()  # what its 0.3 s timer does
            await pilot.pause()
            plain, fits = status(app)
            assert plain.endswith("✗ not saved (write failed)") and fits, plain
            assert any("No space left" in m for m in messages(app)), messages(app)
            await pilot.press("plus")  # the next edit is not refused
            assert len(app.studio.edits) == 2
            await pilot.press("ctrl+q")
            assert isinstance(app.screen, ConfirmScreen)

    run(body())


def test_the_status_line_is_worded_anew_when_the_terminal_widens():
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(app, pilot)
            await pilot.press("plus")
            await ready(app, pilot)
            narrow, fits = status(app)
            assert "3000×80" in narrow and fits, narrow
            await pilot.resize_terminal(120, 30)
            for _ in range(3):
                await pilot.pause()
            wide, fits = status(app)
            assert "3000 rows · 80 features" in wide and fits, wide

    asyncio.run(body())


def test_widening_the_terminal_puts_the_prior_beside_the_rules():
    # The resize handler read the app's size, still the old one: 80 -> 160 columns kept tabs.
    async def body():
        app = RapStudioApp(deterministic=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(app, pilot)
            await pilot.resize_terminal(160, 40)
            await ready(app, pilot)
            assert app.query_one("#main").has_class("-wide")
            assert app.query_one("PriorPane").display and app.query_one("RulesPane").display
            await pilot.resize_terminal(100, 30)
            await ready(app, pilot)
            assert not app.query_one("#main").has_class("-wide")
            assert not app.query_one("PriorPane").display

    asyncio.run(body())


# -- the lock is taken after the first rule is on screen (tui.fitting._take_session) ----------


@pytest.fixture
def held_lock(monkeypatch):
    """lock_session waits for the test: (release event, `before` hook run just before it locks)."""
    import threading

    from rap_core import opening

    release = threading.Event()
    before: list = []
    lock = opening.lock_session

    def slow_lock(dataset, session):
        release.wait(10)
        for hook in before:
            hook()
        return lock(dataset, session)

    monkeypatch.setattr(opening, "lock_session", slow_lock)
    return release, before


def _saved_edits(path) -> int:
    return len(json.loads(Path(path).read_text())["edits"])


def another_instance_saves(session) -> None:
    """What a second RAP Studio on the demo does: one edit, saved to `session`."""
    from rap_core.edits import nudge
    from rap_core.opening import load_data, open_fitted, prepare

    params, _ = prepare(None)
    other = open_fitted(load_data(None, target="INDC", cv=3), params, session=session)
    other.apply(nudge(other.rule, other.rule.votes()[0][1], 0.5))
    other.flush()


def in_background(session):
    """The app opens the demo in its load worker, behind a "loading" screen."""
    return RapStudioApp(session=session, deterministic=True)


def at_once(session):
    """As `rap-studio --session FILE` does: opened before the app runs (open_cached)."""
    from tui.__main__ import build_app

    return build_app(["--session", str(session)], deterministic=True)


# Both ways of opening replay the session first and lock it once the rule is on screen.
OPENINGS = pytest.mark.parametrize("make_app", [in_background, at_once])


async def rule_drawn(app, pilot) -> None:
    """Until the first rule is on screen (bounded): the lock is still held back then."""
    for _ in range(200):
        await pilot.pause()
        if app.state == "ready":
            return


@OPENINGS
def test_the_rule_shows_before_the_lock_and_an_edit_made_meanwhile_is_saved(tmp_path, held_lock,
                                                                           make_app):
    release, _ = held_lock
    session = tmp_path / "s.json"

    async def body():
        app = make_app(session)
        async with app.run_test(size=NARROW) as pilot:
            await rule_drawn(app, pilot)  # drawn while the lock waits
            assert app.state == "ready" and app.session_access is None
            await pilot.press("plus")
            await pilot.pause()
            line, _ = status(app)
            assert "read-only" not in line and "not saved" not in line, line
            release.set()
            await ready(app, pilot)
            assert app.studio.session_path == session
            app.studio.flush()
            assert _saved_edits(session) == 1  # the edit made before the lock is on disk
            assert "saved" in status(app)[0]

    run(body())


@OPENINGS
def test_a_session_saved_by_another_instance_before_the_lock_is_reopened_not_overwritten(
        tmp_path, held_lock, make_app):
    """Replay first, lock second: a RAP Studio that saved the file in between and quit must not
    lose its last edit to this one's next autosave."""
    release, before = held_lock
    session = tmp_path / "s.json"

    before.append(lambda: another_instance_saves(session))  # between the replay and the lock

    async def body():
        app = make_app(session)
        async with app.run_test(size=NARROW) as pilot:
            release.set()
            await ready(app, pilot)
            assert len(app.studio.edits) == 1  # the other instance's edit, reopened
            assert any("reopened with its edits" in m for m in messages(app)), messages(app)
            await pilot.press("plus")
            await pilot.pause()
            app.studio.flush()

    run(body())
    assert _saved_edits(session) == 2  # theirs, then ours


@OPENINGS
def test_edits_made_here_while_another_instance_saved_go_to_a_copy(tmp_path, held_lock, make_app):
    release, before = held_lock
    session = tmp_path / "s.json"

    before.append(lambda: another_instance_saves(session))

    async def body():
        app = make_app(session)
        async with app.run_test(size=NARROW) as pilot:
            await rule_drawn(app, pilot)
            await pilot.press("plus", "plus")  # made here before the lock is decided
            await pilot.pause()
            release.set()
            await ready(app, pilot)
            fork = app.studio.session_path
            assert fork is not None and fork != session
            app.studio.flush()
            return fork

    fork = run(body())
    assert _saved_edits(session) == 1  # the other instance's file, as it left it
    assert _saved_edits(fork) == 2  # ours, in the copy
