"""The fit's life in RAP Studio: progress while cutlass runs, cancel, failure, and refit.

A mixin of `RapStudioApp` (tui/app.py), which loads the data and calls `_fit_in_worker` from its
load worker. States: `fitting` (a provisional preview on screen, the status line ticking),
then `ready`, or `provisional` after a cancel or a failed fit, where `ctrl+r` (or Refit… in the
palette) opens `FitOptionsScreen` and fits again with the chosen options.

Design choices:
- The status line is written for 80 columns: `fitting 12 s of ~40 s · cross-validation · esc
  cancels`. The clock is the app's own (a 0.5 s interval timer), because cutlass's CPU backend
  is silent for the whole cross-validation; the estimate and the phase words come from
  `rap_core.fit_speed`. Deterministic (snapshot) runs show no clock.
- `check_action` shows `escape` in the footer only while a fit runs and the refit key only after
  one stopped (both listed first in tui/actions.py, so 80 columns still show them).
- A fit that fails after the data loaded leaves the preview and says why in a toast; only a
  failure before anything is on screen opens the error screen.
"""

from __future__ import annotations

import threading
import time

from textual import work

from rap_core.errors import FitCancelled, RapError
from tui.panes import warm


def unexpected(exc: Exception) -> str:
    """A bug's one line for the user (never a traceback)."""
    return " ".join(f"unexpected error: {type(exc).__name__}: {exc}".split())


