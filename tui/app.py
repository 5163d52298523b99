"""RAP Studio: the Textual app. It holds no model logic: every domain call goes to `rap_core`,
through the Studio facade and the opener (`rap_core.opening`), which `rap` uses too.

Flow: a thread worker opens the data (`opening.prepare`, `load_data`); a bundled
or cached fit opens at once, otherwise a provisional preview shows while cutlass fits in the same
worker (`opening.open_fitted`; tui/fitting.py: progress in the status line, `escape` cancels,
`ctrl+r` refits after a cancel or a failure). The fitted Studio then replaces the preview and
replays the session file, if any ("restored N edits from …").

Edits: widgets post `tui.messages` (EditRequested, ValueRequested) and never call the app; the
app applies the edit to the Studio, which returns a `rap_core.change.Change` naming the votes,
the prior rows/columns and whether the scale moved; the panes repaint only that (once per burst
of keys, tui.coalesce). The Studio autosaves each edit (docs/ARCHITECTURE.md).

The session is locked for this instance (rap_core.session_lock): a second instance on the same
data forks it or opens read-only, and says which; a session that cannot be
written is announced at start, and the status line always shows what the file holds (also at 80
columns), and quitting with unsaved edits asks first. SIGHUP/SIGTERM/SIGINT (an SSH drop, a kill)
end the process within 2 s after a bounded flush: tui.exit_guard, installed by `rap-studio`.

Layout: one status line, tabs, panes, footer. At 140 columns or more the prior sits beside the
ranges/rules pane; below that, each pane is a tab.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
from pathlib import Path

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical

from rap_core.errors import RapError
from tui.actions import ACTIONS, RULE_ACTIONS, Action, bindings
from tui.export_flow import ExportFlow
from tui.fitting import FitFlow, unexpected
from tui.history_flow import HistoryFlow
from tui.look_and_feel import LookAndFeel
from tui.messages import EditRequested, ValueRequested
from tui.panes import Panes
from tui.paths import short_path
from tui.widgets.footer import Footer
from tui.widgets.rules_pane import CURVE_K, RulesPane
from tui.widgets.tab_bar import TabBar
from tui.widgets.text_lines import TextLines
from tui.widgets.vote_table import VoteTable

WIDE = 140
TABS = ("ranges", "rules", "prior", "evaluate")
# Start-up holds back the cyclic collector (`rap-studio` pauses it) and the footer's keys; both
# resume once the first rule (or an error) is on screen, or after this many seconds of a slow
# load at the latest (RapStudioApp._start_up_done).
START_UP_GC_S = 3.0
DATA_HINT = ("Give a CSV/TSV/Parquet file with numeric feature columns and a 0/1 target column: "
             "rap-studio DATA --target COLUMN. With no DATA, rap-studio opens the bundled demo.")


class RapStudioApp(LookAndFeel, FitFlow, HistoryFlow, ExportFlow, App):
    CSS_PATH = "app.tcss"
    TITLE = "RAP Studio"
    AUTO_FOCUS = "#votes"  # the rules table: the first thing a user edits
    BINDINGS = bindings(ACTIONS)

    def notify(self, message: str, *, markup: bool = False, **kwargs) -> None:
        """Toasts are plain text: they carry file paths, feature names and error lines that are
        user data ("weight[kg]", "x[/]"), which Textual would otherwise read as markup."""
        super().notify(message, markup=markup, **kwargs)

    def __init__(self, data: str | os.PathLike | None = None, *, target: str = "INDC",
                 session: str | os.PathLike | None = None, params=None, fit_fn=None,
                 deterministic: bool | None = None, opened=None) -> None:
        """`opened`: the data already open (rap_core.opening.Opened, from build_app), shown in
        the first frame; otherwise a load worker opens it after the first frame."""
        super().__init__()
        self.data_path = data
        self.target = target
        self.session_arg = Path(session) if session is not None else None
        self.params = params if opened is None else opened.params
        self.fit_fn = fit_fn
        self._opened = opened
        if deterministic is None:
            deterministic = bool(os.environ.get("RAP_STUDIO_DETERMINISTIC"))
        self.deterministic = deterministic
        self.studio = None
        self.dataset = None
        self.state = "loading"  # loading | fitting | provisional | ready | error
        self.fit_status = ""
        self.restored = 0
        self.export_path = "rap_prior.pt"
        self._cancel = threading.Event()
        self.fit_phase = ""
        self._fit_started: float | None = None
        self._fit_estimate: float | None = None
        self._left = "rules"
        self.active_tab = "rules"
        self.session_access = None  # rap_core.session_lock.SessionAccess, once the data is known
        self._edited = False  # an edit since opening (what read-only mode cannot save)
        self._quit_asked = False
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._shown_save = None  # the save state the status line shows
        self._told_failure = None  # the write failure the user was last told about
        self._panes = Panes(lambda: self.query_one("#panes"), self._load_pane)

    # -- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="main"):
            yield TextLines("RAP Studio · loading…", id="status")
            yield TabBar(("ranges", "1 Ranges"), ("rules", "2 Rules"), ("prior", "3 Prior"),
                         ("evaluate", "4 Evaluate"), active="rules", id="tabs")
            with Horizontal(id="panes"):
                # The other panes are mounted when first shown (tui.panes): start-up time.
                yield self._panes.first("rules")
        yield Footer(held=True)  # its keys appear with the first rule (_start_up_done)

    async def on_mount(self) -> None:
        await self._arrange()
        self._event_loop = asyncio.get_running_loop()
        self.set_interval(0.3, self._watch_save_state)  # the writer thread saves in background
        self._ticker = self.set_interval(0.5, self._tick, pause=True)
        self.set_timer(START_UP_GC_S, self._start_up_done)  # a slow load: not held longer
        if self._opened is not None:  # the first frame shows the rule
            self._show_opened()
        else:
            # The loader starts now, not after the first frame: its file reads and numpy work
            # overlap the shell's first paint (pandas is no longer imported: the parsed demo
            # and the parsed-data cache, issue 13).
            self._load()

    async def on_resize(self, event: events.Resize) -> None:
        # The event's size: the app's own is still the old one while this runs, so widening
        # from 80 to 160 columns kept the tabs layout (and the short status line) until the
        # next resize.
        await self._arrange(event.size.width)  # side by side at WIDE columns and more

    async def _arrange(self, width: int | None = None) -> None:
        width = self.size.width if width is None else width
        wide = width >= WIDE
        shown = {"prior", self._left} if wide else {self.active_tab}
        await self._panes.ensure(*(name for name in TABS if name in shown))
        self.query_one("#main").set_class(wide, "-wide")
        for name in TABS:
            pane = self._panes.get(name)
            if pane is not None:
                pane.display = name in shown
        self._status(width)  # the status line fits its width anew

    async def on_tab_bar_activated(self, event: TabBar.Activated) -> None:
        await self.action_show_tab(event.tab_id)  # a click on a label

    async def _activate(self, tab_id: str) -> None:
        self.active_tab = tab_id
        if tab_id != "prior":
            self._left = tab_id
        await self._arrange()
        target = {"ranges": "RangesTable", "rules": "VoteTable", "prior": "Heatmap",
                  "evaluate": "EvaluatePane"}[tab_id]  # by name: their modules load lazily
        # Focus now (Widget.focus is deferred): keys typed right after `1`/`2`/`3` go there.
        self.screen.set_focus(self.query_one(target))

    async def action_focus_filter(self) -> None:
        await self.action_show_tab("ranges")
        self.screen.set_focus(self.query_one("#range-filter"))

    async def action_show_tab(self, name: str) -> None:
        self.query_one(TabBar).active = name
        await self._activate(name)  # now, not when the message arrives: the next key goes there

    # -- loading and fitting -----------------------------------------------------------------
    @work(thread=True, exclusive=True, group="load")
    def _load(self) -> None:
        from rap_core.opening import load_data, prepare

        try:
            # Before the data: a bad parameter costs a second, not a fit.
            params, backend_note = prepare(self.params, interactive=True)
            dataset = load_data(self.data_path, target=self.target, cv=params.cv)
            self.call_from_thread(self._dataset_loaded, dataset, backend_note)
        except RapError as exc:
            self.call_from_thread(self._show_error, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - the edge: one line, never a traceback
            self.call_from_thread(self._show_error, unexpected(exc))
            return
        self._fit_in_worker(dataset, params)

    def _show_opened(self) -> None:
        opened, self._opened = self._opened, None  # held no longer than needed
        self._dataset_loaded(opened.dataset)
        self._install(opened.studio, "ready", opened.studio.restored_edits)
        self._lock_opened(opened)

    def _dataset_loaded(self, dataset, backend_note: str | None = None) -> None:
        self.dataset = dataset
        for note in dataset.notes:
            self.notify(note, title="data", timeout=8)
        if backend_note:
            self.notify(backend_note, title="backend", timeout=8)
        self._status()

    def _session_notice(self, access) -> None:
        severity = "information" if access.mode == "write" else "warning"
        self.notify(access.notice, title="session", severity=severity, timeout=20)
        self._status()

    def _session_decided(self, studio, access) -> None:
        """The lock, taken after the first rule was drawn, says where `studio`'s edits go (edits
        made meanwhile are saved there now)."""
        self.session_access = access
        try:
            studio.autosave_to(access.path)
            if self.deterministic:  # snapshots: the settled save state, never "saving…"
                studio.flush(timeout=2.0)
        except RapError as exc:
            self.notify(str(exc), title="session", severity="error", timeout=20)
        if access.notice:
            self._session_notice(access)
        self._status()

    def _install(self, studio, state: str, restored: int = 0) -> None:
        self.studio = studio
        self.state = state
        self.refresh_bindings()
        for name in TABS:  # the panes not mounted yet load when they are (tui.panes)
            pane = self._panes.get(name)
            if pane is not None:
                self._load_pane(name, pane)
        if restored:
            self.restored = restored
            where = short_path(studio.session_source)
            edits = "edit" if restored == 1 else "edits"
            self.notify(f"restored {restored} {edits} from {where}", title="session", timeout=8)
        self._status()
        if self.focused is None:
            self.query_one(VoteTable).focus()
        rules = self._panes.get("rules")
        if rules is not None and not studio.has_j_curve(CURVE_K):
            # After the rule's frame, drawn when done: its ~20 ms of rule evaluations (the
            # demo) competed with that frame for the interpreter.
            self.call_after_refresh(self._compute_curve, studio)
        # The hidden panes mount in the background, after the frame that shows this rule and
        # once B is built.
        painted = asyncio.Event()
        self.call_after_refresh(painted.set)
        self.run_worker(self._panes.prefetch(self._prior_built(studio, painted)), group="panes")
        if state == "ready":
            # The dataset, counts and widgets live as long as the app: move them out of the
            # cyclic GC's reach, so a full collection during editing does not stall a keypress.
            gc.freeze()
        self._start_up_done()

    async def _prior_built(self, studio, painted: asyncio.Event) -> None:
        """After the rule's frame, build B (the Studio builds it when first read) on a thread:
        its counts are an n x P x P product (~0.1 s at 5,000 x 1,000), which the Prior pane's
        mount would otherwise run on the UI thread, where a key pressed just after the rule
        appeared waited for it (0.16-0.19 s). An edit meanwhile waits at most for the
        builder's last step (rap_core.studio orders the two). A plain thread, not a Textual
        worker: a quit cancels this coroutine (and the prefetch) quietly, where waiting on a
        cancelled worker raised out of the app; the build itself finishes on its own."""
        await painted.wait()
        await asyncio.to_thread(lambda: studio.prior)

    def _start_up_done(self) -> None:
        """The first rule (or an error) is on screen, or the load is slow: what start-up held
        back resumes. The collector `rap-studio` paused (tui.__main__) runs again, and the
        footer shows its keys after this frame."""
        gc.enable()
        self.call_after_refresh(self.query_one(Footer).release)

    @work(thread=True, exclusive=True, group="curve")
    def _compute_curve(self, studio) -> None:
        """The held-out J curve (one rule evaluation per bar; read-only on the Studio's data,
        so edits on the UI thread meanwhile are safe), then drawn if `studio` is still shown."""
        studio.j_curve(length=CURVE_K)
        self.call_from_thread(self._draw_curve, studio)

    def _draw_curve(self, studio) -> None:
        rules = self._panes.get("rules")
        if studio is self.studio and rules is not None:
            rules.show_curve(studio)

    def _load_pane(self, name: str, pane) -> None:
        """Hand a pane the current Studio (at install, or when it is mounted later)."""
        if name == "ranges" and self.deterministic:  # snapshots: no blinking cursor
            pane.query_one("#range-filter").cursor_blink = False
        studio = self.studio
        if studio is None:
            return
        if name == "evaluate":
            pane.load(studio if self.state == "ready" else None, studio.dataset.path,
                      studio.dataset.target)
        else:
            pane.load(studio)

    def _show_error(self, message: str) -> None:
        self.state = "error"
        self._start_up_done()
        from tui.screens.modals import ErrorScreen

        self.push_screen(ErrorScreen(message, DATA_HINT))

    # -- editing ----------------------------------------------------------------------------
    def _editable(self) -> bool:
        if self.studio is None or self.state != "ready":
            self.notify("edits open when the fit has finished", severity="warning")
            return False
        return True

    def on_edit_requested(self, message: EditRequested) -> None:
        """Resolve the widget's intent against the rule as it is now, then apply it."""
        if not self._editable():
            return
        try:
            edit = message.build(self.studio.rule)
        except RapError as exc:
            self.notify(str(exc), severity="error")
            return
        if edit is not None:
            self._apply(edit)

    def _apply(self, edit) -> None:
        if not self._editable():
            return
        try:
            change = self.studio.apply(edit)
        except RapError as exc:
            self.notify(str(exc), severity="error")
            return
        self._changed(change)

    def _changed(self, change) -> None:
        """Every edit is applied already; the views catch up once per burst (tui.coalesce)."""
        if getattr(self, "_coalescer", None) is None:
            from tui.coalesce import Coalescer

            self._coalescer = Coalescer(self.call_later, self._show_change)
        self._coalescer.add(change)

    def _show_change(self, change) -> None:
        """Hand the Change down: each pane repaints what it names, nothing else."""
        if change is None or self.studio is None:
            return
        self._edited = True
        prior = self._panes.get("prior")
        if change.prior_changed and prior is not None:
            prior.changed(change)
        if change.rule_changed:
            self.query_one(RulesPane).update_rule(self.studio, change)
            self._refresh_history()  # keys typed before `h` may land after it opened
        if self.deterministic:  # snapshots: show the settled save state, never "saving…"
            with contextlib.suppress(RapError):
                self.studio.flush(timeout=2.0)
        self._status()

    def action_undo(self) -> None:
        if self._editable():
            if not self.studio.can_undo:
                self.notify("nothing to undo")
                return
            self._changed(self.studio.undo())

    def action_redo(self) -> None:
        if self._editable():
            if not self.studio.can_redo:
                self.notify("nothing to redo")
                return
            self._changed(self.studio.redo())

    def on_value_requested(self, message: ValueRequested) -> None:
        """Ask for the number; the dialog checks it (and stays open until it is valid), a
        clamped value is announced, then the edit is applied."""
        from functools import partial

        from rap_core.edits import Edit, parse_value

        def done(answer: tuple[float, str | None] | None) -> None:
            if answer is None:
                return
            value, note = answer
            if note:
                self.notify(note, severity="warning")
            self._apply(Edit(message.kind, message.feature, value))

        if self._editable():
            check = partial(parse_value, message.kind)
            from tui.screens.modals import ValueScreen

            self.push_screen(ValueScreen(message.prompt, message.current, check), done)

    def action_toggle_layout(self) -> None:
        if self.studio is None:
            return
        if "lags" not in self.studio.layouts():
            self.notify("layout stays 'features': no feature name ends in a lag number "
                        "(like V3_t7), so there is no lags layout", severity="warning")
            return
        change = self.studio.set_layout("lags" if self.studio.layout == "features"
                                        else "features")
        prior = self._panes.get("prior")
        if prior is not None:
            prior.changed(change)
        self._status()

    # -- status -----------------------------------------------------------------------------
    def _status(self, width: int | None = None) -> None:
        """Rewrite the status line for the current width (tui.status_line: the save state is
        never cut; the data's description shortens first)."""
        from tui.status_line import status_text

        # While a fit runs its progress needs the room (80 columns): the data is named again
        # once it is done.
        fitting = self.state in ("fitting", "provisional") and self.size.width < 120
        d = self.dataset if not fitting else None
        fit, fit_style = None, ""
        right = Text()
        studio = self.studio
        if self.state == "fitting" or (self.state in ("provisional", "loading")
                                       and self.fit_status):
            fit, fit_style = self._fit_status_text(), "yellow"
        elif self.state == "loading":  # a big table takes seconds: say what is happening
            fit, fit_style = "loading…", "dim"
        elif studio is not None and studio.fit is not None:
            n = len(studio.edits)
            k = len(studio.fitted_rule.votes())  # the votes shown, whatever the polish chose
            fit = f"fit k={k}" if studio.fit.adopted else f"fit L1 k={k}"
            if n:
                right.append(f" · ● {n} edit{'s' if n != 1 else ''}", style="bold yellow")
            else:
                right.append(" · as fitted", style="green")
            label = self._save_label(n)
            if label is not None:
                right.append(" · " + label.plain, style=label.style)
        elif self.session_access is not None and not self.session_access.writable:
            right.append(" · read-only", style="bold red")
        status = self.query_one("#status", TextLines)
        # The line spans the screen, padding 1 each side (app.tcss); `width`: the screen's
        # new width during a resize, before the widgets have it.
        width = max(0, (self.size.width if width is None else width) - 2)
        status.update(status_text(
            name=None if d is None else d.name, rows=0 if d is None else d.n_rows,
            features=0 if d is None else d.n_features, fit=fit, fit_style=fit_style,
            right=right, width=width))

    def _save_label(self, n_edits: int) -> Text | None:
        """What the session file holds, in a few words (None when there is nothing to say)."""
        if self.session_access is None:
            return None  # the lock is being taken (tui.fitting): nothing is known yet
        state, _failure = self.studio.save_state
        self._shown_save = state
        if state == "unsaved":
            text = "✗ not saved (read-only)" if self._edited else "read-only"
            return Text(text, style="bold red")
        if state == "failed":
            return Text("✗ not saved (write failed)", style="bold red")
        if not n_edits and not self._edited:
            return None
        if state == "saving":
            return Text("saving…", style="dim")
        return Text("saved", style="dim")

    def _watch_save_state(self) -> None:
        studio = self.studio
        if studio is None or studio.fit is None:
            return
        state, failure = studio.save_state
        if failure != self._told_failure:
            self._told_failure = failure
            if failure is not None:
                self.notify(f"{failure}; edits stay in this window only", title="session",
                            severity="error", timeout=15)
        if state != self._shown_save:
            self._status()

    # -- help, palette, quitting ------------------------------------------------------------
    def action_help(self) -> None:
        from tui.screens.modals import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for action in (*ACTIONS, *RULE_ACTIONS):
            if action.name in seen or action.name == "quit":
                continue
            seen.add(action.name)
            yield SystemCommand(action.title, action.help, self._palette_callback(action))

    def _palette_callback(self, action: Action):
        async def run() -> None:
            if action.scope == "rules":  # the table whose key it is runs it, in view
                await self.action_show_tab("rules")
                await self.query_one(VoteTable).run_action(action.name)
            else:
                await self.run_action(action.name)
        return run

    def flush(self) -> None:
        """Save the session now (Studio already autosaves each edit; this is belt and braces)."""
        studio = self.studio
        if studio is not None and studio.fit is not None:
            with contextlib.suppress(RapError, OSError):
                studio.flush()

    def unsaved(self) -> str | None:
        """Why edits made in this window are not on disk (None when they are)."""
        studio = self.studio
        if studio is None or studio.fit is None or not self._edited:
            return None
        if studio.session_path is None:
            where = self.session_access.notice if self.session_access is not None else None
            return f"your edits are not saved ({where or 'no session file'})."
        try:
            studio.flush(timeout=1.0)
        except RapError as exc:
            return f"your last edits are not saved ({exc})."
        state, failure = studio.save_state
        if state == "failed":  # reported before, and still true
            return f"your last edits are not saved ({failure})."
        return None

    async def action_quit(self) -> None:
        reason = None if self._quit_asked else self.unsaved()
        if reason is not None:
            self._quit_asked = True  # ctrl+q again, or y, quits

            def answered(yes: bool | None) -> None:
                self._quit_asked = False
                if yes:
                    self._quit()

            from tui.screens.modals import ConfirmScreen

            self.push_screen(ConfirmScreen(f"{reason} Quit anyway?"), answered)
            return
        self._quit()

    def _quit(self) -> None:
        self._cancel.set()  # a fit still running stops now, instead of holding the exit
        self.flush()
        self.exit()

    # -- signals (tui.exit_guard calls these from its own thread) ----------------------------
    def flush_for_exit(self, timeout: float) -> str | None:
        """Cancel a fit and flush the session within `timeout`; what could not be written."""
        self._cancel.set()
        studio = self.studio
        if studio is None or studio.fit is None:
            return None
        if studio.session_path is None:
            if self._edited and self.session_access is not None:
                return (f"edits were not saved: session {short_path(self.session_access.source)} "
                        f"was open read-only")
            if self._edited:
                return "edits were not saved: the session file was still being opened"
            return None
        try:
            studio.flush(timeout)
        except RapError as exc:
            return str(exc)
        failure = studio.save_state[1]  # a write that failed earlier and was never redone
        lock = self.session_access.lock if self.session_access is not None else None
        if failure is None and lock is not None:
            # Everything is on disk: the next launch must not report a lock "taken over from a
            # process that ended without releasing it" after every dropped connection.
            lock.clear_owner()
        return failure

    def request_exit(self, return_code: int) -> None:
        """Ask the event loop to exit (from any thread; never waits for the loop)."""
        loop = self._event_loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.exit, None, return_code)

    def _on_signal(self, sig: int) -> None:
        """In-loop version for tests: what the guard does, minus ending the process."""
        self.flush_for_exit(1.0)
        self.exit(return_code=128 + int(sig))

    def on_unmount(self) -> None:
        # However the app ends, a fit still running in the load worker stops: the worker thread
        # would otherwise hold the interpreter's exit (asyncio waits for its executor threads).
        self._cancel.set()
        access = self.session_access
        if access is not None:
            with contextlib.suppress(RapError, OSError):
                if self.studio is not None and self.studio.session_path is not None:
                    self.studio.flush(timeout=1.0)
            access.release()