class FitFlow:
    """Fit progress, cancel and refit for RapStudioApp (expects its widgets and `_install`)."""

    @work(thread=True, exclusive=True, group="load")
    def _refit(self, params) -> None:
        from rap_core.opening import prepare

        try:
            params, note = prepare(params)
        except RapError as exc:
            self.call_from_thread(self._fit_failed, str(exc))
            return
        if note:
            self.call_from_thread(self.notify, note, title="backend", timeout=8)
        self._fit_in_worker(self.dataset, params)

    def _fit_in_worker(self, dataset, params) -> None:
        """Bundled/cached fit at once; else a provisional preview while cutlass fits (in this
        worker thread), all through `rap_core.opening.open_fitted`. A cancel or a failed fit
        leaves the preview and offers a refit."""
        from rap_core.opening import open_fitted, session_file, session_stamp

        def provisional(fitting) -> None:
            self.call_from_thread(self._fitting, fitting.preview, params, fitting.estimate_s,
                                  fitting.warning)

        try:
            access = self.session_access  # None until the first fitted rule is on screen
            if access is None:  # replayed now, saved where the lock says once it is taken
                session, autosave = session_file(dataset, self.session_arg), None
                seen = session_stamp(session)
            else:  # a refit: the lock was taken for the first one
                session, autosave = access.source, access.path
            studio = open_fitted(dataset, params, session=session, autosave=autosave,
                                 advice="tui", on_provisional=provisional,
                                 progress=self._progress_from_thread, cancel=self._cancel.is_set,
                                 fit_fn=self.fit_fn)
            warm(studio)  # here, not on the UI thread: what the first screen shows
            self.call_from_thread(self._install, studio, "ready", studio.restored_edits)
            if access is None:
                self._take_session_after_frame(dataset, params, studio, seen)
        except FitCancelled:
            self.call_from_thread(self._fit_cancelled)
        except RapError as exc:
            self.call_from_thread(self._fit_failed, str(exc))
        except Exception as exc:  # noqa: BLE001 - the edge: one line, never a traceback
            self.call_from_thread(self._fit_failed, unexpected(exc))

    @work(thread=True, exclusive=True, group="load")
    def _lock_opened(self, opened) -> None:
        """The session lock for a Studio opened before the app ran (rap_core.opening.open_cached),
        taken as the load worker takes it: once the rule is on screen."""
        try:
            self._take_session_after_frame(opened.dataset, opened.params, opened.studio,
                                           opened.seen)
        except RapError as exc:
            self.call_from_thread(self._fit_failed, str(exc))
        except Exception as exc:  # noqa: BLE001 - the edge: one line, never a traceback
            self.call_from_thread(self._fit_failed, unexpected(exc))

    def _take_session_after_frame(self, dataset, params, studio, seen) -> None:
        """In a worker: after the rule's frame, since taking the lock at once competed with that
        frame for the interpreter (it only moved the cost). Bounded: a lock is never left out."""
        painted = threading.Event()
        self.call_from_thread(self.call_after_refresh, painted.set)
        painted.wait(1.0)
        self._take_session(dataset, params, studio, seen)

    def _take_session(self, dataset, params, studio, seen) -> None:
        """Lock the session, after the rule is on screen: filelock's import and the lock were
        ~12 ms of a ~330 ms start (issue 13). The replay came first, so the lock checks that
        nobody saved the file in between (a second RAP Studio that then quit). If someone did,
        the session is opened again with their edits (`_session_changed`); nothing anyone
        saved is written over."""
        from rap_core.opening import lock_session, open_fitted, session_stamp

        access = lock_session(dataset, self.session_arg)
        if access.mode == "write" and session_stamp(access.source) != seen:
            fresh = open_fitted(dataset, params, session=access.source, autosave=access.path,
                                advice="tui", fit_fn=self.fit_fn)
            warm(fresh)
            self.call_from_thread(self._session_changed, studio, fresh, access)
            return
        self.call_from_thread(self._session_decided, studio, access)

    def _session_changed(self, studio, fresh, access) -> None:
        """On the UI thread, so no edit slips in between the check and the swap: show `fresh`
        (the session as the other instance left it), or, if edits were made here meanwhile,
        send them to a copy and leave the file as the other instance saved it."""
        from rap_core.opening import fork_session

        why = (f"{access.source.name} was saved by another RAP Studio while this one "
               f"opened it")
        if self._edited or self.studio is not studio:
            access.release()
            self._session_decided(studio, fork_session(access.source, why))
            return
        self.session_access = access
        self._install(fresh, "ready", fresh.restored_edits)
        self.notify(f"{why}: reopened with its edits", title="session", timeout=20)

    def _fitting(self, provisional, params, estimate: float, warning: str | None) -> None:
        self.params = params
        self.fit_phase = "starting"
        self._fit_started = time.monotonic()
        self._fit_estimate = estimate
        self._install(provisional, "fitting")
        if warning:
            self.notify(warning, title="slow fit", severity="warning", timeout=15)
        if not self.deterministic:  # snapshots: no clock on screen
            self._ticker.resume()

    def _progress_from_thread(self, event) -> None:
        self.call_from_thread(self._progress, event)

    def _progress(self, event) -> None:
        from rap_core.fit_speed import progress_text

        self.fit_phase = progress_text(event)
        self._status()

    def _tick(self) -> None:
        if self.state == "fitting":
            self._status()
        else:
            self._ticker.pause()

    def _fit_status_text(self) -> str:
        """`fitting 12 s of ~40 s · cross-validation · esc cancels` (≤ 80 columns)."""
        from rap_core.fit_speed import format_seconds

        if self.state != "fitting":
            return self.fit_status
        clock = ""
        if not self.deterministic and self._fit_started is not None:
            elapsed = time.monotonic() - self._fit_started
            estimate = self._fit_estimate or 0.0
            clock = (f" {format_seconds(elapsed)} of ~{format_seconds(estimate)}"
                     if elapsed <= estimate else
                     f" {format_seconds(elapsed)} (estimated ~{format_seconds(estimate)})")
        return f"fitting{clock} · {self.fit_phase} · esc cancels"

    def _fit_cancelled(self) -> None:
        self.state = "provisional"
        self.refresh_bindings()
        self.fit_status = "fit cancelled · provisional preview · ctrl+r refits"
        self.notify("fit cancelled; nothing was saved. ctrl+r refits (with new options)",
                    severity="warning")
        self._status()

    def _fit_failed(self, message: str) -> None:
        if self.studio is None:  # nothing on screen yet: nothing to refit from
            self._show_error(message)
            return
        self.state = "provisional"
        self.refresh_bindings()
        self.fit_status = "fit failed · provisional preview · ctrl+r refits"
        self.notify(message, title="fit failed", severity="error", timeout=20)
        self._status()

    def action_cancel_fit(self) -> None:
        if self.state in ("loading", "fitting"):
            self._cancel.set()
            self.fit_phase = "cancelling"
            self.fit_status = "cancelling the fit…"
            self._status()

    def action_refit(self) -> None:
        """After a cancelled or failed fit: edit the fit options, then fit again."""
        from rap_core.fit import FitParams

        if self.state != "provisional" or self.dataset is None:
            reason = {"fitting": "a fit is running (escape cancels it)",
                      "loading": "the data is still loading"}.get(
                self.state, "the fit has finished")
            self.notify(f"refit is for a cancelled or failed fit; {reason}")
            return

        def chosen(params) -> None:
            if params is None:
                return
            self._cancel = threading.Event()
            self.state = "fitting"
            self.fit_phase = "starting"
            self._fit_started, self._fit_estimate = time.monotonic(), None
            self.refresh_bindings()
            self._status()
            self._refit(params)

        from tui.screens.modals import FitOptionsScreen

        self.push_screen(FitOptionsScreen(self.params or FitParams()), chosen)

    def check_action(self, action: str, parameters) -> bool | None:
        """Show (and enable) `escape` only while a fit runs, the refit key only after one
        stopped; every other action always."""
        if action == "cancel_fit":
            return self.state in ("loading", "fitting")
        if action == "refit":
            return self.state == "provisional"
        return True
